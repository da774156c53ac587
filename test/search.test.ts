// Hybrid search (score fusion, server/src/search/fusion.ts) against real PGlite and real PostgreSQL + pgvector,
// with hand-made vectors: this suite tests how the SQL lists are fused, not a model.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Db } from '../server/src/store/db';
import { type Codebase, type FileWrite, IndexStore, hnswIndexName, vectorLiteral } from '../server/src/store/indexStore';
import { openDb } from '../server/src/store/open';
import { type SearchHit, Searcher, candidateTerms } from '../server/src/search/search';
import { searchText } from '../server/src/text/terms';
import { BACKENDS } from './helpers/backends';
import { unitVector } from './helpers/vectors';

const DIM = 8;
const W = 0.2;

const unit = (axis: number, tilt = 0): number[] => unitVector(DIM, axis, tilt);

interface Spec {
  path: string;
  content: string;
  vec: number[];
  language?: string;
  symbol?: string;
}

function files(specs: Spec[]): FileWrite[] {
  return specs.map((s) => {
    const st = searchText(s.content);
    const language = s.language ?? 'typescript';
    return {
      path: s.path,
      contentHash: `h-${s.path}`,
      size: s.content.length,
      language,
      chunks: [
        {
          path: s.path,
          startLine: 1,
          endLine: 3,
          symbol: s.symbol ?? null,
          kind: 'function',
          language,
          content: s.content,
          hash: `c-${s.path}`,
          embedding: vectorLiteral(s.vec),
          searchText: st.text,
          bm25: st.bm25,
          words: st.words,
        },
      ],
    };
  });
}

// 60 chunks the query vector likes (cosine 1 down to 0.857), 60 that repeat the word "alpha" but point
// elsewhere, one long chunk (yak, cosine 0.9985, sixth) that says "alpha" once, so its BM25 ranks below the 60
// wordy ones, and one chunk (xenon) whose cosine (0.819) ranks below all 60 near ones but that alone has the
// word "xenon".
const SPECS: Spec[] = [
  ...Array.from({ length: 60 }, (_, i) => ({ path: `src/near${i}.ts`, content: `function near${i}() { return ${i}; }`, vec: unit(0, 0.01 * (i + 1)) })),
  ...Array.from({ length: 60 }, (_, i) => ({ path: `src/wordy${i}.ts`, content: `const alpha${i} = 'alpha alpha alpha';`, vec: unit(3, i / 60) })),
  {
    path: 'src/yak.ts',
    content: `function yak() { /* alpha */ ${Array.from({ length: 40 }, (_, i) => `step${i}();`).join(' ')} }`,
    vec: unit(0, 0.055),
  },
  { path: 'src/xenon.py', content: 'def xenon():\n    return 1', vec: unit(0, 0.7), language: 'python' },
  // equal cosines (0.956, below the near ones): one is named for what the query says, one repeats a word of it
  { path: 'src/db.ts', content: 'function openDatabase(dir) { return connect(dir); }', symbol: 'openDatabase', vec: unit(0, 0.305) },
  { path: 'src/notes.ts', content: '// opens the database: database database notes', vec: unit(0, 0.305) },
];

