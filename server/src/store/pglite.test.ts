import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedBuffersMb } from './pglite';

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
