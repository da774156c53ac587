// The storage layer against real PGlite and real PostgreSQL + pgvector, with hand-made vectors (this suite
// tests SQL, not a model).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Db } from '../server/src/store/db';
import { type Codebase, type FileWrite, IndexStore, hnswIndexName, hnswScope, vectorLiteral } from '../server/src/store/indexStore';
import { migrate } from '../server/src/store/migrations';
import { BM25_PIVOT, queryBm25Vector, saturatedTf } from '../server/src/text/bm25Vector';
import { openDb } from '../server/src/store/open';
import { Searcher } from '../server/src/search/search';
import { searchTerms, searchText, stem, wordsOf } from '../server/src/text/terms';
import { BACKENDS } from './helpers/backends';
import { unitVector } from './helpers/vectors';
import { openWithMigrations } from './helpers/oldSchema';

const DIM = 8;

const unit = (axis: number, tilt = 0): number[] => unitVector(DIM, axis, tilt);

function file(path: string, chunks: { content: string; vec: number[]; language?: string; symbol?: string }[]): FileWrite {
  return {
    path,
    contentHash: `h-${path}-${chunks.map((c) => c.content).join('|').length}`,
    size: 100,
    language: chunks[0]?.language ?? 'typescript',
    chunks: chunks.map((c, i) => {
      const st = searchText(c.content);
      return {
        path,
        startLine: i * 10 + 1,
        endLine: i * 10 + 9,
        symbol: c.symbol ?? null,
        kind: 'function',
        language: c.language ?? 'typescript',
        content: c.content,
        hash: `c${i}`,
        embedding: vectorLiteral(c.vec),
        searchText: st.text,
        words: st.words,
        bm25: st.bm25,
      };
    }),
  };
}

