/**
 * LocalStore (the files target's and export source's local folder) under concurrent writes and deletes in one folder:
 * delete() removes the folders it empties, as an S3 "folder" disappears with its last object, and a put into the same
 * folder at that moment must still land (found by files-sink.test.ts: "ENOENT: mkdir …/_dynashift/staging" when a
 * sealed data file's staging chunks were deleted while the next chunk was written).
 *
 * Run: node --import tsx --test test/unit/export-store-local.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { LocalStore } from '../../src/formats/ddb-export/export-store.js';

const roots: string[] = [];
after(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

test('puts land while deletes empty and remove the same folder', async () => {
  const root = await mkdtemp(join(tmpdir(), 'dynashift-localstore-'));
  roots.push(root);
  const store = new LocalStore(root);
  const rounds = 300;
  // Eight writers share a/b/c and delete what they wrote once it reads back, so the folder is emptied and removed over
  // and over while the others write into it (every fourth object by putStream).
  const writer = async (name: string): Promise<void> => {
    for (let i = 0; i < rounds; i++) {
      const key = `a/b/c/${name}-${i}`;
      const body = Buffer.from(`${name} ${i}\n`.repeat(20));
      if (i % 4 === 0) await store.putStream(key, Readable.from([body]));
      else await store.put(key, body);
      assert.equal((await store.get(key))?.toString(), body.toString(), `${key} landed whole`);
      await store.delete([key]);
    }
  };
  await Promise.all(Array.from({ length: 8 }, (_, w) => writer(`w${w}`)));
  assert.deepEqual((await store.list('a/')).keys, [], 'everything written was deleted, and no temp file is left behind');
  assert.deepEqual(await readdir(root), [], 'the emptied folders went with their last object');
});
