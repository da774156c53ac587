// Two writers of one codebase at once, on a real PostgreSQL + pgvector (and PGlite where it applies): two
// `semcode index` runs stored every file twice and failed on BM25 statistics; two first-time runs raced on
// CREATE EXTENSION. Each run here has its own Engine, so its own pool and connections, as two processes would.
import { after, before, describe, test } from 'node:test';
import { recountTermStats } from '../server/src/store/termStats';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../server/src/engine';
import { isSemcodeError } from '../server/src/errors';
import type { Db } from '../server/src/store/db';
import { type FileWrite, IndexStore, vectorLiteral } from '../server/src/store/indexStore';
import { openDb } from '../server/src/store/open';
import { searchText } from '../server/src/text/terms';
import { BACKENDS } from './helpers/backends';
import { openWithMigrations } from './helpers/oldSchema';
import { createTestDatabase } from './helpers/pg';
import { tempDir, testModel } from './helpers/workspace';
import { unitVector } from './helpers/vectors';

/** `files` files of `fns` functions each, every function distinct. */
function makeTree(dir: string, files: number, fns = 5): string {
  for (let f = 0; f < files; f++) {
    const sub = join(dir, `pkg${f % 10}`);
    mkdirSync(sub, { recursive: true });
    const body = Array.from({ length: fns }, (_, i) => `export function handler${f}x${i}(input: number): number {\n  return input * ${f} + ${i};\n}\n`);
    writeFileSync(join(sub, `mod${f}.ts`), body.join('\n'));
  }
  return dir;
}

async function chunkFacts(db: Db): Promise<{ chunks: number; duplicates: number }> {
  const r = await db.query<{ chunks: number; duplicates: number }>(
    `SELECT count(*)::int AS chunks,
            (count(*) - count(DISTINCT (codebase_id, path, start_line, end_line)))::int AS duplicates FROM chunks`,
  );
  return r.rows[0]!;
}

const postgres = BACKENDS.find((b) => b.name === 'postgres')!;

