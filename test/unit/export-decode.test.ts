/**
 * Export line decoding: every DynamoDB type in both export formats, exactly (38-digit numbers, long decimals, binary,
 * sets, empty strings, nesting), and refusals of anything that would otherwise become a silently different item.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { AttributeMap } from '../../src/core/item.js';
import { decodeDdbJsonLine } from '../../src/formats/ddb-export/ddb-json-line.js';
import { LineDecodeError } from '../../src/formats/ddb-export/export-errors.js';
import { decimalText, decodeIonLine } from '../../src/formats/ddb-export/ion-line.js';
import { jsonTextPages, LineSplitter, recordToJsonLine, scanFile } from '../../src/formats/ddb-export/file-decoder.js';

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

/** The same item written by hand in both formats, as AWS writes them. */
const EXPECTED: AttributeMap = {
  id: { S: 'item-1' },
  big: { N: '12345678901234567890123456789012345678' },
  negBig: { N: '-99999999999999999999999999999999999999' },
  long: { N: '0.1000000000000000055511151231257827' },
  tiny: { N: '1.5E-130' },
  int: { N: '103' },
  empty: { S: '' },
  unicode: { S: 'Ünïcødé emoji-🚀 "quoted" \\ back\nslash' },
  bin: { B: bytes(0, 1, 2, 255) },
  emptyBin: { B: bytes() },
  yes: { BOOL: true },
  no: { BOOL: false },
  nothing: { NULL: true },
  tags: { SS: ['a', 'b c', ''] },
  nums: { NS: ['1.50', '-2', '0.1000000000000000055511151231257827'] },
  blobs: { BS: [bytes(1), bytes(2, 3)] },
  list: { L: [{ N: '1' }, { S: 'x' }, { L: [] }, { M: {} }, { NULL: true }] },
  map: { M: { deep: { M: { deeper: { L: [{ SS: ['z'] }, { BOOL: false }] } } } } },
};

const JSON_LINE = JSON.stringify({
  Item: {
    id: { S: 'item-1' },
    big: { N: '12345678901234567890123456789012345678' },
    negBig: { N: '-99999999999999999999999999999999999999' },
    long: { N: '0.1000000000000000055511151231257827' },
    tiny: { N: '1.5E-130' },
    int: { N: '103' },
    empty: { S: '' },
    unicode: { S: 'Ünïcødé emoji-🚀 "quoted" \\ back\nslash' },
    bin: { B: 'AAEC/w==' },
    emptyBin: { B: '' },
    yes: { BOOL: true },
    no: { BOOL: false },
    nothing: { NULL: true },
    tags: { SS: ['a', 'b c', ''] },
    nums: { NS: ['1.50', '-2', '0.1000000000000000055511151231257827'] },
    blobs: { BS: ['AQ==', 'AgM='] },
    list: { L: [{ N: '1' }, { S: 'x' }, { L: [] }, { M: {} }, { NULL: true }] },
    map: { M: { deep: { M: { deeper: { L: [{ SS: ['z'] }, { BOOL: false }] } } } } },
  },
});

// Ion text as AWS writes it: decimals like `103.` and `6d2`, sets as annotated lists, blobs in {{ }}.
const ION_LINE =
  '$ion_1_0 {Item:{id:"item-1",big:12345678901234567890123456789012345678.,negBig:-99999999999999999999999999999999999999.,' +
  'long:0.1000000000000000055511151231257827,tiny:1.5d-130,int:103.,empty:"",unicode:"\\u00dcn\\u00efc\\u00f8d\\u00e9 emoji-🚀 \\"quoted\\" \\\\ back\\nslash",' +
  'bin:{{AAEC/w==}},emptyBin:{{}},yes:true,no:false,nothing:null,tags:$dynamodb_SS::["a","b c",""],' +
  'nums:$dynamodb_NS::[1.50,-2.,0.1000000000000000055511151231257827],blobs:$dynamodb_BS::[{{AQ==}},{{AgM=}}],' +
  'list:[1.,"x",[],{},null],map:{deep:{deeper:[$dynamodb_SS::["z"],false]}}}}';