for (const backend of BACKENDS) {
  describe(`store on ${backend.name}`, () => {
    let db: Db;
    let store: IndexStore;
    let cleanup: () => Promise<void>;

    let made: Awaited<ReturnType<typeof backend.create>> | undefined;
    before(async () => {
      made = await backend.create();
      cleanup = made.cleanup;
      db = await openDb(made.target);
      store = new IndexStore(db);
    });
    after(async () => {
      await db?.close();
      await cleanup?.();
    });

    async function freshCodebase(root: string): Promise<Codebase> {
      const cb = await store.ensureCodebase(root);
      await store.setModel(cb.id, 'test-model', 'hash-1', DIM);
      return (await store.codebase(root))!;
    }

    test('migrations are recorded and idempotent', async () => {
      assert.equal(await migrate(db), 0);
      const r = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
      assert.ok(r.rows[0]!.n >= 1);
    });

    test('replacing a file is one transaction: a failure keeps the old chunks', async () => {
      const cb = await freshCodebase('/repo/atomic');
      await store.replaceFiles(cb.id, [
        file('a.ts', [
          { content: 'old one', vec: unit(0) },
          { content: 'old two', vec: unit(1) },
        ]),
      ]);
      const bad = file('a.ts', [{ content: 'new one', vec: unit(2) }]);
      bad.chunks[0]!.embedding = '[not a vector]';
      await assert.rejects(store.replaceFiles(cb.id, [bad]), (e: Error & { code?: string }) => e.code === 'db_error');
      const rows = await db.query<{ content: string }>('SELECT content FROM chunks WHERE codebase_id = $1 ORDER BY content', [cb.id]);
      assert.deepEqual(
        rows.rows.map((r) => r.content),
        ['old one', 'old two'],
      );
      assert.equal(
        (await store.fileHashes(cb.id)).get('a.ts'),
        file('a.ts', [
          { content: 'old one', vec: [] },
          { content: 'old two', vec: [] },
        ]).contentHash,
      );
    });

    test('deleting a file removes its chunks', async () => {
      const cb = await freshCodebase('/repo/delete');
      await store.replaceFiles(cb.id, [file('x.ts', [{ content: 'x', vec: unit(0) }]), file('y.ts', [{ content: 'y', vec: unit(1) }])]);
      await store.deleteFiles(cb.id, ['x.ts']);
      assert.deepEqual(await store.counts(cb.id), { files: 1, chunks: 1 });
    });

    test('embedding cache is keyed by codebase, model hash and input hash; a lookup reuses another readable codebase’s', async () => {
      const cb = await freshCodebase('/repo/cache');
      const other = await freshCodebase('/repo/cache-other');
      await store.cacheEmbeddings(cb.id, 'm1', [{ inputHash: 'i1', embedding: vectorLiteral(unit(3)) }]);
      await store.cacheEmbeddings(cb.id, 'm1', [{ inputHash: 'i1', embedding: vectorLiteral(unit(4)) }]); // first write wins
      const hit = await store.cachedEmbeddings(cb.id, 'm1', ['i1', 'i2']);
      assert.deepEqual([...hit.keys()], ['i1']);
      const v = JSON.parse(hit.get('i1')!.embedding) as number[];
      assert.ok(Math.abs(v[3]! - 1) < 1e-6);
      assert.equal(hit.get('i1')!.own, true);
      assert.equal((await store.cachedEmbeddings(cb.id, 'm2', ['i1'])).size, 0);
      assert.equal((await store.cachedEmbeddings(other.id, 'm1', ['i1'])).get('i1')?.own, false, 'another codebase reuses it, as not its own');
      await store.cacheEmbeddings(other.id, 'm1', [{ inputHash: 'i1', embedding: vectorLiteral(unit(5)) }]);
      const own = (await store.cachedEmbeddings(other.id, 'm1', ['i1'])).get('i1')!;
      assert.equal(own.own, true, 'its own row comes first');
      assert.ok(Math.abs((JSON.parse(own.embedding) as number[])[5]! - 1) < 1e-6);
    });

    describe('search', () => {
      let cb: Codebase;
      let other: Codebase;
      before(async () => {
        cb = await freshCodebase('/repo/search');
        other = await freshCodebase('/repo/other');
        const files: FileWrite[] = [];
        // 600 chunks near axis 0; one in twenty is Python, so a language filter keeps 30 of them.
        for (let f = 0; f < 60; f++) {
          files.push(
            file(
              `src/f${f}.${f % 20 === 0 ? 'py' : 'ts'}`,
              Array.from({ length: 10 }, (_, i) => ({
                content: `function helper${f}_${i}() { return ${f * i}; }`,
                vec: unit(0, (f * 10 + i) / 600),
                language: f % 20 === 0 ? 'python' : 'typescript',
              })),
            ),
          );
        }
        files.push(
          file('src/config.ts', [
            { content: 'function parseConfigurationFile(path) { /* parse the configuration file */ }', vec: unit(5), symbol: 'parseConfigurationFile' },
            { content: 'const configuration = {}', vec: unit(6) },
          ]),
        );
        await store.replaceFiles(cb.id, files);
        await store.replaceFiles(other.id, [file('src/config.ts', [{ content: 'parse configuration file elsewhere', vec: unit(0) }])]);
        for (const c of [cb, other]) await store.refreshTermStats(c.id);
        cb = (await store.codebase('/repo/search'))!;
        other = (await store.codebase('/repo/other'))!;
        assert.ok(await store.ensureHnsw(cb, DIM));
        assert.ok(await store.ensureHnsw(other, DIM));
      });

      const searcher = () => new Searcher(db, () => Promise.resolve(unit(0)));

      test('vector search uses the codebase HNSW index and never returns another codebase', async () => {
        // With scans forbidden, the plan can only be the partial index: proves the query form matches it.
        const plan = await db.transaction(async (tx) => {
          await tx.query('SET LOCAL enable_seqscan = off');
          await tx.query('SET LOCAL enable_bitmapscan = off');
          await tx.query('SET LOCAL enable_sort = off');
          return tx.query<Record<string, string>>(
            `EXPLAIN SELECT id FROM chunks c WHERE ${hnswScope(cb.id, DIM)}
              ORDER BY c.embedding::vector(${DIM}) <=> '${vectorLiteral(unit(0))}'::vector(${DIM}) LIMIT 10`,
          );
        });
        assert.match(plan.rows.map((r) => Object.values(r)[0]).join('\n'), new RegExp(hnswIndexName(cb.id)));
        const hits = await searcher().search([cb], 'anything', { mode: 'vector', k: 10 });
        assert.equal(hits.length, 10);
        assert.ok(hits.every((h) => h.root === '/repo/search'));
        assert.equal(hits[0]!.path, 'src/f0.py'); // the least tilted vector is the nearest
        for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1]!.score >= hits[i]!.score);
      });

      test('filtered vector search returns k results when k exist (iterative scan)', async () => {
        const hits = await searcher().search([cb], 'anything', { mode: 'vector', k: 25, language: 'python' });
        assert.equal(hits.length, 25);
        assert.ok(hits.every((h) => h.language === 'python'));
        const globbed = await searcher().search([cb], 'anything', { mode: 'vector', k: 12, glob: 'src/f4*.ts' });
        assert.equal(globbed.length, 12);
        assert.ok(globbed.every((h) => /^src\/f4\d*\.ts$/.test(h.path)));
      });

      test('text search ranks chunks matching ANY term, best BM25 first', async () => {
        const hits = await searcher().search([cb], 'how to parse the configuration file', { mode: 'text', k: 5 });
        assert.equal(hits[0]!.symbol, 'parseConfigurationFile');
        assert.ok(
          hits.some((h) => h.snippet.startsWith('const configuration')),
          'a chunk with only one of the terms is found',
        );
        assert.ok(hits.every((h) => h.root === '/repo/search'));
        const ident = await searcher().search([cb], 'parse_configuration_file', { mode: 'text', k: 1 });
        assert.equal(ident[0]!.symbol, 'parseConfigurationFile');
      });

      test('text scores are Okapi BM25 with the codebase’s own average length, though candidates are ranked at the pivot', async () => {
        const query = 'parse the configuration file';
        const hits = await searcher().search([cb], query, { mode: 'text', k: 3 });
        const docs = (
          await db.query<{ id: string; content: string; n: number }>('SELECT id::text AS id, content, n_tokens AS n FROM chunks WHERE codebase_id = $1', [
            cb.id,
          ])
        ).rows;
        const avg = docs.reduce((a, d) => a + d.n, 0) / docs.length;
        assert.notEqual(Math.round(avg), BM25_PIVOT, 'the test needs an average far from the pivot');
        const okapi = (content: string): number => {
          const words = wordsOf(content).map(stem);
          let s = 0;
          for (const t of searchTerms(query)) {
            const tf = words.filter((w) => w === t).length;
            if (!tf) continue;
            const df = docs.filter((d) => wordsOf(d.content).map(stem).includes(t)).length;
            const idf = Math.log(1 + (docs.length - df + 0.5) / (df + 0.5));
            s += (idf * tf * 2.2) / (tf + 1.2 * (0.25 + (0.75 * words.length) / avg));
          }
          return s;
        };
        assert.ok(hits.length >= 2);
        for (const h of hits) {
          const content = docs.find((d) => d.id === h.id)!.content;
          assert.ok(Math.abs(h.score - okapi(content)) < 1e-9, `${content}: ${h.score} vs ${okapi(content)}`);
        }
      });

      test('a chunk’s stored BM25 vector times the query’s idf vector is its BM25 score at the pivot length', async () => {
        const r = await db.query<{ ip: number; n: number }>(
          `SELECT -(bm25 <#> $2::sparsevec) AS ip, n_tokens AS n FROM chunks WHERE codebase_id = $1 AND symbol = 'parseConfigurationFile'`,
          [cb.id, queryBm25Vector(['configuration', stem('parse'), 'missing'], [2, 0.5, 7])],
        );
        // parseConfigurationFile(path) { /* parse the configuration file */ }: "parse" and "configuration" twice
        // each (identifier part and comment word); "missing" not at all.
        const expected = 2 * saturatedTf(2, r.rows[0]!.n) + 0.5 * saturatedTf(2, r.rows[0]!.n);
        assert.ok(Math.abs(Number(r.rows[0]!.ip) - expected) < 1e-5, `${r.rows[0]!.ip} vs ${expected}`);
      });

      // Score fusion (server/src/search/fusion.ts; more cases in test/search.test.ts): words reorder near-equal
      // cosines, and a word-only match (config.ts, cosine 0) does not displace the model's matches.
      test('hybrid lifts a word match among near-equal cosines and keeps the model’s best first otherwise', async () => {
        const ident = await searcher().search([cb], 'helper5_5', { mode: 'hybrid', k: 10 });
        assert.match(ident[0]!.snippet, /^function helper5_5\(/);
        const hits = await searcher().search([cb], 'parse configuration file', { mode: 'hybrid', k: 10 });
        assert.equal(hits[0]!.path, 'src/f0.py');
        assert.equal(hits.length, 10);
      });
    });

    test('an index from before BM25 vectors gets them from its tsvectors, and symbol words, when migrated', async () => {
      const fresh = await backend.create();
      try {
        const old = await openWithMigrations(fresh.target, 2);
        // Before migration 3 the stored terms were the words themselves, not stemmed.
        const text = 'function getUsers(id) { return users.get(id) } // parsing entries';
        const st = searchText(text);
        const unstemmed = new Map<string, number[]>();
        wordsOf(text).forEach((w, i) => unstemmed.set(w, [...(unstemmed.get(w) ?? []), i + 1]));
        const oldTsv = [...unstemmed].map(([w, p]) => `${w}:${p.join(',')}`).join(' ');
        assert.notEqual(oldTsv, st.text);
        await old.query(`INSERT INTO codebases (root) VALUES ('/old')`);
        await old.query(`INSERT INTO files (codebase_id, path, content_hash, size) VALUES (1, 'a.ts', 'h', 1)`);
        for (let i = 0; i < 3; i++) {
          await old.query(
            `INSERT INTO chunks (codebase_id, path, start_line, end_line, symbol, kind, language, content, content_hash, embedding, tsv, n_tokens)
             VALUES (1, 'a.ts', $1, $1, $4, 'function', 'typescript', 'x', 'h', '[1,0]', $2::tsvector, $3)`,
            [i + 1, oldTsv, st.words, i === 0 ? 'Users.getUser' : null],
          );
        }
        await old.query(`CREATE INDEX chunks_hnsw_cb1 ON chunks USING hnsw ((embedding::vector(2)) vector_cosine_ops) WHERE codebase_id = 1`);
        await old.query('UPDATE codebases SET hnsw_dim = 2');
        assert.equal(await migrate(old), 7); // 3 to 9
        // the old HNSW index's predicate lacks the dimension: dropped, to be rebuilt by the next index run
        assert.equal((await old.query(`SELECT 1 FROM pg_indexes WHERE indexname = 'chunks_hnsw_cb1'`)).rows.length, 0);
        assert.equal((await old.query<{ d: number | null }>('SELECT hnsw_dim AS d FROM codebases')).rows[0]!.d, null);
        // the terms, BM25 vectors and document frequencies the indexer writes now, from the stored tsvectors alone
        const r = await old.query<{ v: string; t: string }>(`SELECT bm25::text AS v, tsv::text AS t FROM chunks ORDER BY id`);
        assert.deepEqual(
          r.rows.map((x) => x.v),
          [st.bm25, st.bm25, st.bm25],
        );
        const expected = (await old.query<{ t: string }>('SELECT $1::tsvector::text AS t', [st.text])).rows[0]!.t;
        assert.deepEqual(
          r.rows.map((x) => x.t),
          [expected, expected, expected],
        );
        assert.match(expected, /'entry':\d+ /);
        const df = await old.query<{ lexeme: string; df: number }>(`SELECT lexeme, df FROM term_stats WHERE lexeme IN ('user', 'users')`);
        assert.deepEqual(
          df.rows.map((x) => [x.lexeme, Number(x.df)]),
          [['user', 3]],
        );
        const s = await old.query<{ w: string | null }>('SELECT symbol_words::text AS w FROM chunks ORDER BY id');
        assert.deepEqual(
          s.rows.map((x) => x.w),
          [`'get':3 'getuser':2 'user':4 'users':1`, null, null],
        );
        await old.close();
      } finally {
        await fresh.cleanup();
      }
    });

    test(
      'an HNSW build after a rebuild with another dimension ignores old rows another snapshot still sees',
      { skip: backend.name === 'pglite' && 'PGlite has one connection: no other snapshot' },
      async () => {
        const cb = await freshCodebase('/repo/redim');
        await store.replaceFiles(cb.id, [
          file('a.ts', [
            { content: 'old', vec: unit(0) },
            { content: 'old 2', vec: unit(1) },
          ]),
        ]);
        // Another session's snapshot from before the reset keeps the 8-dimension rows "recently dead".
        const reader = await openDb(made!.target);
        let release!: () => void;
        const holding = reader.transaction(async (tx) => {
          await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
          await tx.query('SELECT count(*) FROM chunks');
          await new Promise<void>((r) => (release = r));
        });
        try {
          await new Promise((r) => setTimeout(r, 50));
          await store.resetCodebase(cb.id);
          await store.setModel(cb.id, 'other', 'hash-2', 2);
          await store.replaceFiles(cb.id, [file('a.ts', [{ content: 'new', vec: [1, 0] }])]);
          assert.ok(await store.ensureHnsw((await store.codebase('/repo/redim'))!, 2));
        } finally {
          release();
          await holding;
          await reader.close();
        }
      },
    );

    test('resetting a codebase forgets its files, vectors and model', async () => {
      const cb = await freshCodebase('/repo/reset');
      await store.replaceFiles(cb.id, [file('a.ts', [{ content: 'a', vec: unit(0) }])]);
      await store.ensureHnsw((await store.codebase('/repo/reset'))!, DIM);
      await store.resetCodebase(cb.id);
      const after = (await store.codebase('/repo/reset'))!;
      assert.equal(after.modelHash, null);
      assert.equal(after.hnswDim, null);
      assert.deepEqual(await store.counts(cb.id), { files: 0, chunks: 0 });
    });
  });
}