describe('two index runs of one codebase on postgres', () => {
  const work = tempDir('concurrent');
  const root = makeTree(join(work.dir, 'tree'), 400);
  let model: string;
  let made: Awaited<ReturnType<typeof postgres.create>>;
  let a: Engine;
  let b: Engine;

  before(async () => {
    model = await testModel(16);
    made = await postgres.create();
    a = await Engine.open({ db: made.target, model });
    b = await Engine.open({ db: made.target, model });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await made?.cleanup();
    work.cleanup();
  });

  test('the second run fails with index_busy naming the first, and nothing is stored twice', async () => {
    const results = await Promise.allSettled([a.index({ roots: [root] }), b.index({ roots: [root] })]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(ok.length, 1, `exactly one run completes: ${failed.map((f) => String(f.reason)).join('; ')}`);
    assert.equal(failed.length, 1);
    const e: unknown = failed[0]!.reason;
    assert.ok(isSemcodeError(e, 'index_busy'), `index_busy, got ${String(e)}`);
    assert.match(e.message, /is being indexed by semcode index, pid \d+ on /);
    const facts = await chunkFacts(a.db);
    assert.equal(facts.duplicates, 0);
    assert.equal(facts.chunks, 2000);
    const [status] = await a.status([root]);
    assert.equal(status!.chunks, 2000);
    assert.equal(status!.incomplete, false);
  });

  test('runs that wait for the lease run one after the other', async () => {
    const busy: string[] = [];
    const onBusy = (m: string) => busy.push(m);
    const runs = await Promise.all([
      a.index({ roots: [root], rebuild: true, waitForLease: true, onBusy }),
      b.index({ roots: [root], waitForLease: true, onBusy }),
    ]);
    assert.equal(busy.length, 1, 'the waiting run heard who held the lease');
    assert.match(busy[0]!, /is being indexed by semcode index, pid/);
    // Whichever went second found the other's work done (or redid it all, for the rebuild): never half of each.
    assert.deepEqual(
      runs.map((r) => r.changedFiles).sort((x, y) => x - y),
      [0, 400],
    );
    assert.deepEqual(await chunkFacts(a.db), { chunks: 2000, duplicates: 0 });
  });

  test('search returns each chunk once', async () => {
    const hits = await b.search([root], 'handler17x3', { mode: 'hybrid', k: 20 });
    const keys = hits.map((h) => `${h.path}:${h.startLine}`);
    assert.equal(new Set(keys).size, keys.length);
    assert.equal(hits[0]!.symbol, 'handler17x3');
  });
});

for (const backend of BACKENDS) {
  describe(`concurrent writes of the same files on ${backend.name}`, () => {
    let made: Awaited<ReturnType<typeof backend.create>>;
    let db1: Db;
    let db2: Db;
    before(async () => {
      made = await backend.create();
      db1 = await openDb(made.target);
      // PGlite is one process's database: its second "writer" is the same handle, as a language server's
      // watcher run and a rebuild would share it.
      db2 = backend.name === 'postgres' ? await openDb(made.target) : db1;
    });
    after(async () => {
      if (db2 !== db1) await db2?.close();
      await db1?.close();
      await made?.cleanup();
    });

    const write = (n: number): FileWrite => ({
      path: 'src/a.ts',
      contentHash: `h${n}`,
      size: 10,
      language: 'typescript',
      chunks: [0, 1, 2].map((i) => {
        const st = searchText(`alpha beta gamma${i} version${n}`);
        return {
          path: 'src/a.ts',
          startLine: i * 5 + 1,
          endLine: i * 5 + 4,
          symbol: `f${i}`,
          kind: 'function',
          language: 'typescript',
          content: `function f${i}() {}`,
          hash: `c${i}`,
          embedding: vectorLiteral(unitVector(8, i)),
          searchText: st.text,
          words: st.words,
          bm25: st.bm25,
        };
      }),
    });

    test('replacing one file from two connections at once leaves one copy of its chunks and exact statistics', async () => {
      const s1 = new IndexStore(db1);
      const s2 = new IndexStore(db2);
      const cb = await s1.ensureCodebase('/concurrent/replace');
      for (let round = 0; round < 10; round++) {
        await Promise.all([
          s1.replaceFiles(cb.id, [write(round * 2)], { termStats: true }),
          s2.replaceFiles(cb.id, [write(round * 2 + 1)], { termStats: true }),
          s1.deleteFiles(cb.id, ['src/none.ts'], { termStats: true }),
        ]);
      }
      const n = await db1.query<{ n: number }>('SELECT count(*)::int AS n FROM chunks WHERE codebase_id = $1', [cb.id]);
      assert.equal(n.rows[0]!.n, 3);
      // The per-file statistics moved with the chunks: they equal a recount from scratch.
      const kept = (await s1.codebase('/concurrent/replace'))!;
      const stats = await db1.query<{ lexeme: string; df: number }>('SELECT lexeme, df FROM term_stats WHERE codebase_id = $1 ORDER BY lexeme', [cb.id]);
      await s1.refreshTermStats(cb.id);
      const recount = await db1.query<{ lexeme: string; df: number }>('SELECT lexeme, df FROM term_stats WHERE codebase_id = $1 ORDER BY lexeme', [cb.id]);
      assert.deepEqual(stats.rows, recount.rows);
      assert.equal(kept.nChunks, 3);
    });

    test('two recounts of BM25 statistics at once both succeed', async () => {
      const s1 = new IndexStore(db1);
      const s2 = new IndexStore(db2);
      const cb = await s1.ensureCodebase('/concurrent/recount');
      await s1.replaceFiles(cb.id, [write(1)]);
      for (let round = 0; round < 5; round++) await Promise.all([s1.refreshTermStats(cb.id), s2.refreshTermStats(cb.id)]);
      const r = await db1.query<{ n: number }>('SELECT count(*)::int AS n FROM term_stats WHERE codebase_id = $1', [cb.id]);
      assert.ok(r.rows[0]!.n > 0);
    });
  });
}

describe('first-time runs on an empty postgres database', () => {
  test('several processes creating the schema at once all succeed', async () => {
    for (let round = 0; round < 3; round++) {
      const made = await createTestDatabase('semcode_race', { extension: false });
      const dbs: Db[] = [];
      try {
        const opened = await Promise.allSettled(Array.from({ length: 4 }, () => openDb({ url: made.url })));
        for (const o of opened) if (o.status === 'fulfilled') dbs.push(o.value);
        const errors = opened.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => String(o.reason));
        assert.deepEqual(errors, []);
      } finally {
        for (const db of dbs) await db.close();
        await made.drop();
      }
    }
  });
});

