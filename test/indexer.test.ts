// Incremental indexing end to end on real PGlite and real PostgreSQL + pgvector, with a real ONNX model
// loaded through transformers.js in the worker thread. Model calls are counted, not guessed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { realpathSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../server/src/engine';
import type { IndexOptions, IndexSummary } from '../server/src/index/indexer';
import type { DbTarget } from '../server/src/store/open';
import { BACKENDS } from './helpers/backends';
import { makeProject, tempDir, testModel, writeFile } from './helpers/workspace';

for (const backend of BACKENDS) {
  describe(`indexing on ${backend.name}`, () => {
    let engine: Engine;
    let cleanupDb: () => Promise<void>;
    let target: DbTarget;
    let model: string;
    const work = tempDir('indexer');
    const root = makeProject(join(work.dir, 'project'));
    let first: IndexSummary;

    const calls = () => engine.activeEmbedder!.stats.calls;
    const texts = () => engine.activeEmbedder!.stats.texts;
    const paths = async (q: string, k = 50) => (await engine.search([root], q, { mode: 'text', k })).map((h) => h.path);

    before(async () => {
      const made = await backend.create();
      cleanupDb = made.cleanup;
      target = made.target;
      model = await testModel(32);
      engine = await Engine.open({ db: made.target, model });
      first = await engine.index({ roots: [root] });
    });
    after(async () => {
      await engine?.close();
      await cleanupDb?.();
      work.cleanup();
    });

    test('a cold index embeds every chunk once and builds the HNSW index', async () => {
      assert.equal(first.files, 11); // 10 fixtures and .gitignore
      assert.equal(first.changedFiles, 11);
      assert.ok(first.chunks > 20, `chunks ${first.chunks}`);
      assert.equal(first.embedded + first.reused, first.chunks);
      assert.equal(texts(), first.embedded);
      assert.ok(first.hnswBuilt);
      assert.ok(!(await paths('zorkmid')).length, '.gitignore respected');
      const cb = (await engine.status([root]))[0]!;
      assert.equal(cb.chunks, first.chunks);
      assert.ok(cb.hnsw);
    });

    test('re-indexing an unchanged tree calls the model zero times', async () => {
      const before = calls();
      const s = await engine.index({ roots: [root] });
      assert.equal(calls(), before);
      assert.equal(s.embedded, 0);
      assert.equal(s.unchangedFiles, 11);
      assert.equal(s.chunks, first.chunks);
    });

    test('editing one file re-embeds only that file', async () => {
      const before = texts();
      writeFile(root, 'src/extra.py', 'def quuxblorp(a, b):\n    """Adds numbers."""\n    return a + b\n');
      const s = await engine.index({ roots: [root] });
      assert.equal(s.changedFiles, 1);
      assert.equal(s.embedded, texts() - before);
      assert.ok(s.embedded >= 1 && s.embedded <= 2, `embedded ${s.embedded}`);
      assert.deepEqual(await paths('quuxblorp', 1), ['src/extra.py']);

      const before2 = texts();
      writeFile(root, 'src/extra.py', 'def plughwarble(a, b):\n    """Adds numbers."""\n    return a + b\n');
      const s2 = await engine.index({ roots: [root] });
      assert.equal(s2.changedFiles, 1);
      assert.equal(texts() - before2, s2.embedded);
      assert.ok(s2.embedded >= 1 && s2.embedded <= 2);
      assert.deepEqual(await paths('quuxblorp'), []);
      assert.deepEqual(await paths('plughwarble', 1), ['src/extra.py']);
    });

    test('renaming a file re-embeds that file only and the old path disappears', async () => {
      const before = texts();
      renameSync(join(root, 'src/extra.py'), join(root, 'src/moved.py'));
      const s = await engine.index({ roots: [root] });
      assert.equal(s.changedFiles, 1);
      assert.equal(s.deletedFiles, 1);
      assert.ok(s.embedded >= 1 && s.embedded <= 2);
      assert.equal(texts() - before, s.embedded);
      assert.deepEqual(await paths('plughwarble'), ['src/moved.py']);
    });

    test('deleting a file removes it from results without model calls', async () => {
      const before = calls();
      rmSync(join(root, 'src/moved.py'));
      const s = await engine.index({ roots: [root] });
      assert.equal(calls(), before);
      assert.equal(s.deletedFiles, 1);
      assert.deepEqual(await paths('plughwarble'), []);
      const all = await engine.search([root], 'function', { mode: 'vector', k: 200 });
      assert.ok(all.every((h) => h.path !== 'src/moved.py'));
    });

    test('identical model inputs in another root reuse the cache', async () => {
      const twin = makeProject(join(work.dir, 'twin'));
      const before = calls();
      const s = await engine.index({ roots: [twin] });
      assert.equal(calls(), before, 'no model call for inputs already embedded');
      assert.equal(s.embedded, 0);
      assert.equal(s.reused, s.chunks);
      assert.equal(s.chunks, first.chunks);
      // ... and the twin is its own codebase: results never leak across roots.
      const hits = await engine.search([twin], 'cache', { mode: 'hybrid', k: 20 });
      assert.ok(hits.length > 0 && hits.every((h) => h.root!.endsWith('twin')));
    });

    test('all three search modes find a function by its words', async () => {
      for (const mode of ['text', 'vector', 'hybrid'] as const) {
        const hits = await engine.search([root], 'ring buffer push', { mode, k: 5 });
        assert.equal(hits.length, 5, mode);
        for (const h of hits) {
          assert.ok(h.startLine >= 1 && h.endLine >= h.startLine);
          assert.ok(typeof h.snippet === 'string' && h.snippet.length > 0);
        }
      }
      const text = await engine.search([root], 'ring buffer push', { mode: 'text', k: 3 });
      assert.equal(text[0]!.path, 'src/ringbuf.c');
      const filtered = await engine.search([root], 'ring buffer push', { mode: 'hybrid', k: 50, language: 'python' });
      assert.ok(filtered.length > 0 && filtered.every((h) => h.language === 'python'));
      const globbed = await engine.search([root], 'ring buffer push', { mode: 'vector', k: 50, glob: '*.go' });
      assert.ok(globbed.length > 0 && globbed.every((h) => h.path.endsWith('.go')));
    });

    test('another model (other dimension) is refused with both names and the rebuild command, and --rebuild switches', async () => {
      const other = await testModel(16, 2);
      await engine.close();
      engine = await Engine.open({ db: target, model: other });
      await assert.rejects(engine.index({ roots: [root] }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'model_mismatch');
        assert.match(e.message, /dim 32/);
        assert.match(e.message, /dim 16/);
        assert.match(e.message, /--rebuild/);
        return true;
      });
      await assert.rejects(engine.search([root], 'x', { mode: 'vector' }), /model/);
      const s = await engine.index({ roots: [root], rebuild: true });
      assert.equal(s.dimension, 16);
      assert.equal(s.embedded + s.reused, s.chunks);
      const hits = await engine.search([root], 'ring buffer', { mode: 'vector', k: 3 });
      assert.equal(hits.length, 3);
    });
  });
}