describe('DYNAMODB_JSON lines', () => {
  test('decode every type exactly: 38 digits, long decimals, binary, sets, empty string, nesting', () => {
    assert.deepEqual(decodeDdbJsonLine(JSON_LINE, 'item').Item, EXPECTED);
  });

  test('binary decodes to a Uint8Array with its own buffer (not a view of the shared Buffer pool)', () => {
    const item = decodeDdbJsonLine(JSON_LINE, 'item').Item!;
    assert.ok(item['bin']!.B instanceof Uint8Array);
    assert.equal(item['bin']!.B!.buffer.byteLength, 4);
  });

  test('incremental lines carry Keys, images and the write time; no NewImage means a delete', () => {
    const r = decodeDdbJsonLine(
      '{"Metadata":{"WriteTimestampMicros":{"N":"1700000000123456"}},"Keys":{"id":{"S":"a"}},"OldImage":{"id":{"S":"a"},"v":{"N":"1"}}}',
      'change',
    );
    assert.deepEqual(r.Keys, { id: { S: 'a' } });
    assert.deepEqual(r.OldImage, { id: { S: 'a' }, v: { N: '1' } });
    assert.equal(r.NewImage, undefined);
    assert.equal(r.writeTimestampMicros, '1700000000123456');
  });

  for (const [name, line, pattern] of [
    ['invalid JSON', '{"Item":{"id":{"S":"a"}}', /not valid JSON/],
    ['two type tags', '{"Item":{"id":{"S":"a","N":"1"}}}', /exactly one type/],
    ['unknown type tag', '{"Item":{"id":{"X":"a"}}}', /unknown attribute type "X"/],
    ['a number that is not a decimal', '{"Item":{"n":{"N":"1.2.3"}}}', /invalid N value/],
    ['a JSON number instead of a string', '{"Item":{"n":{"N":12}}}', /invalid N value/],
    ['bad base64', '{"Item":{"b":{"B":"not base64!"}}}', /not valid base64/],
    ['NULL false', '{"Item":{"x":{"NULL":false}}}', /invalid NULL value/],
    ['a number set with a non-number', '{"Item":{"x":{"NS":["1","x"]}}}', /invalid NS value/],
    ['an unexpected top-level field', '{"Item":{},"Extra":1}', /unexpected top-level field "Extra"/],
    ['a change line in a full export', '{"Keys":{"id":{"S":"a"}},"NewImage":{"id":{"S":"a"}}}', /incremental-export change/],
  ] as const) {
    test(`refuses ${name}`, () => {
      assert.throws(
        () => decodeDdbJsonLine(line, 'item'),
        (err: unknown) => err instanceof LineDecodeError && pattern.test(err.message),
      );
    });
  }

  test('a full-export line in change mode is refused', () => {
    assert.throws(() => decodeDdbJsonLine('{"Item":{"id":{"S":"a"}}}', 'change'), /full-export Item/);
  });
});

