// Hostile and careless input through the bundled CLI, as a user or a script would give it: each case here
// once gave a wrong answer, a crash message or a database error (issue 9). Runs bin/semcode.js as a child
// process on real PGlite with a generated BERT-shaped model (the shipped model where training is needed).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../server/src/engine';
import { type BatchLineJson, type ErrorJson, type IndexJson, type SearchJson, type StatusJson, parseJsonLines } from './helpers/cliJson';
import { makeProject, tempDir, testModel, writeFile } from './helpers/workspace';

const CLI = join(__dirname, '..', 'bin', 'semcode.js');

function semcode(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, SEMCODE_MODEL: undefined },
    timeout: 180_000,
    input,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('the CLI with careless and hostile input', () => {
  const work = tempDir('cli-hard');
  const root = makeProject(join(work.dir, 'project'));
  const dbDir = join(work.dir, 'db');
  let model: string;
  const base = () => ['--root', root, '--db-dir', dbDir];

  before(async () => {
    assert.ok(existsSync(join(__dirname, '..', 'dist', 'cli.js')), 'run `npm run build` first (npm test does)');
    model = await testModel(32);
    // A file name with a newline in it, indexed like any other.
    writeFile(root, 'src/odd\nname.ts', 'export function oddlyNamedHelper(): number {\n  return 42;\n}\n');
    const r = semcode(['index', ...base(), '--model', model, '--json']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => work.cleanup());

  test('the same root twice, or a root inside another, is indexed and searched once', () => {
    const [once] = parseJsonLines<SearchJson>(semcode(['search', 'ring buffer push', ...base(), '--json', '-k', '50']).stdout);
    for (const extra of [`${root}/`, join(root, 'src')]) {
      const idx = semcode(['index', '--root', root, '--root', extra, '--db-dir', dbDir, '--model', model, '--json']);
      assert.equal(idx.code, 0, idx.stderr);
      const [s] = parseJsonLines<IndexJson>(idx.stdout);
      assert.equal(s?.files, 12, 'files counted once');
      assert.match(idx.stderr, /note: .*(same folder|inside)/);
      const r = semcode(['search', 'ring buffer push', '--root', root, '--root', extra, '--db-dir', dbDir, '--json', '-k', '50']);
      assert.equal(r.code, 0, r.stderr);
      const hits = parseJsonLines<SearchJson>(r.stdout)[0]!.results;
      assert.equal(hits.length, once?.results.length, 'no hit twice');
      assert.equal(new Set(hits.map((h: { path: string; startLine: number }) => `${h.path}:${h.startLine}`)).size, hits.length);
    }
  });

  test('a query of more than 16,000 distinct words is answered in every mode', () => {
    const words = Array.from({ length: 17_000 }, (_, i) => `w${i.toString(36)}x`).join(' ');
    const qfile = join(work.dir, 'long.txt');
    writeFileSync(qfile, `ring buffer push ${words}\n`);
    for (const mode of ['hybrid', 'text', 'vector']) {
      const r = semcode(['search', '--queries', qfile, ...base(), '--json', '--mode', mode, '-k', '3']);
      assert.equal(r.code, 0, `${mode}: ${r.stderr}`);
      const [line] = parseJsonLines<SearchJson>(r.stdout);
      assert.equal(line?.results.length, 3, mode);
    }
  });

  test('a batch answers every query and reports a failed one in its own line with an error', () => {
    const qfile = join(work.dir, 'batch.txt');
    writeFileSync(qfile, 'ring buffer push\n!!! ???\ncache eviction\n');
    const r = semcode(['search', '--queries', qfile, ...base(), '--json', '-k', '2']);
    assert.equal(r.code, 2, 'a failed query makes the run fail, after the others are answered');
    const lines = parseJsonLines<BatchLineJson>(r.stdout);
    assert.deepEqual(
      lines.map((l) => l.query),
      ['ring buffer push', '!!! ???', 'cache eviction'],
    );
    assert.equal(lines[0]?.results?.length, 2);
    assert.equal(lines[1]?.error?.code, 'empty_query');
    assert.ok(!('results' in lines[1]));
    assert.equal(lines[2]?.results?.length, 2);
    assert.match(r.stderr, /1 of 3 queries failed/);
  });

  test('an empty or punctuation-only query is a usage error, not arbitrary hits', () => {
    for (const q of ['', '   ', '!!! ... ???']) {
      const r = semcode(['search', q, ...base()]);
      assert.equal(r.code, 1, `${JSON.stringify(q)}: ${r.stdout}`);
      assert.equal(r.stdout, '');
    }
    const r = semcode(['search', '?!', ...base()]);
    assert.match(r.stderr, /no words to search for/);
  });

  test('an invalid glob is a usage error naming the glob', () => {
    for (const glob of ['[z-a]', '[]']) {
      const r = semcode(['search', 'ring buffer', ...base(), '--glob', glob]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`invalid glob.*${escape(glob)}`));
      assert.doesNotMatch(r.stderr, /database error/);
    }
  });

  test('train --epochs 0 is a usage error', () => {
    const r = semcode(['train', ...base(), '--epochs', '0']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--epochs takes a positive integer/);
  });

  test('a password in the URL never reaches the output, and sslmode=require gives one line', () => {
    for (const url of ['postgres://postgres:hunter2@127.0.0.1:1/semcode', 'postgres://postgres@127.0.0.1:1/semcode?password=hunter2']) {
      const r = semcode(['index', '--root', root, '--db', url, '--model', model]);
      assert.equal(r.code, 2);
      assert.doesNotMatch(r.stdout + r.stderr, /hunter2/);
      assert.match(r.stderr, /\*\*\*/);
    }
    const r = semcode(['index', '--root', root, '--db', 'postgres://postgres@127.0.0.1:1/semcode?sslmode=require', '--model', model]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /database unreachable/);
  });

  test('the rebuild command in a model mismatch names the database directory and the model', async () => {
    const other = await testModel(16, 2);
    const r = semcode(['index', ...base(), '--model', other]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`semcode index --root ${escape(root)} --db-dir ${escape(dbDir)} --model ${escape(other)} --rebuild`));
  });

  test("a recorded model that was deleted is named as the index's model, not as --model", () => {
    const copy = join(work.dir, 'model-copy');
    cpSync(model, copy, { recursive: true });
    const dir = join(work.dir, 'db-deleted-model');
    assert.equal(semcode(['index', '--root', root, '--db-dir', dir, '--model', copy]).code, 0);
    rmSync(copy, { recursive: true });
    const r = semcode(['search', 'ring buffer', '--root', root, '--db-dir', dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /model not found: .*model-copy \(from the model the index was built with\)/);
    assert.doesNotMatch(r.stderr, /--model/);
  });

  test('a file name with a newline stays on one line of plain output', () => {
    const r = semcode(['search', 'oddly named helper', ...base(), '-k', '1', '--mode', 'text']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 2, r.stdout); // the hit and its snippet
    assert.match(lines[0]!, /^1\. "src\/odd\\nname\.ts":1-3/);
  });

  test('status never creates a database: a mistyped --db-dir is "no index at"', () => {
    const typo = join(work.dir, 'dbb');
    for (const cmd of [['status'], ['status', '--root', root], ['search', 'x', '--root', root]]) {
      const r = semcode([...cmd, '--db-dir', typo]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`no index at ${escape(typo)}`));
      assert.ok(!existsSync(typo), `${cmd[0]} created ${typo}`);
    }
  });

  test('with --json a runtime error is also one JSON object on stdout with its code', () => {
    const r = semcode(['search', 'x', '--root', work.dir, '--db-dir', dbDir, '--json']);
    assert.equal(r.code, 2);
    const out = parseJsonLines<ErrorJson>(r.stdout)[0]!;
    assert.equal(out.error.code, 'not_indexed');
    assert.match(out.error.message, /not indexed/);
    const u = semcode(['search', 'x', '--root', root, '--mode', 'fuzzy', '--json']);
    assert.equal(u.code, 1);
    assert.equal(parseJsonLines<ErrorJson>(u.stdout)[0]?.error.code, 'usage');
  });

  test("an index whose run was stopped says so in status and on search's stderr", async () => {
    const dir = join(work.dir, 'db-partial');
    const big = join(work.dir, 'big');
    mkdirSync(big);
    for (let i = 0; i < 40; i++) writeFileSync(join(big, `m${i}.ts`), `export function part${i}(): number {\n  return ${i};\n}\n`);
    const engine = await Engine.open({ db: { dir }, model });
    const ac = new AbortController();
    try {
      await assert.rejects(engine.index({ roots: [big], jobChunks: 5, signal: ac.signal, onProgress: (p) => void (p.chunksDone >= 10 && ac.abort()) }));
    } finally {
      await engine.close();
    }
    const st = semcode(['status', '--root', big, '--db-dir', dir, '--json']);
    assert.equal(st.code, 0, st.stderr);
    assert.equal(parseJsonLines<StatusJson>(st.stdout)[0]?.codebases[0]?.incomplete, true);
    assert.match(semcode(['status', '--root', big, '--db-dir', dir]).stdout, /index incomplete/);
    const s = semcode(['search', 'part', '--root', big, '--db-dir', dir, '--mode', 'text']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stderr, /index incomplete.*run semcode index/);
    assert.equal(semcode(['index', '--root', big, '--db-dir', dir, '--model', model]).code, 0);
    assert.doesNotMatch(semcode(['search', 'part', '--root', big, '--db-dir', dir, '--mode', 'text']).stderr, /incomplete/);
  });
});

describe('semcode train with too few pairs, shipped model', () => {
  const work = tempDir('cli-train');
  const root = makeProject(join(work.dir, 'project'));
  const dbDir = join(work.dir, 'db');
  after(() => work.cleanup());

  test('says insufficient_training_data in words, and as a code with --json', () => {
    assert.equal(semcode(['index', '--root', root, '--db-dir', dbDir]).code, 0);
    const r = semcode(['train', '--root', root, '--db-dir', dbDir, '--json']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /insufficient training data/);
    const [out] = parseJsonLines<ErrorJson>(r.stdout);
    assert.equal(out?.error.code, 'insufficient_training_data');
  });
});
