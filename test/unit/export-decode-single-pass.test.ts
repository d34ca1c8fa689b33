/**
 * The single-parse decode of full-export DYNAMODB_JSON files: the verify pass checks lines on their bytes
 * (isPlainItemLine) instead of parsing them, and the items are then built by JSON.parse plus base64 → bytes
 * (decodeVerifiedLine). The invariant: that path yields exactly what the strict decoder yields, for every line the
 * check accepts, and every line the check does not accept is judged by the strict decoder (same errors, same line).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { AttributeMap } from '../../src/core/item.js';
import { isPlainItemLine } from '../../src/formats/ddb-export/ddb-json-check.js';
import { decodeDdbJsonLine, decodeVerifiedLine } from '../../src/formats/ddb-export/ddb-json-line.js';
import { LineDecodeError } from '../../src/formats/ddb-export/export-errors.js';
import { decodeVerifiedLines, jsonTextPages, scanFile } from '../../src/formats/ddb-export/file-decoder.js';

const plain = (line: string): boolean => {
  const b = Buffer.from(line);
  return isPlainItemLine(b, 0, b.length);
};
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

const EXACT_LINE =
  '{"Item":{"big":{"N":"12345678901234567890123456789012345678"},"neg":{"N":"-99999999999999999999999999999999999999"},' +
  '"long":{"N":"0.1000000000000000055511151231257827"},"tiny":{"N":"1.5E-130"},"plus":{"N":"+.5e+3"},"int":{"N":"103"},' +
  '"ss":{"SS":["a","b c","","\\u00e9\\"q\\"\\\\"]},"ns":{"NS":["1.50","-2","10000000000000000000000000000000000001"]},' +
  '"bs":{"BS":["AQ==","AgM=","",  "AAEC/w=="]},"b":{"B":"AAEC/w=="},"b2":{"B":""},"t":{"BOOL":true},"f":{"BOOL":false},"z":{"NULL":true},' +
  '"m":{"M":{"deep":{"M":{"deeper":{"L":[{"SS":["z"]},{"B":"/w=="},{"M":{"n":{"N":"1E+125"}}},{"L":[]},{"M":{}}]}}}}},' +
  '"emoji":{"S":"🚀 Ünïcødé\\n\\t\\u0000"}}}';

const EXACT: AttributeMap = {
  big: { N: '12345678901234567890123456789012345678' },
  neg: { N: '-99999999999999999999999999999999999999' },
  long: { N: '0.1000000000000000055511151231257827' },
  tiny: { N: '1.5E-130' },
  plus: { N: '+.5e+3' },
  int: { N: '103' },
  ss: { SS: ['a', 'b c', '', 'é"q"\\'] },
  ns: { NS: ['1.50', '-2', '10000000000000000000000000000000000001'] },
  bs: { BS: [bytes(1), bytes(2, 3), bytes(), bytes(0, 1, 2, 255)] },
  b: { B: bytes(0, 1, 2, 255) },
  b2: { B: bytes() },
  t: { BOOL: true },
  f: { BOOL: false },
  z: { NULL: true },
  m: { M: { deep: { M: { deeper: { L: [{ SS: ['z'] }, { B: bytes(255) }, { M: { n: { N: '1E+125' } } }, { L: [] }, { M: {} }] } } } } },
  emoji: { S: '🚀 Ünïcødé\n\t\u0000' },
};

/** Lines that are valid DynamoDB JSON but not in the form the byte check vouches for: the strict decoder accepts them. */
const VALID_BUT_NOT_PLAIN = [
  '{"Item":{"a":{"\\u0053":"escaped tag"}}}',
  '{"Item":{"a":{"B":"AQ\\u003d\\u003d"}}}',
  '{"Item":{"a":{"S":"x","S":"y"}}}',
  '{"Item":{"a":{"N":"\\u0031"}}}',
];

/** Lines the strict decoder refuses, with the error it gives. */
const MALFORMED: [string, RegExp][] = [
  ['{"Item":{"id":{"S":"a"}}', /not valid JSON/],
  ['{"Item":{"id":{"S":"a","N":"1"}}}', /exactly one type/],
  ['{"Item":{"id":{"X":"a"}}}', /unknown attribute type "X"/],
  ['{"Item":{"n":{"N":"1.2.3"}}}', /invalid N value/],
  ['{"Item":{"n":{"N":""}}}', /invalid N value/],
  ['{"Item":{"n":{"N":"1e"}}}', /invalid N value/],
  ['{"Item":{"n":{"N":12}}}', /invalid N value/],
  ['{"Item":{"n":{"N":"12345678901234567890123456789012345678.5x"}}}', /invalid N value/],
  ['{"Item":{"b":{"B":"not base64!"}}}', /not valid base64/],
  ['{"Item":{"b":{"B":"AQ="}}}', /not valid base64/],
  ['{"Item":{"b":{"BS":["AQ==","A"]}}}', /not valid base64/],
  ['{"Item":{"x":{"NULL":false}}}', /invalid NULL value/],
  ['{"Item":{"x":{"BOOL":"true"}}}', /invalid BOOL value/],
  ['{"Item":{"x":{"NS":["1","x"]}}}', /invalid NS value/],
  ['{"Item":{"x":{"SS":["a",1]}}}', /invalid SS value/],
  ['{"Item":{"x":{"M":{"y":{"L":[{"S":1}]}}}}}', /invalid S value/],
  ['{"Item":{"x":"plain"}}', /expected an attribute value/],
  ['{"Item":{},"Extra":1}', /unexpected top-level field "Extra"/],
  ['{"Keys":{"id":{"S":"a"}},"NewImage":{"id":{"S":"a"}}}', /incremental-export change/],
  ['[1,2]', /must be a JSON object/],
  ['{"Item":{"s":{"S":"tab\tinside"}}}', /not valid JSON/],
];