describe('ION lines', () => {
  test('decode every type exactly, Ion decimals to exact N strings', () => {
    assert.deepEqual(decodeIonLine(ION_LINE, 'item').Item, EXPECTED);
  });

  test('the AWS documentation example', () => {
    const item = decodeIonLine(
      '$ion_1_0 {Item:{Authors:$dynamodb_SS::["Author1","Author2"],Dimensions:"8.5 x 11.0 x 1.5",ISBN:"333-3333333333",Id:103.,InPublication:false,PageCount:6d2,Price:2d3,ProductCategory:"Book",Title:"Book 103 Title"}}',
      'item',
    ).Item;
    assert.deepEqual(item, {
      Authors: { SS: ['Author1', 'Author2'] },
      Dimensions: { S: '8.5 x 11.0 x 1.5' },
      ISBN: { S: '333-3333333333' },
      Id: { N: '103' },
      InPublication: { BOOL: false },
      PageCount: { N: '600' },
      Price: { N: '2000' },
      ProductCategory: { S: 'Book' },
      Title: { S: 'Book 103 Title' },
    });
  });

  test('incremental lines: Keys, images, write time', () => {
    const r = decodeIonLine('$ion_1_0 {Metadata:{WriteTimestampMicros:1700000000123456.},Keys:{id:"a"},NewImage:{id:"a",v:2.}}', 'change');
    assert.deepEqual(r, { writeTimestampMicros: '1700000000123456', Keys: { id: { S: 'a' } }, NewImage: { id: { S: 'a' }, v: { N: '2' } } });
  });

  for (const [name, line, pattern] of [
    ['a float (not exact)', '$ion_1_0 {Item:{x:1.5e0}}', /float has no exact DynamoDB type/],
    ['a timestamp', '$ion_1_0 {Item:{x:2020-01-01T00:00Z}}', /timestamp has no exact DynamoDB type/],
    ['a set with a member of another type', '$ion_1_0 {Item:{x:$dynamodb_NS::["1"]}}', /holds a member of another type/],
    ['an unknown set annotation', '$ion_1_0 {Item:{x:$dynamodb_XS::[1.]}}', /unknown set annotation/],
    ['broken Ion', '$ion_1_0 {Item:{x:"unterminated}}', /not valid Ion/],
    ['a line that is not a struct', '$ion_1_0 [1, 2]', /one Ion struct/],
  ] as const) {
    test(`refuses ${name}`, () => {
      assert.throws(
        () => decodeIonLine(line, 'item'),
        (err: unknown) => err instanceof LineDecodeError && pattern.test(err.message),
      );
    });
  }

  test('decimalText keeps the exact value and spelling', () => {
    assert.equal(decimalText(103n, 0), '103');
    assert.equal(decimalText(6n, 2), '600');
    assert.equal(decimalText(-150n, -2), '-1.50');
    assert.equal(decimalText(1000000000000000055511151231257827n, -34), '0.1000000000000000055511151231257827');
    assert.equal(decimalText(15n, -131), '1.5E-130');
    assert.equal(decimalText(5n, -3), '0.005');
    assert.equal(decimalText(0n, 5), '0');
    assert.equal(decimalText(1n, 125), '1E125');
  });
});