for (const backend of BACKENDS) {
  describe(`re-indexing given paths on ${backend.name} (the file watcher's runs)`, () => {
    let engine: Engine;
    let cleanupDb: () => Promise<void>;
    const work = tempDir('paths');
    const root = makeProject(join(work.dir, 'project'));
    const texts = () => engine.activeEmbedder!.stats.texts;
    const paths = async (q: string, k = 50) => (await engine.search([root], q, { mode: 'text', k })).map((h) => h.path);
    /** Indexes the paths; returns the summary and the files reported changed and deleted. */
    const run = async (listed: string[], extra: Partial<IndexOptions> = {}) => {
      const changedPaths: string[] = [];
      const deletedPaths: string[] = [];
      const summary = await engine.index({
        roots: [root],
        paths: listed,
        onFile: (f) => (f.deleted ? deletedPaths : changedPaths).push(f.path),
        ...extra,
      });
      return { ...summary, changedPaths, deletedPaths };
    };

    /** term_stats and the corpus figures exactly as a full recount leaves them. */
    async function bm25Stats(): Promise<{ terms: string; n: number; avg: number }> {
      const cb = (await engine.store.codebase(realpathSync(root)))!;
      const t = await engine.db.query<{ lexeme: string; df: number }>('SELECT lexeme, df FROM term_stats WHERE codebase_id = $1 ORDER BY lexeme', [cb.id]);
      return { terms: t.rows.map((r) => `${r.lexeme}:${r.df}`).join(' '), n: cb.nChunks, avg: Math.round(cb.avgTokens * 1e6) / 1e6 };
    }

    before(async () => {
      const made = await backend.create();
      cleanupDb = made.cleanup;
      engine = await Engine.open({ db: made.target, model: await testModel(32) });
      await engine.index({ roots: [root] });
    });
    after(async () => {
      await engine?.close();
      await cleanupDb?.();
      work.cleanup();
    });

    test('only the listed file is re-read and re-embedded; an unlisted edit waits for its own event', async () => {
      writeFile(root, 'src/listed.py', 'def wibblesnark(x):\n    return x * 2\n');
      writeFile(root, 'src/unlisted.py', 'def wobblequark(x):\n    return x * 3\n');
      const before = texts();
      const s = await run(['src/listed.py']);
      assert.equal(s.files, 1, 'one file read, no walk');
      assert.deepEqual(s.changedPaths, ['src/listed.py']);
      assert.equal(s.deletedFiles, 0);
      assert.equal(texts() - before, s.embedded);
      assert.ok(s.embedded >= 1 && s.embedded <= 2, `embedded ${s.embedded}`);
      assert.deepEqual(await paths('wibblesnark', 1), ['src/listed.py']);
      assert.deepEqual(await paths('wobblequark'), []);
      const s2 = await run(['src/unlisted.py', 'src/listed.py']);
      assert.deepEqual(s2.changedPaths, ['src/unlisted.py'], 'the unchanged listed file costs nothing');
      assert.deepEqual(await paths('wobblequark', 1), ['src/unlisted.py']);
    });

    test('a listed path that is gone, or a deleted directory, removes what was indexed under it', async () => {
      writeFile(root, 'lib/a/one.ts', 'export function quibbleOne() { return 1; }\n');
      writeFile(root, 'lib/a/two.ts', 'export function quibbleTwo() { return 2; }\n');
      const added = await run(['lib']);
      assert.deepEqual(added.changedPaths.sort(), ['lib/a/one.ts', 'lib/a/two.ts'], 'a listed directory is walked');
      rmSync(join(root, 'src/listed.py'));
      const s = await run(['src/listed.py']);
      assert.deepEqual(s.deletedPaths, ['src/listed.py']);
      assert.deepEqual(await paths('wibblesnark'), []);
      rmSync(join(root, 'lib'), { recursive: true });
      const s2 = await run(['lib']);
      assert.deepEqual(s2.deletedPaths.sort(), ['lib/a/one.ts', 'lib/a/two.ts']);
      assert.deepEqual(await paths('quibble'), []);
      assert.ok((await paths('wobblequark')).length, 'files outside the listed paths stay');
    });

    test('ignore rules apply to listed paths: an ignored file is not indexed, a newly ignored one is removed', async () => {
      writeFile(root, 'build/new.js', 'function zorkmidNew() { return 2; }\n');
      const s = await run(['build/new.js', 'build/out.js']);
      assert.equal(s.changedFiles, 0);
      assert.deepEqual(await paths('zorkmid'), []);
      writeFile(root, 'gen/made.ts', 'export function glorpMade() { return 3; }\n');
      await run(['gen/made.ts']);
      assert.deepEqual(await paths('glorpMade'), ['gen/made.ts']);
      writeFile(root, '.semcodeignore', 'gen/\n');
      const s2 = await run(['gen/made.ts']);
      assert.deepEqual(s2.deletedPaths, ['gen/made.ts']);
      assert.deepEqual(await paths('glorpMade'), []);
      rmSync(join(root, '.semcodeignore'));
      await run(['.semcodeignore']);
    });

    test('BM25 statistics kept per job equal a full recount', async () => {
      writeFile(root, 'src/stats.go', 'package x\n\nfunc ZapStats(a int) int { return a + a }\n\nfunc ZapMore(b int) int { return b }\n');
      await run(['src/stats.go']);
      writeFile(root, 'src/stats.go', 'package x\n\nfunc ZapStats(a int) int { return a - a }\n');
      await run(['src/stats.go', 'src/unlisted.py']);
      rmSync(join(root, 'src/unlisted.py'));
      await run(['src/unlisted.py']);
      const incremental = await bm25Stats();
      await engine.store.refreshTermStats((await engine.store.codebase(realpathSync(root)))!.id);
      assert.deepEqual(incremental, await bm25Stats());
      assert.ok(incremental.terms.includes('zapstat:1'), 'ZapStats, stemmed');
    });

    test('a pause gate holds the next job until it opens, and an abort stops the run', async () => {
      for (let i = 0; i < 4; i++) writeFile(root, `gate/f${i}.py`, `def gated_${i}(x):\n    return x + ${i}\n`);
      let open!: () => void;
      let gated = 0;
      const opened = new Promise<void>((r) => (open = r));
      const pending = run(['gate'], { jobChunks: 1, gate: () => (gated++, opened) });
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(await paths('gated'), [], 'nothing stored while the gate is closed');
      open();
      const s = await pending;
      assert.equal(s.changedFiles, 4);
      assert.ok(gated >= 4);
      writeFile(root, 'gate/f9.py', 'def gated_9(x):\n    return x\n');
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(run(['gate/f9.py'], { signal: ac.signal }), /cancelled/);
    });
  });
}