describe('the byte check and the single-parse decode agree with the strict decoder', () => {
  test('a plain line decodes exactly: 38-digit and signed numbers as written, sets, binary, nested maps and lists', () => {
    assert.equal(plain(EXACT_LINE), true);
    assert.deepEqual(decodeVerifiedLine(EXACT_LINE, 'item', true).Item, EXACT);
    assert.deepEqual(decodeVerifiedLine(EXACT_LINE, 'item', false).Item, EXACT);
    assert.deepEqual(decodeDdbJsonLine(EXACT_LINE, 'item').Item, EXACT);
  });

  test('binary from the single-parse path owns its buffer (not a view of the shared Buffer pool)', () => {
    const item = decodeVerifiedLine(EXACT_LINE, 'item', true).Item!;
    assert.equal(item['b']!.B!.buffer.byteLength, 4);
    assert.equal(item['bs']!.BS![1]!.buffer.byteLength, 2);
  });

  test('a plain line whose only "B" is a name or a string still converts nothing it should not', () => {
    const line = '{"Item":{"B":{"S":"B"},"BS":{"SS":["BS","B"]}}}';
    assert.equal(plain(line), true);
    assert.deepEqual(decodeVerifiedLine(line, 'item', true).Item, { B: { S: 'B' }, BS: { SS: ['BS', 'B'] } });
  });

  for (const line of VALID_BUT_NOT_PLAIN) {
    test(`valid but not plain goes to the strict decoder and decodes the same: ${line}`, () => {
      assert.equal(plain(line), false);
      assert.deepEqual(decodeVerifiedLine(line, 'item', false), decodeDdbJsonLine(line, 'item'));
    });
  }

  for (const [line, pattern] of MALFORMED) {
    test(`the byte check never vouches for a malformed line: ${line}`, () => {
      assert.equal(plain(line), false);
      assert.throws(
        () => decodeDdbJsonLine(line, 'item'),
        (err: unknown) => err instanceof LineDecodeError && pattern.test(err.message),
      );
    });
  }

  test('every prefix of a plain line is refused by the byte check (no reading past the line)', () => {
    const b = Buffer.from(EXACT_LINE);
    for (let end = 0; end < b.length; end++) assert.equal(isPlainItemLine(b, 0, end), false, `prefix of ${end} bytes`);
  });
});

describe('scanning a file with the byte check', () => {
  test('a malformed line fails the scan with the strict decoder’s error and its record number', async () => {
    for (const [line, pattern] of MALFORMED) {
      const gz = gzipSync(Buffer.from(`${EXACT_LINE}\n\n${EXACT_LINE}\n${line}\n${EXACT_LINE}\n`));
      await assert.rejects(
        scanFile({ bytes: gz, format: 'DYNAMODB_JSON', mode: 'item', keepLimitBytes: 1 << 20 }),
        (err: unknown) => err instanceof LineDecodeError && err.line === 2 && pattern.test(err.message),
        line,
      );
    }
  });

  test('plain files are flagged plain; a file with one valid-but-not-plain line is not, and decodes the same', async () => {
    const plainScan = await scanFile({
      bytes: gzipSync(`${EXACT_LINE}\n${EXACT_LINE}\n`),
      format: 'DYNAMODB_JSON',
      mode: 'item',
      keepLimitBytes: 1 << 20,
    });
    assert.equal(plainScan.plain, true);
    assert.deepEqual(
      [...jsonTextPages(plainScan.text!, 'item', 0, 10, plainScan.plain)].flat().map((r) => r.Item),
      [EXACT, EXACT],
    );
    const mixed = `${EXACT_LINE}\n${VALID_BUT_NOT_PLAIN[0]}\n${VALID_BUT_NOT_PLAIN[1]}\n`;
    const scan = await scanFile({ bytes: gzipSync(mixed), format: 'DYNAMODB_JSON', mode: 'item', keepLimitBytes: 1 << 20 });
    assert.equal(scan.plain, false);
    assert.equal(scan.count, 3);
    assert.deepEqual(
      [...jsonTextPages(scan.text!, 'item', 0, 2, scan.plain)].flat().map((r) => r.Item),
      [EXACT, { a: { S: 'escaped tag' } }, { a: { B: bytes(1) } }],
    );
    assert.deepEqual(
      decodeVerifiedLines(mixed.trim().split('\n'), 'item', 0, false).map((r) => r.Item),
      [EXACT, { a: { S: 'escaped tag' } }, { a: { B: bytes(1) } }],
    );
  });

  test('lines spanning gzip output chunks are checked whole (a file larger than one 256 KiB chunk)', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) => `{"Item":{"id":{"N":"${i}"},"pad":{"S":"${'x'.repeat(i % 300)}"},"b":{"B":"AAEC/w=="}}}`);
    const scan = await scanFile({ bytes: gzipSync(`${lines.join('\n')}\n`), format: 'DYNAMODB_JSON', mode: 'item', keepLimitBytes: 1 << 22 });
    assert.equal(scan.count, 3000);
    assert.equal(scan.plain, true);
    const items = [...jsonTextPages(scan.text!, 'item', 0, 1000, true)].flat();
    assert.deepEqual(
      items.map((r) => r.Item!['id']!.N),
      lines.map((_, i) => String(i)),
    );
    assert.deepEqual(items[2999]!.Item!['b'], { B: bytes(0, 1, 2, 255) });
  });
});
