// The CLI contract other tools depend on: exit codes, one clear stderr line, and the exact JSON shapes.
// Runs the bundled CLI (npm test builds it first) as a child process, as users and scripts do.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DirLock } from '../server/src/store/lock';
import { type IndexJson, type SearchJson, type StatusJson, parseJson, parseJsonLines } from './helpers/cliJson';
import { createTestDatabase } from './helpers/pg';
import { makeProject, tempDir, testModel } from './helpers/workspace';

const CLI = join(__dirname, '..', 'bin', 'semcode.js');

function semcode(args: string[], env: Record<string, string | undefined> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, SEMCODE_MODEL: undefined, ...env },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('semcode CLI', () => {
  const work = tempDir('cli');
  const root = makeProject(join(work.dir, 'project'));
  const dbDir = join(work.dir, 'db');
  let model: string;

  before(async () => {
    assert.ok(existsSync(join(__dirname, '..', 'dist', 'cli.js')), 'run `npm run build` first (npm test does)');
    model = await testModel(32);
  });
  after(() => work.cleanup());

  test('index --json prints one summary object on stdout, progress only on stderr', () => {
    const r = semcode(['index', '--root', root, '--db-dir', dbDir, '--model', model, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const s = parseJson<IndexJson>(lines[0]!);
    for (const key of ['files', 'chunks', 'embedded', 'reused', 'skipped', 'seconds']) assert.ok(key in s, key);
    assert.equal(s.files, 11);
    assert.equal(s.embedded + s.reused, s.chunks);
    assert.equal(s.database, 'pglite');
    assert.ok(!existsSync(join(root, '.semcode')), 'nothing written into the indexed folder');
  });

  test('search --json prints exactly one line per query in input order with the documented fields', () => {
    const qfile = join(work.dir, 'queries.txt');
    writeFileSync(qfile, 'ring buffer push\n\ncache eviction\nparse router path\n');
    const r = semcode(['search', '--queries', qfile, '--root', root, '--db-dir', dbDir, '--json', '-k', '3']);
    assert.equal(r.code, 0, r.stderr);
    const lines = parseJsonLines<SearchJson>(r.stdout);
    assert.deepEqual(
      lines.map((l) => l.query),
      ['ring buffer push', 'cache eviction', 'parse router path'],
    );
    for (const l of lines) {
      assert.equal(l.results.length, 3);
      for (const h of l.results) {
        assert.equal(typeof h.path, 'string');
        assert.ok(!h.path.startsWith('/') && !h.path.includes('\\'), 'posix path relative to the root');
        assert.ok(Number.isInteger(h.startLine) && h.startLine >= 1);
        assert.ok(Number.isInteger(h.endLine) && h.endLine >= h.startLine);
        assert.equal(typeof h.score, 'number');
        assert.ok('symbol' in h);
      }
    }
    const one = semcode(['search', 'ring buffer push', '--root', root, '--db-dir', dbDir, '--json', '--mode', 'text', '-k', '1']);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(parseJson<SearchJson>(one.stdout).results[0]?.path, 'src/ringbuf.c');
  });

  test('status --json reports model, dimension, backend, database and counts', () => {
    const r = semcode(['status', '--root', root, '--db-dir', dbDir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const s = parseJson<StatusJson>(r.stdout);
    assert.equal(s.dimension, 32);
    assert.match(s.model ?? '', /^path:/);
    assert.equal(s.database, 'pglite');
    assert.equal(s.backend, 'cpu');
    assert.equal(s.embedsWith, 'cpu', 'a BERT-shaped model runs on onnxruntime-node');
    assert.ok(s.chunks > 0 && s.files === 11);
  });

  test('--codebase names a folder on index, and alone selects it for search and status', () => {
    const other = makeProject(join(work.dir, 'named-folder'));
    const idx = semcode(['index', '--root', other, '--codebase', 'acme/tools', '--db-dir', dbDir, '--model', model, '--json']);
    assert.equal(idx.code, 0, idx.stderr);
    const found = semcode(['search', 'ring buffer push', '--codebase', 'acme/tools', '--db-dir', dbDir, '--json', '--mode', 'text', '-k', '1']);
    assert.equal(found.code, 0, found.stderr);
    assert.equal(parseJson<SearchJson>(found.stdout).results[0]?.path, 'src/ringbuf.c');
    const st = parseJson<StatusJson>(semcode(['status', '--codebase', 'acme/tools', '--db-dir', dbDir, '--json']).stdout);
    assert.deepEqual(
      st.codebases.map((c) => [c.name, c.root]),
      [['acme/tools', realpathSync(other)]],
    );
    // the folder keeps its name without the flag; the project folder is named after itself
    const all = parseJson<StatusJson>(semcode(['status', '--root', other, '--root', root, '--db-dir', dbDir, '--json']).stdout);
    assert.deepEqual(
      all.codebases.map((c) => c.name),
      ['acme/tools', 'project'],
    );
    const unknown = semcode(['search', 'x', '--codebase', 'no/such', '--db-dir', dbDir]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no codebase named no\/such .*--codebase no\/such/);
    const two = semcode(['index', '--root', other, '--root', root, '--codebase', 'x', '--db-dir', dbDir, '--model', model]);
    assert.equal(two.code, 1);
    assert.match(two.stderr, /--codebase names one root/);
    for (const [bad, why] of [
      ['  ', /may not be empty/],
      ['a\nb', /control characters/],
      ['x'.repeat(201), /at most 200 characters/],
    ] as const) {
      const r = semcode(['search', 'x', '--codebase', bad, '--db-dir', dbDir]);
      assert.equal(r.code, 1, bad);
      assert.match(r.stderr, why);
    }
  });

  test('a --model that is not the index model exits 2 naming both', async () => {
    const other = await testModel(16, 2);
    for (const cmd of [['search', 'x'], ['status']]) {
      const r = semcode([...cmd, '--root', root, '--db-dir', dbDir, '--model', other]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(other.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      assert.match(r.stderr, /dim 32/);
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one clear line');
    }
  });

  test('a missing model exits 2 with the path', () => {
    const r = semcode(['index', '--root', root, '--db-dir', join(work.dir, 'db2'), '--model', join(work.dir, 'nope')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /model .*not found.*nope/);
  });

  test('without any model: exit 2 "no default model" until the project ships one', () => {
    const shipped = existsSync(join(__dirname, '..', 'models', 'default'));
    const r = semcode(['index', '--root', root, '--db-dir', join(work.dir, 'db3')]);
    if (shipped) assert.equal(r.code, 0, r.stderr);
    else {
      assert.equal(r.code, 2);
      assert.match(r.stderr, /no default model/);
    }
  });

  test('an unreachable database exits 2 and names it', () => {
    const r = semcode(['index', '--root', root, '--db', 'postgres://postgres@127.0.0.1:1/semcode', '--model', model]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /database unreachable at postgres:\/\/postgres@127\.0\.0\.1:1\/semcode/);
  });

  test('a database that does not exist exits 2 as unreachable', async () => {
    const db = await createTestDatabase();
    try {
      const url = db.url.replace(/\/([^/]+)$/, '/$1_missing');
      const r = semcode(['index', '--root', root, '--db', url, '--model', model]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /database unreachable/);
    } finally {
      await db.drop();
    }
  });

  test('a PGlite directory held by another process exits 2 "in use by pid N"', () => {
    const lockedDir = join(work.dir, 'locked');
    mkdirSync(lockedDir, { recursive: true });
    const lock = DirLock.acquire(join(lockedDir, 'semcode.lock'), 'test');
    try {
      const r = semcode(['index', '--root', root, '--db-dir', lockedDir, '--model', model]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, new RegExp(`in use by pid ${process.pid}`));
    } finally {
      lock.release();
    }
  });

  test('usage errors exit 1', () => {
    assert.equal(semcode(['search', 'x']).code, 1, 'missing --root');
    assert.equal(semcode(['index', '--root', root, '--bogus']).code, 1);
    assert.equal(semcode(['frobnicate']).code, 1);
    assert.equal(semcode(['search', 'x', '--root', root, '--mode', 'fuzzy']).code, 1);
    assert.equal(semcode(['search', 'x', '--root', root, '-k', '0']).code, 1);
  });

  test('searching a root that was never indexed exits 2 with the command to index it', () => {
    const r = semcode(['search', 'x', '--root', work.dir, '--db-dir', dbDir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /not indexed.*semcode index --root/);
  });
});
