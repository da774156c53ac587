// The language server's small parts on their own: routing file events, batching them, settings and the
// progress estimate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { IndexProgress } from '../server/src/index/indexer';
import { estimatePercent } from '../server/src/lsp/indexService';
import { locate } from '../server/src/lsp/paths';
import { diffSettings, normalizeSettings } from '../server/src/lsp/settings';
import { splitSymbol } from '../server/src/lsp/symbols';
import { ChangeBatcher, ChangeRouter } from '../server/src/lsp/watcher';
import { queryIdentifiers } from '../server/src/search/related';
import { tempDir, writeFile } from './helpers/workspace';

test('file events are routed to every folder containing them, filtered by ignore rules; an ignore file walks its directory', async () => {
  const work = tempDir('router');
  try {
    const a = join(work.dir, 'a');
    const nested = join(a, 'inner');
    const db = join(a, '.db');
    writeFile(a, '.gitignore', 'dist/\n');
    writeFile(a, 'src/x.ts', 'x');
    const router = new ChangeRouter({ roots: () => [a, nested], ignorePatterns: () => ['*.gen.ts'], excluded: () => [db] });
    const r = await router.route([
      join(a, 'src/x.ts'),
      join(a, 'dist/out.js'),
      join(a, 'src/y.gen.ts'),
      join(a, 'node_modules/m/i.js'),
      join(a, '.git/index'),
      join(db, 'pgdata/base/1'),
      join(nested, 'z.py'),
      join(work.dir, 'elsewhere.ts'),
    ]);
    assert.deepEqual([...r.full], []);
    assert.deepEqual(Object.fromEntries(r.paths), { [a]: ['src/x.ts', 'inner/z.py'], [nested]: ['z.py'] });
    // inner/.semcodeignore is the top ignore file of the folder `inner` and a nested one in `a`.
    const r2 = await router.route([join(nested, '.semcodeignore'), join(nested, 'q.ts'), join(a, 'src/x.ts')]);
    assert.deepEqual([...r2.full], [nested]);
    assert.deepEqual(Object.fromEntries(r2.paths), { [a]: ['inner', 'inner/q.ts', 'src/x.ts'] }, 'a walked folder needs no path list');
  } finally {
    work.cleanup();
  }
});

test('the batcher hands over each path once, after events stop or at the latest after the maximum delay', async () => {
  const batches: string[][] = [];
  const b = new ChangeBatcher((p) => batches.push(p.sort()), 30, 1000);
  b.add(['/a', '/b']);
  b.add(['/a']);
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(batches, [['/a', '/b']]);
  const steady = new ChangeBatcher((p) => batches.push(p), 50, 120);
  const started = Date.now();
  while (Date.now() - started < 300) {
    steady.add([`/f${Date.now()}`]);
    await new Promise((r) => setTimeout(r, 10));
  }
  steady.dispose();
  assert.ok(batches.length >= 3, `a steady stream is still handed over (${batches.length} batches)`);
  b.dispose();
});

test('settings: wrong types are dropped with a warning, empty strings are unset, and changes are classified', () => {
  const { settings, warnings } = normalizeSettings({ model: ' ', databaseDir: '/tmp/x', ignore: 'dist', maxFileSize: -1, backend: 'gpu' });
  assert.deepEqual(settings, { databaseDir: '/tmp/x' });
  assert.equal(warnings.length, 3);
  assert.deepEqual(normalizeSettings({ backend: 'wasm', maxFileSize: 2048.7, ignore: ['a', ''] }).settings, {
    backend: 'wasm',
    maxFileSize: 2048,
    ignore: ['a'],
  });
  assert.deepEqual(normalizeSettings({ followExternalLinks: true }).settings, { followExternalLinks: true });
  assert.match(normalizeSettings({ followExternalLinks: 'yes' }).warnings.join(), /followExternalLinks must be true or false/);
  assert.deepEqual(normalizeSettings({ databasePoolSize: 10 }).settings, { databasePoolSize: 10 });
  for (const bad of [2.5, -1, 101, '8']) {
    const r = normalizeSettings({ databasePoolSize: bad });
    assert.deepEqual(r.settings, {}, String(bad));
    assert.match(r.warnings.join(), /databasePoolSize must be a whole number from 1 to 100/);
  }
  assert.equal(diffSettings({}, { followExternalLinks: true }).walk, true, 'following outside links changes which files are indexed');
  assert.deepEqual(diffSettings({ model: 'a' }, { model: 'a', ignore: ['x'] }), {
    model: false,
    database: false,
    backend: false,
    walk: true,
    codebases: false,
  });
  assert.deepEqual(diffSettings({ databaseDir: '/a' }, { databaseUrl: 'postgres://h/db', model: 'm' }), {
    model: true,
    database: true,
    backend: false,
    walk: false,
    codebases: false,
  });
  // semcode.codebase per folder: blank names are unset, a change in any folder's name is a change, order is not
  assert.deepEqual(normalizeSettings({ codebases: { '/w/a': ' acme/a ', '/w/b': '' } }).settings, { codebases: { '/w/a': 'acme/a' } });
  assert.match(normalizeSettings({ codebases: 'acme' }).warnings.join(), /semcode.codebase/);
  assert.equal(diffSettings({ codebases: { '/a': 'x', '/b': 'y' } }, { codebases: { '/b': 'y', '/a': 'x' } }).codebases, false);
  assert.equal(diffSettings({ codebases: { '/a': 'x' } }, { codebases: { '/a': 'z' } }).codebases, true);
  assert.equal(diffSettings({}, { codebases: { '/a': 'x' } }).codebases, true);
});

test('progress: chunks stored over chunks queued once walked, files checked over files known before, else unknown', () => {
  const p = (x: Partial<IndexProgress>): IndexProgress => ({
    phase: 'indexing',
    filesSeen: 0,
    filesChanged: 0,
    filesDone: 0,
    filesKnown: 0,
    walked: false,
    chunksDone: 0,
    chunksQueued: 0,
    ...x,
  });
  assert.equal(estimatePercent(p({ filesSeen: 10 })), undefined);
  assert.equal(estimatePercent(p({ filesSeen: 50, filesKnown: 200 })), 25);
  assert.equal(estimatePercent(p({ walked: true, chunksDone: 30, chunksQueued: 40 })), 75);
  assert.equal(estimatePercent(p({ walked: true, chunksDone: 40, chunksQueued: 40 })), 99, 'never 100 before the run ends');
});

test('names: query identifiers as the index stores them, qualified symbols split, paths located in the deepest folder', () => {
  assert.deepEqual(queryIdentifiers('getUs'), ['getus']);
  assert.deepEqual(queryIdentifiers('UserService.get_user()'), ['userservice', 'getuser']);
  assert.deepEqual(queryIdentifiers('-> ::'), []);
  assert.deepEqual(splitSymbol('Outer.Inner.method'), { name: 'method', container: 'Outer.Inner' });
  assert.deepEqual(splitSymbol('plain'), { name: 'plain' });
  assert.deepEqual(locate(['/w', '/w/sub'], '/w/sub/a/b.ts'), { root: '/w/sub', rel: 'a/b.ts' });
  assert.equal(locate(['/w'], '/other/b.ts'), null);
  assert.equal(locate(['/w'], '/wx/b.ts'), null);
});