for (const backend of BACKENDS) {
  describe(`hybrid search on ${backend.name}`, () => {
    let db: Db;
    let cleanup: () => Promise<void>;
    let cb: Codebase;
    // text-only fusion unless a test says otherwise: the name term has its own test
    const searcher = (textWeight = W) => new Searcher(db, () => Promise.resolve(unit(0)), { fusion: { text: textWeight, name: 0 } });
    const find = (hits: SearchHit[], path: string) => hits.find((h) => h.path === path);

    before(async () => {
      const made = await backend.create();
      cleanup = made.cleanup;
      db = await openDb(made.target);
      const store = new IndexStore(db);
      for (const [root, specs] of [
        ['/repo/hybrid', SPECS],
        // another codebase with a better match for both the words and the vector: never returned for the first
        ['/repo/other', [{ path: 'src/xenon.ts', content: 'xenon xenon xenon alpha', vec: unit(0) }]],
      ] as const) {
        const c = await store.ensureCodebase(root);
        await store.setModel(c.id, 'test-model', 'hash-1', DIM);
        await store.replaceFiles(c.id, files([...specs]));
        await store.refreshTermStats(c.id);
        const built = (await store.codebase(root))!;
        assert.ok(await store.ensureHnsw(built, DIM));
        // These tests check fusion against exact vector lists, and HNSW is approximate: once, in CI, a k=200
        // vector list over these 124 rows came back without xenon. Clusters on orthogonal axes, as here, can
        // leave HNSW's graph unconnected (a probe with 68 such rows, forced onto the index: 187 of 200 builds
        // missed one cluster), and the planner picks the index or an exact scan by a cost that depends on the
        // graph. Without the index every vector list is exact; the index path has its own tests.
        await db.exec(`DROP INDEX ${hnswIndexName(built.id)}`);
      }
      cb = (await store.codebase('/repo/hybrid'))!;
    });
    after(async () => {
      await db?.close();
      await cleanup?.();
    });

    test('a chunk only the text list finds is fused with its exact cosine', async () => {
      const vector = await searcher().search([cb], 'xenon', { mode: 'vector', k: 200 });
      const cos = find(vector, 'src/xenon.py')!.score;
      assert.ok(vector.findIndex((h) => h.path === 'src/xenon.py') >= 60, 'xenon is outside the vector list of a hybrid search');
      const hits = await searcher().search([cb], 'xenon', { mode: 'hybrid', k: 10 });
      assert.equal(hits[0]!.path, 'src/xenon.py', 'the only word match among near-equal cosines comes first');
      assert.ok(Math.abs(hits[0]!.score - (cos + W)) < 1e-6, `${hits[0]!.score} vs ${cos} + ${W}`);
    });

    test('a chunk only the vector list finds is fused with its exact text score', async () => {
      const text = await searcher().search([cb], 'alpha', { mode: 'text', k: 1000 });
      const yakText = find(text, 'src/yak.ts')!.score;
      assert.ok(text.findIndex((h) => h.path === 'src/yak.ts') >= 60, 'yak is outside the text list of a hybrid search');
      const best = text[0]!.score;
      const vector = await searcher().search([cb], 'alpha', { mode: 'vector', k: 10 });
      const yakCos = find(vector, 'src/yak.ts')!.score;
      assert.equal(
        vector.findIndex((h) => h.path === 'src/yak.ts'),
        5,
      );
      const hits = await searcher().search([cb], 'alpha', { mode: 'hybrid', k: 10 });
      const yak = find(hits, 'src/yak.ts');
      assert.ok(yak, 'yak is in the hybrid results');
      assert.ok(yakText > 0);
      assert.ok(Math.abs(yak.score - (yakCos + (W * yakText) / best)) < 1e-6, `${yak.score} vs ${yakCos} + ${W} * ${yakText} / ${best}`);
      assert.equal(hits[0]!.path, 'src/yak.ts', 'its word lifts it above the near-equal cosines');
    });

    test('word matches pointing elsewhere do not bury the model’s matches', async () => {
      const hits = await searcher().search([cb], 'alpha', { mode: 'hybrid', k: 10 });
      assert.equal(hits.length, 10);
      assert.ok(
        hits.every((h) => !h.path.startsWith('src/wordy')),
        hits.map((h) => h.path).join(', '),
      );
    });

    test('a symbol named in the query’s words outranks a chunk that only repeats one of them', async () => {
      const textOnly = await searcher().search([cb], 'opens the database', { mode: 'hybrid', k: 3 });
      assert.equal(textOnly[0]!.path, 'src/notes.ts', 'by BM25 alone the repeated word wins');
      const hits = await new Searcher(db, () => Promise.resolve(unit(0))).search([cb], 'opens the database', { mode: 'hybrid', k: 3 });
      assert.equal(hits[0]!.path, 'src/db.ts');
      assert.equal(hits[0]!.symbol, 'openDatabase');
    });

    test('fusion weights 0 give the vector order', async () => {
      const vector = await searcher(0).search([cb], 'xenon alpha', { mode: 'vector', k: 10 });
      const hybrid = await searcher(0).search([cb], 'xenon alpha', { mode: 'hybrid', k: 10 });
      assert.deepEqual(
        hybrid.map((h) => h.path),
        vector.map((h) => h.path),
      );
    });

    test('hybrid results stay in the codebase and inside the filters', async () => {
      const hits = await searcher().search([cb], 'xenon alpha', { mode: 'hybrid', k: 20 });
      assert.ok(hits.every((h) => h.root === '/repo/hybrid'));
      assert.ok(!hits.some((h) => h.path === 'src/xenon.ts'), 'the other codebase’s chunk never appears');
      const ts = await searcher().search([cb], 'xenon', { mode: 'hybrid', k: 10, language: 'typescript' });
      assert.equal(ts.length, 10);
      assert.ok(ts.every((h) => h.language === 'typescript'));
      const py = await searcher().search([cb], 'xenon', { mode: 'hybrid', k: 10, glob: '**/*.py' });
      assert.deepEqual(
        py.map((h) => h.path),
        ['src/xenon.py'],
      );
    });
  });
}

test('text candidates come from the rarest terms within the budget; common terms only score', () => {
  const df = new Map([
    ['the', 60_000],
    ['parse', 1_500],
    ['config', 2_000],
    ['yaml', 250],
    ['file', 7_000],
  ]);
  const pick = (terms: string[]) => candidateTerms({ terms, df, n: 100_000 });
  assert.deepEqual(pick(['parse', 'the', 'yaml', 'config', 'file']), ['yaml', 'parse', 'config']);
  assert.deepEqual(pick(['file', 'the']), ['file'], 'at least one term, even over budget');
  assert.deepEqual(pick(['the']), ['the'], 'only common terms: the rarest of them');
  assert.deepEqual(pick(['parse', 'unseen']), ['unseen', 'parse'], 'a word no chunk has costs nothing');
});
