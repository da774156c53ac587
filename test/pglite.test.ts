import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgliteDb, describeError, sharedBuffersMb } from '../server/src/store/pglite';

test('PGlite’s buffer cache follows the database size in 64 MB steps, between 128 and 512 MB', () => {
  const dir = mkdtempSync(join(tmpdir(), 'semcode-buffers-'));
  try {
    assert.equal(sharedBuffersMb(join(dir, 'missing')), 128, 'a database not created yet');
    mkdirSync(join(dir, 'base', '5'), { recursive: true });
    const file = (name: string, mb: number) => {
      const p = join(dir, 'base', '5', name);
      writeFileSync(p, '');
      truncateSync(p, mb * 2 ** 20); // sparse: only the size counts
    };
    file('a', 100);
    assert.equal(sharedBuffersMb(join(dir, 'base')), 128);
    file('b', 200); // 300 MB in all, nested one level down
    assert.equal(sharedBuffersMb(join(dir, 'base')), 320);
    file('c', 900);
    assert.equal(sharedBuffersMb(join(dir, 'base')), 512);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an embedded database keeps at most 256 MB of WAL and PGlite’s other defaults', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'semcode-pglite-wal-'));
  const db = await PgliteDb.open(dir);
  try {
    const show = async (name: string) => (await db.query<Record<string, string>>(`SHOW ${name}`)).rows[0]![name];
    assert.equal(await show('max_wal_size'), '256MB');
    assert.equal(await show('shared_buffers'), '128MB', 'a new database is small');
    assert.equal(await show('search_path'), 'public');
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('what PGlite throws reads as one line: Emscripten’s errno objects by name, never "[object Object]"', () => {
  assert.equal(describeError({ name: 'ErrnoError', errno: 51 }), 'file system error ENOSPC (no space left on device)');
  assert.equal(describeError({ name: 'ErrnoError', errno: 69 }), 'file system error EROFS (read-only file system)');
  assert.equal(describeError({ name: 'ErrnoError', errno: 4242 }), 'file system error errno 4242');
  assert.equal(describeError(new Error('relation "x" does not exist')), 'relation "x" does not exist');
  assert.equal(describeError({ message: 'a message' }), 'a message');
  assert.equal(describeError({ status: 3 }), '{"status":3}');
  assert.equal(describeError(Object.create(null)), 'unexpected object thrown');
  assert.equal(describeError('text'), 'text');
});