describe('losing the database in the middle of indexing (postgres)', () => {
  test('fails with a clear error and leaves every file either fully indexed or absent', async () => {
    const { createTestDatabase, adminUrl } = await import('./helpers/pg');
    const pg = (await import('pg')).default;
    const { createChunker } = await import('../server/src/index/chunker');
    const { readFileSync, readdirSync } = await import('node:fs');
    const db = await createTestDatabase();
    const work = tempDir('dbloss');
    try {
      const root = join(work.dir, 'p');
      // Enough files for several jobs of 8 chunks, so the connection dies between committed jobs.
      for (let copy = 0; copy < 6; copy++) makeProject(join(root, `copy${copy}`));
      const engine = await Engine.open({ db: { url: db.url }, model: await testModel(32) });
      const admin = new pg.Client({ connectionString: adminUrl() });
      await admin.connect();
      const dbName = db.url.split('/').pop()!;
      // In an object: a `let` assigned only in the callback would stay `null` to the type checker.
      const cut: { killed?: Promise<unknown> } = {};
      await assert.rejects(
        engine.index({
          roots: [root],
          jobChunks: 8,
          onProgress: (p) => {
            if (!cut.killed && p.chunksDone > 0) {
              // Refuse new connections, then cut the open ones: the pool cannot reconnect its way around it.
              cut.killed = admin
                .query(`ALTER DATABASE "${dbName}" ALLOW_CONNECTIONS false`)
                .then(() => admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [dbName]));
            }
          },
        }),
        (e: Error & { code?: string }) => e.code === 'db_unreachable' || e.code === 'db_error',
      );
      assert.ok(cut.killed, 'the connection was cut mid-run');
      await cut.killed;
      await admin.query(`ALTER DATABASE "${dbName}" ALLOW_CONNECTIONS true`);
      await admin.end();
      await engine.close().catch(() => {});

      // Every file row has exactly the chunks the chunker makes for it: no half-written file.
      const check = new pg.Client({ connectionString: db.url });
      await check.connect();
      const rows = (await check.query('SELECT f.path, count(c.id)::int AS n FROM files f LEFT JOIN chunks c USING (codebase_id, path) GROUP BY f.path')).rows;
      await check.end();
      assert.ok(rows.length > 0, 'some jobs committed before the cut');
      const chunker = await createChunker();
      for (const r of rows as { path: string; n: number }[]) {
        const expected = chunker.chunk(r.path, readFileSync(join(root, r.path), 'utf8')).length;
        assert.equal(r.n, expected, r.path);
      }
      const total = readdirSync(root).length * 11;
      assert.ok(rows.length < total, `not everything was indexed (${rows.length} of ${total})`);
    } finally {
      await db.drop();
      work.cleanup();
    }
  });
});
