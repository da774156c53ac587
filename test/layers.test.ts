// The layer rules (.dependency-cruiser.cjs) over the real tree, and proof that they bite: a module that
// imports from a layer above it, written into a copy of the tree, fails them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers/workspace';

const ROOT = join(__dirname, '..');
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

function cruise(cwd: string) {
  const r = spawnSync(process.execPath, [DEPCRUISE, 'server/src', 'client/src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], {
    cwd,
    encoding: 'utf8',
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

test('no module imports from a layer above its own, and there are no cycles', () => {
  const r = cruise(ROOT);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /no dependency violations found/);
});

test('a back-reference (the store importing the engine) fails the rules', () => {
  const work = tempDir('layers');
  try {
    for (const p of ['server/src', 'client/src', '.dependency-cruiser.cjs', 'tsconfig.json', 'package.json'])
      cpSync(join(ROOT, p), join(work.dir, p), { recursive: true });
    writeFileSync(join(work.dir, 'server/src/store/backReference.ts'), "import type { Engine } from '../engine';\nexport type E = Engine;\n");
    const r = cruise(work.dir);
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /store-is-below-the-engine-layers: server\/src\/store\/backReference\.ts → server\/src\/engine\.ts/);
  } finally {
    work.cleanup();
  }
});