describe('an index that two earlier runs stored twice, on postgres', () => {
  let made: Awaited<ReturnType<typeof postgres.create>>;
  before(async () => {
    made = await postgres.create();
  });
  after(async () => {
    await made?.cleanup();
  });

  test('upgrading removes the copies, marks their files changed and the index incomplete', async () => {
    const old = await openWithMigrations(made.target, 3);
    const store = new IndexStore(old);
    let cbId: number;
    try {
      // Raw SQL where the store would read columns this old schema lacks.
      cbId = (await old.query<{ id: number }>("INSERT INTO codebases (root) VALUES ('/dup/root') RETURNING id")).rows[0]!.id;
      const cb = { id: cbId };
      await store.setModel(cb.id, 'm', 'mh', 8);
      const st = searchText('duplicated words');
      const chunk = {
        path: 'a.ts',
        startLine: 1,
        endLine: 3,
        symbol: 'f',
        kind: 'function',
        language: 'typescript',
        content: 'function f() {}',
        hash: 'c',
        embedding: vectorLiteral(unitVector(8, 0)),
        searchText: st.text,
        words: st.words,
        bm25: st.bm25,
      };
      await store.replaceFiles(cb.id, [{ path: 'a.ts', contentHash: 'ha', size: 1, language: 'typescript', chunks: [chunk] }]);
      await store.replaceFiles(cb.id, [{ path: 'b.ts', contentHash: 'hb', size: 1, language: 'typescript', chunks: [{ ...chunk, path: 'b.ts' }] }]);
      await old.transaction((tx) => recountTermStats(tx, cb.id)); // refreshTermStats also asks for migration 6's maintenance
      // What the race left: a.ts's chunk twice (raw SQL: the store no longer writes such a thing).
      await old.query(
        `INSERT INTO chunks (codebase_id, path, start_line, end_line, symbol, kind, language, content, content_hash, embedding, tsv, n_tokens, bm25, symbol_words)
         SELECT codebase_id, path, start_line, end_line, symbol, kind, language, content, content_hash, embedding, tsv, n_tokens, bm25, symbol_words
           FROM chunks WHERE path = 'a.ts'`,
      );
    } finally {
      await old.close();
    }
    const db = await openDb(made.target);
    try {
      const facts = await chunkFacts(db);
      assert.deepEqual(facts, { chunks: 2, duplicates: 0 });
      const files = await db.query<{ path: string; content_hash: string }>('SELECT path, content_hash FROM files ORDER BY path');
      assert.notEqual(files.rows[0]!.content_hash, 'ha', 'a.ts is re-read by the next run');
      assert.equal(files.rows[1]!.content_hash, 'hb');
      const cb = (await new IndexStore(db).codebase('/dup/root'))!;
      assert.equal(cb.id, cbId!);
      assert.equal(cb.incomplete, true);
      assert.equal(cb.nChunks, 2);
    } finally {
      await db.close();
    }
  });
});

describe('an index run that stops part way, on pglite', () => {
  const pglite = BACKENDS.find((x) => x.name === 'pglite')!;
  const work = tempDir('partial');
  const root = makeTree(join(work.dir, 'tree'), 60);
  let made: Awaited<ReturnType<typeof pglite.create>>;
  let engine: Engine;
  before(async () => {
    made = await pglite.create();
    engine = await Engine.open({ db: made.target, model: await testModel(16) });
  });
  after(async () => {
    await engine?.close();
    await made?.cleanup();
    work.cleanup();
  });

  test('leaves the index marked incomplete until a run finishes', async () => {
    const ac = new AbortController();
    await assert.rejects(
      engine.index({ roots: [root], jobChunks: 20, signal: ac.signal, onProgress: (p) => void (p.chunksDone >= 40 && ac.abort()) }),
      /cancelled/,
    );
    assert.equal((await engine.status([root]))[0]!.incomplete, true);
    await engine.index({ roots: [root] });
    assert.equal((await engine.status([root]))[0]!.incomplete, false);
  });

  test('a second run of the same process on the same codebase is index_busy while the first holds it', async () => {
    // The first run's gate runs once it holds the lease: the second run starts and ends inside it.
    let outcome: unknown = null;
    await engine.index({
      roots: [root],
      rebuild: true,
      gate: async () => {
        if (outcome === null)
          outcome = await engine.index({ roots: [root] }).then(
            () => 'completed',
            (e: unknown) => e,
          );
      },
    });
    assert.ok(isSemcodeError(outcome, 'index_busy'), `index_busy, got ${String(outcome)}`);
  });
});