describe('file scanning', () => {
  test('a gzip file: MD5 of the gzip bytes, item count, and the verified text back as items', async () => {
    const text = `${JSON_LINE}\n\n${JSON_LINE}\r\n`;
    const gz = gzipSync(Buffer.from(text));
    const res = await scanFile({ bytes: gz, format: 'DYNAMODB_JSON', mode: 'item', keepLimitBytes: 1 << 20 });
    assert.equal(res.count, 2);
    const { createHash } = await import('node:crypto');
    assert.equal(res.md5Base64, createHash('md5').update(gz).digest('base64'));
    const pages = [...jsonTextPages(res.text!, 'item', 1, 10)];
    assert.deepEqual(
      pages.map((p) => p.map((r) => r.Item)),
      [[EXPECTED]],
    );
  });

  test('in memory, from a path, over the keep limit, in several gzip members: the same count, MD5 and text', async () => {
    const { createHash } = await import('node:crypto');
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const body = `${JSON_LINE}\n`.repeat(3000);
    // Two members, as a concatenating writer produces: one file to gunzip, 6,000 lines.
    const gz = Buffer.concat([gzipSync(Buffer.from(body)), gzipSync(Buffer.from(body))]);
    const raw = Buffer.byteLength(body) * 2;
    const dir = await mkdtemp(join(tmpdir(), 'dynashift-scan-'));
    try {
      const path = join(dir, 'f.json.gz');
      await writeFile(path, gz);
      for (const [name, input, limit] of [
        ['bytes, kept', { bytes: gz }, raw],
        ['bytes, over the limit', { bytes: gz }, raw - 1],
        ['bytes, limit under the first member', { bytes: gz }, Buffer.byteLength(body) - 1],
        ['path, kept', { path }, raw],
        ['path, over the limit', { path }, raw - 1],
      ] as const) {
        const res = await scanFile({ ...input, format: 'DYNAMODB_JSON', mode: 'item', keepLimitBytes: limit });
        assert.equal(res.count, 6000, name);
        assert.equal(res.rawBytes, raw, name);
        assert.equal(res.compressedBytes, gz.length, name);
        assert.equal(res.md5Base64, createHash('md5').update(gz).digest('base64'), name);
        if (limit >= raw) assert.equal(Buffer.from(res.text!).toString('utf8'), body + body, name);
        else assert.equal(res.text, undefined, name);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('an ION file comes back as verified DynamoDB JSON text with the same items', async () => {
    const gz = gzipSync(Buffer.from(`${ION_LINE}\n${ION_LINE}\n`));
    const res = await scanFile({ bytes: gz, format: 'ION', mode: 'item', keepLimitBytes: 1 << 20 });
    assert.equal(res.count, 2);
    assert.deepEqual(
      [...jsonTextPages(res.text!, 'item', 0, 1)].map((p) => p[0]!.Item),
      [EXPECTED, EXPECTED],
    );
  });

  test('an empty object (AWS writes them for empty partitions) holds zero items', async () => {
    assert.equal((await scanFile({ bytes: new Uint8Array(), format: 'DYNAMODB_JSON', mode: 'item', keepLimitBytes: 1 })).count, 0);
    assert.equal((await scanFile({ bytes: gzipSync(Buffer.alloc(0)), format: 'DYNAMODB_JSON', mode: 'item', keepLimitBytes: 1 })).count, 0);
  });

  test('an undecodable line fails the whole scan and names the line', async () => {
    const gz = gzipSync(Buffer.from(`${JSON_LINE}\n{"Item":{"x":{"N":"abc"}}}\n`));
    await assert.rejects(
      scanFile({ bytes: gz, format: 'DYNAMODB_JSON', mode: 'item', keepLimitBytes: 1 << 20 }),
      (err: unknown) => err instanceof LineDecodeError && err.line === 1,
    );
  });

  test('invalid UTF-8 is refused rather than replaced with U+FFFD', async () => {
    const gz = gzipSync(Buffer.concat([Buffer.from('{"Item":{"s":{"S":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}}\n')]));
    await assert.rejects(scanFile({ bytes: gz, format: 'DYNAMODB_JSON', mode: 'item', keepLimitBytes: 1 << 20 }), /not valid UTF-8/);
  });

  test('lines cut at any chunk boundary, even inside a multi-byte character, come out whole, numbered as in one piece', () => {
    const lines = ['{"a":"één"}', '', '  ', 'plain', 'x'.repeat(700) + '🚀', 'crlf\r', '\tlast ünïcødé'];
    const text = Buffer.from(lines.join('\n') + '\n');
    const want = ['{"a":"één"}', 'plain', 'x'.repeat(700) + '🚀', 'crlf', 'last ünïcødé'];
    for (const size of [1, 2, 3, 5, 13, 64, 701, text.length]) {
      const got: [number, string][] = [];
      const splitter = new LineSplitter((line, lineNo) => got.push([lineNo, line]));
      for (let at = 0; at < text.length; at += size) splitter.push(text.subarray(at, at + size));
      splitter.end();
      assert.deepEqual(
        got,
        want.map((l, i) => [i, l]),
        `chunks of ${size} bytes`,
      );
    }
  });

  test('invalid UTF-8 names its line, wherever the chunks are cut', () => {
    const text = Buffer.concat([Buffer.from('ok 0\nok 1\nbad '), Buffer.from([0xc3, 0x28]), Buffer.from('\nok 3\n')]);
    for (const size of [1, 4, 7, 12, text.length]) {
      const seen: number[] = [];
      const splitter = new LineSplitter((_line, lineNo) => seen.push(lineNo));
      assert.throws(
        () => {
          for (let at = 0; at < text.length; at += size) splitter.push(text.subarray(at, at + size));
          splitter.end();
        },
        (err: unknown) => err instanceof LineDecodeError && err.line === 2 && /not valid UTF-8/.test(err.message),
        `chunks of ${size} bytes`,
      );
      assert.deepEqual(seen, [0, 1], `chunks of ${size} bytes: the lines before it were read`);
    }
  });

  test('a truncated gzip file is refused', async () => {
    const gz = gzipSync(Buffer.from(`${JSON_LINE}\n`.repeat(50)));
    await assert.rejects(
      scanFile({ bytes: gz.subarray(0, gz.length - 10), format: 'DYNAMODB_JSON', mode: 'item', keepLimitBytes: 1 << 20 }),
      /unexpected end of file/,
    );
  });

  test('recordToJsonLine round-trips change records', () => {
    const r = decodeDdbJsonLine(
      '{"Metadata":{"WriteTimestampMicros":{"N":"5"}},"Keys":{"id":{"S":"a"}},"OldImage":{"b":{"B":"AQ=="}},"NewImage":{"n":{"NS":["1"]}}}',
      'change',
    );
    assert.deepEqual(decodeDdbJsonLine(recordToJsonLine(r), 'change'), r);
  });
});
