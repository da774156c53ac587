import type { Chunk } from '../chunk';
import { symbolWords } from '../text/terms';
import { SemcodeError } from '../errors';
import { CODEBASE_WRITER_LOCK, type Db, type Lease, type Queryable } from './db';
import { mayMaintain, refreshTextIndexes } from './maintenance';
import { NO_TERMS, applyTermDelta, recountTermStats, termCounts } from './termStats';

export interface Codebase {
  id: number;
  root: string;
  modelId: string | null;
  modelHash: string | null;
  dimension: number | null;
  hnswDim: number | null;
  nChunks: number;
  avgTokens: number;
  indexedAt: Date | null;
  /** the fine-tuned model version the index uses (semcode train), null for a stock model */
  modelVersion: string | null;
  /** that version's folder in the user's state directory */
  modelVersionDir: string | null;
  /** a full index run started and did not finish (killed, failed or still running): some files may be missing */
  incomplete: boolean;
}

export type TrainingOutcome = 'saved' | 'kept' | 'insufficient_data' | 'failed';

/** One `semcode train` run as recorded (metrics null when the run stopped before evaluating). */
export interface TrainingRun {
  id: number;
  codebaseId: number;
  startedAt: Date;
  durationMs: number;
  baseModel: string | null;
  seed: number;
  epochs: number;
  pairsMined: number;
  pairsTrain: number;
  pairsHeldOut: number;
  chunks: number;
  mrrBefore: number | null;
  mrrAfter: number | null;
  r1Before: number | null;
  r1After: number | null;
  r10Before: number | null;
  r10After: number | null;
  bootstrap: number | null;
  outcome: TrainingOutcome;
  version: string | null;
  versionDir: string | null;
  message: string | null;
}

export type NewTrainingRun = Omit<TrainingRun, 'id'>;

const RUN_COLUMNS: [keyof NewTrainingRun, string][] = [
  ['codebaseId', 'codebase_id'],
  ['startedAt', 'started_at'],
  ['durationMs', 'duration_ms'],
  ['baseModel', 'base_model'],
  ['seed', 'seed'],
  ['epochs', 'epochs'],
  ['pairsMined', 'pairs_mined'],
  ['pairsTrain', 'pairs_train'],
  ['pairsHeldOut', 'pairs_heldout'],
  ['chunks', 'chunks'],
  ['mrrBefore', 'mrr_before'],
  ['mrrAfter', 'mrr_after'],
  ['r1Before', 'r1_before'],
  ['r1After', 'r1_after'],
  ['r10Before', 'r10_before'],
  ['r10After', 'r10_after'],
  ['bootstrap', 'bootstrap'],
  ['outcome', 'outcome'],
  ['version', 'version'],
  ['versionDir', 'version_dir'],
  ['message', 'message'],
];

/** One chunk ready to store: its vector as a pgvector literal ('[0.1,0.2,...]'). */
export interface StoredChunk {
  startLine: number;
  endLine: number;
  symbol: string | null;
  kind: string;
  language: string;
  content: string;
  contentHash: string;
  embedding: string;
  /** tsvector literal of the chunk's words (text/terms.ts) */
  searchText: string;
  words: number;
  /** sparsevec literal of the chunk's BM25 term weights (text/bm25Vector.ts) */
  bm25: string;
}

export interface FileWrite {
  path: string;
  contentHash: string;
  size: number;
  language: string | null;
  chunks: StoredChunk[];
}

const CODEBASE_COLUMNS = `id, root, model_id AS "modelId", model_hash AS "modelHash", dimension, hnsw_dim AS "hnswDim",
  n_chunks AS "nChunks", avg_tokens AS "avgTokens", indexed_at AS "indexedAt", model_version AS "modelVersion",
  model_version_dir AS "modelVersionDir",
  (run_started_at IS NOT NULL OR (model_hash IS NOT NULL AND indexed_at IS NULL)) AS incomplete`;

/** pgvector's text form. Nine significant digits give back the exact float32 and parse faster than 17. */
export function vectorLiteral(v: ArrayLike<number>): string {
  let s = '[';
  for (let i = 0; i < v.length; i++) s += (i ? ',' : '') + (v[i] === 0 ? '0' : v[i]!.toPrecision(9));
  return `${s}]`;
}

export function hnswIndexName(codebaseId: number): string {
  return `chunks_hnsw_cb${codebaseId}`;
}

/**
 * The rows a codebase's HNSW index covers, as SQL with literal values: the planner matches a partial index
 * only on constants, so every vector query must say exactly this. The dimension is part of it because
 * CREATE INDEX also evaluates rows deleted but still visible to another transaction's snapshot: after a
 * rebuild with a model of another dimension, casting those to the new one failed ("expected 16 dimensions,
 * not 32"); the predicate is tested first.
 */
export function hnswScope(codebaseId: number, dimension: number, alias = 'c'): string {
  const col = (name: string) => (alias ? `${alias}.${name}` : name);
  return `${col('codebase_id')} = ${Math.trunc(codebaseId)} AND vector_dims(${col('embedding')}) = ${Math.trunc(dimension)}`;
}

/** Every read and write of the index goes through here, scoped by codebase. */
export class IndexStore {
  constructor(readonly db: Db) {}

  async codebase(root: string): Promise<Codebase | null> {
    const r = await this.db.query<Codebase>(`SELECT ${CODEBASE_COLUMNS} FROM codebases WHERE root = $1`, [root]);
    return r.rows[0] ?? null;
  }

  async codebases(): Promise<Codebase[]> {
    return (await this.db.query<Codebase>(`SELECT ${CODEBASE_COLUMNS} FROM codebases ORDER BY root`)).rows;
  }

  async ensureCodebase(root: string): Promise<Codebase> {
    await this.db.query('INSERT INTO codebases (root) VALUES ($1) ON CONFLICT (root) DO NOTHING', [root]);
    return (await this.codebase(root))!;
  }

  async setModel(codebaseId: number, modelId: string, modelHash: string, dimension: number): Promise<void> {
    await this.db.query('UPDATE codebases SET model_id = $2, model_hash = $3, dimension = $4 WHERE id = $1', [
      codebaseId,
      modelId,
      modelHash,
      dimension,
    ]);
  }

  /** Names the fine-tuned version the codebase's index uses (null: a stock model). */
  async setModelVersion(codebaseId: number, version: { name: string; dir: string } | null): Promise<void> {
    await this.db.query('UPDATE codebases SET model_version = $2, model_version_dir = $3 WHERE id = $1', [
      codebaseId,
      version?.name ?? null,
      version?.dir ?? null,
    ]);
  }

  /** Every stored chunk of a codebase in file order (what fine-tuning mines pairs from and ranks against). */
  async allChunks(codebaseId: number): Promise<Chunk[]> {
    const r = await this.db.query<Chunk>(
      `SELECT path, start_line AS "startLine", end_line AS "endLine", symbol, kind, language, content, content_hash AS hash
         FROM chunks WHERE codebase_id = $1 ORDER BY path, start_line, id`,
      [codebaseId],
    );
    return r.rows;
  }

  async recordTrainingRun(run: NewTrainingRun): Promise<number> {
    const cols = RUN_COLUMNS.map(([, c]) => c);
    const r = await this.db.query<{ id: number }>(
      `INSERT INTO training_runs (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
      RUN_COLUMNS.map(([k]) => run[k]),
    );
    return r.rows[0]!.id;
  }

  async noteTrainingRun(runId: number, message: string): Promise<void> {
    await this.db.query('UPDATE training_runs SET message = $2 WHERE id = $1', [runId, message]);
  }

  /** A codebase's training runs, oldest first. */
  async trainingRuns(codebaseId: number): Promise<TrainingRun[]> {
    const r = await this.db.query<TrainingRun>(
      `SELECT id, ${RUN_COLUMNS.map(([k, c]) => `${c} AS "${k}"`).join(', ')} FROM training_runs WHERE codebase_id = $1 ORDER BY id`,
      [codebaseId],
    );
    return r.rows;
  }

  /**
   * Forgets everything indexed for a codebase (for a rebuild with another model). The fine-tuned version
   * name stays: the engine sets it for the model of the rebuild, so an interrupted rebuild resumes with it.
   */
  async resetCodebase(codebaseId: number): Promise<void> {
    const owner = await mayMaintain(this.db);
    await this.db.transaction(async (tx) => {
      // A writer role's rebuild leaves the index to its owner: PostgreSQL keeps it current row by row, and a
      // model of another dimension never matches its predicate.
      if (owner) await tx.query(`DROP INDEX IF EXISTS ${hnswIndexName(codebaseId)}`);
      await tx.query('DELETE FROM files WHERE codebase_id = $1', [codebaseId]);
      await tx.query('DELETE FROM term_stats WHERE codebase_id = $1', [codebaseId]);
      await tx.query(
        `UPDATE codebases SET model_id = NULL, model_hash = NULL, dimension = NULL, hnsw_dim = NULL,
           n_chunks = 0, avg_tokens = 0, indexed_at = NULL WHERE id = $1`,
        [codebaseId],
      );
    });
  }

  async fileHashes(codebaseId: number): Promise<Map<string, string>> {
    const r = await this.db.query<{ path: string; content_hash: string }>(
      'SELECT path, content_hash FROM files WHERE codebase_id = $1',
      [codebaseId],
    );
    return new Map(r.rows.map((x) => [x.path, x.content_hash]));
  }

  /** Cached vectors (as pgvector literals) for these model inputs. */
  async cachedEmbeddings(modelHash: string, inputHashes: string[]): Promise<Map<string, string>> {
    if (!inputHashes.length) return new Map();
    const r = await this.db.query<{ input_hash: string; embedding: string }>(
      `SELECT input_hash, embedding::text AS embedding FROM embedding_cache
        WHERE model_hash = $1 AND input_hash = ANY($2::text[])`,
      [modelHash, inputHashes],
    );
    return new Map(r.rows.map((x) => [x.input_hash, x.embedding]));
  }

  async cacheEmbeddings(modelHash: string, entries: { inputHash: string; embedding: string }[]): Promise<void> {
    if (!entries.length) return;
    await this.db.query(
      `INSERT INTO embedding_cache (model_hash, input_hash, embedding)
       SELECT $1, t.h, t.e::vector FROM unnest($2::text[], $3::text[]) AS t(h, e)
       ON CONFLICT DO NOTHING`,
      [modelHash, entries.map((e) => e.inputHash), entries.map((e) => e.embedding)],
    );
  }

  /**
   * Replaces the chunks of these files in one transaction: a file is either fully indexed with its new
   * content or still has its old chunks, never half of each. With `termStats`, the codebase's BM25
   * statistics move with the chunks in the same transaction (watcher runs; bulk runs recount at the end).
   */
  async replaceFiles(codebaseId: number, files: FileWrite[], opts: { termStats?: boolean } = {}): Promise<void> {
    if (!files.length) return;
    await this.db.transaction(async (tx) => {
      const paths = files.map((f) => f.path);
      // The files' rows first: the upsert locks them, so a second writer of the same files waits here until
      // this one commits, and its DELETE then sees (and removes) these chunks instead of adding a second copy.
      await tx.query(
        `INSERT INTO files (codebase_id, path, content_hash, size, language)
         SELECT $1, t.p, t.h, t.s, t.l FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[]) AS t(p, h, s, l)
         ON CONFLICT (codebase_id, path) DO UPDATE
           SET content_hash = EXCLUDED.content_hash, size = EXCLUDED.size, language = EXCLUDED.language`,
        [codebaseId, paths, files.map((f) => f.contentHash), files.map((f) => f.size), files.map((f) => f.language)],
      );
      const before = opts.termStats ? await termCounts(tx, codebaseId, paths) : NO_TERMS;
      await tx.query('DELETE FROM chunks WHERE codebase_id = $1 AND path = ANY($2::text[])', [codebaseId, paths]);
      await insertChunks(tx, codebaseId, files);
      if (opts.termStats) await applyTermDelta(tx, codebaseId, before, await termCounts(tx, codebaseId, paths));
    });
  }

  /** Deletes files and their chunks; with `termStats`, takes them out of the BM25 statistics in the same transaction. */
  async deleteFiles(codebaseId: number, paths: string[], opts: { termStats?: boolean } = {}): Promise<void> {
    if (!paths.length) return;
    await this.db.transaction(async (tx) => {
      // Locked before counting: a concurrent delete of the same files must not take their terms out twice.
      await tx.query('SELECT 1 FROM files WHERE codebase_id = $1 AND path = ANY($2::text[]) FOR UPDATE', [codebaseId, paths]);
      const before = opts.termStats ? await termCounts(tx, codebaseId, paths) : NO_TERMS;
      await tx.query('DELETE FROM files WHERE codebase_id = $1 AND path = ANY($2::text[])', [codebaseId, paths]);
      if (opts.termStats) await applyTermDelta(tx, codebaseId, before, NO_TERMS);
    });
  }

  /**
   * Builds the codebase's HNSW index if it has none. Called after bulk loads: building once over all rows
   * is several times faster than maintaining the graph row by row.
   */
  async ensureHnsw(codebase: Codebase, dimension: number): Promise<boolean> {
    if (codebase.hnswDim === dimension) return false;
    // Owner-only (maintenance.ts): a writer role leaves it to the owner; vector search scans exactly until then.
    if (!(await mayMaintain(this.db))) return false;
    const name = hnswIndexName(codebase.id);
    const id = Math.trunc(codebase.id);
    const dim = Math.trunc(dimension);
    let built = false;
    await this.db.transaction(async (tx) => {
      // Another writer may have built it meanwhile: its row lock orders the two, and the second builds nothing.
      const now = await tx.query<{ d: number | null }>('SELECT hnsw_dim AS d FROM codebases WHERE id = $1 FOR UPDATE', [id]);
      if (now.rows[0]?.d === dim) return;
      built = true;
      const rows = (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM chunks WHERE codebase_id = $1', [id])).rows[0]!.n;
      // A graph that outgrows maintenance_work_mem spills to disk: 2.5x slower at 100k chunks with the 64 MB
      // default. Size it to the graph (about dim*4 + 1 KiB per row), capped: PGlite shares this process.
      const cap = this.db.kind === 'pglite' ? 512 : 1024;
      const mb = Math.min(cap, Math.max(64, Math.ceil((rows * (dim * 4 + 1024) * 1.25) / 2 ** 20)));
      await tx.query(`SET LOCAL maintenance_work_mem = '${mb}MB'`);
      await tx.query(`DROP INDEX IF EXISTS ${name}`);
      // ef_construction 128: with 64, recall@10 at 100k chunks was 0.905-0.95 at ef_search 200 (0.98 with 128).
      await tx.query(
        `CREATE INDEX ${name} ON chunks USING hnsw ((embedding::vector(${dim})) vector_cosine_ops)
         WITH (m = 16, ef_construction = 128) WHERE ${hnswScope(id, dim, '')}`,
      );
      await tx.query('UPDATE codebases SET hnsw_dim = $2 WHERE id = $1', [id, dim]);
    });
    codebase.hnswDim = dim;
    return built;
  }

  /** Document frequencies and average length for BM25. */
  async refreshTermStats(codebaseId: number): Promise<void> {
    await this.db.transaction((tx) => recountTermStats(tx, codebaseId));
    await refreshTextIndexes(this.db);
  }

  /**
   * Takes the codebase's writer lease for an index run, or throws `index_busy` naming who has it: two runs
   * at once stored files twice and failed on BM25 statistics. `label` says who this run is.
   */
  async leaseForIndexing(codebase: Codebase, label: string): Promise<Lease> {
    const r = await this.db.tryLease([CODEBASE_WRITER_LOCK, codebase.id], label);
    if ('lease' in r) return r.lease;
    throw new SemcodeError('index_busy', `${codebase.root} is being indexed by ${r.holder}; wait for that run to finish, then run again`);
  }

  /** A full run has begun: until `finishRun`, the index counts as incomplete. */
  async startRun(codebaseId: number): Promise<void> {
    await this.db.query('UPDATE codebases SET run_started_at = now() WHERE id = $1', [codebaseId]);
  }

  async finishRun(codebaseId: number): Promise<void> {
    await this.db.query('UPDATE codebases SET run_started_at = NULL WHERE id = $1', [codebaseId]);
  }

  async counts(codebaseId: number): Promise<{ files: number; chunks: number }> {
    const r = await this.db.query<{ files: number; chunks: number }>(
      `SELECT (SELECT count(*)::int FROM files WHERE codebase_id = $1) AS files,
              (SELECT count(*)::int FROM chunks WHERE codebase_id = $1) AS chunks`,
      [codebaseId],
    );
    return r.rows[0]!;
  }

  /** Content hashes of the files at or below these paths (posix, relative to the root): a watcher run's view. */
  async fileHashesUnder(codebaseId: number, paths: string[]): Promise<Map<string, string>> {
    if (!paths.length) return new Map();
    const prefixes = paths.map((p) => `${p.replace(/[\\%_]/g, '\\$&')}/%`);
    const r = await this.db.query<{ path: string; content_hash: string }>(
      'SELECT path, content_hash FROM files WHERE codebase_id = $1 AND (path = ANY($2::text[]) OR path LIKE ANY($3::text[]))',
      [codebaseId, paths, prefixes],
    );
    return new Map(r.rows.map((x) => [x.path, x.content_hash]));
  }

  /**
   * Files indexed, and chunks as the BM25 statistics count them (kept current by every indexing run): no
   * count(*) over chunks, which takes 100 ms at 100k chunks and holds PGlite meanwhile.
   */
  async quickCounts(codebaseId: number): Promise<{ files: number; chunks: number }> {
    const r = await this.db.query<{ files: number; chunks: number }>(
      `SELECT (SELECT count(*)::int FROM files WHERE codebase_id = $1) AS files,
              (SELECT n_chunks FROM codebases WHERE id = $1) AS chunks`,
      [codebaseId],
    );
    return { files: Number(r.rows[0]!.files), chunks: Number(r.rows[0]!.chunks ?? 0) };
  }
}

async function insertChunks(tx: Queryable, codebaseId: number, files: FileWrite[]): Promise<void> {
  const cols = {
    path: [] as string[],
    s: [] as number[],
    e: [] as number[],
    sym: [] as (string | null)[],
    kind: [] as string[],
    lang: [] as string[],
    content: [] as string[],
    hash: [] as string[],
    emb: [] as string[],
    st: [] as string[],
    n: [] as number[],
    bm25: [] as string[],
    symWords: [] as (string | null)[],
  };
  for (const f of files) {
    for (const c of f.chunks) {
      cols.path.push(f.path);
      cols.s.push(c.startLine);
      cols.e.push(c.endLine);
      cols.sym.push(c.symbol);
      cols.kind.push(c.kind);
      cols.lang.push(c.language);
      cols.content.push(c.content);
      cols.hash.push(c.contentHash);
      cols.emb.push(c.embedding);
      cols.st.push(c.searchText);
      cols.n.push(c.words);
      cols.bm25.push(c.bm25);
      cols.symWords.push(symbolWords(c.symbol));
    }
  }
  if (!cols.path.length) return;
  await tx.query(
    `INSERT INTO chunks (codebase_id, path, start_line, end_line, symbol, kind, language, content, content_hash,
                         embedding, tsv, n_tokens, bm25, symbol_words)
     SELECT $1, t.path, t.s, t.e, t.sym, t.kind, t.lang, t.content, t.hash, t.emb::vector,
            t.st::tsvector, t.n, t.bm::sparsevec, t.sw::tsvector
       FROM unnest($2::text[], $3::int[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                   $10::text[], $11::text[], $12::int[], $13::text[], $14::text[])
            AS t(path, s, e, sym, kind, lang, content, hash, emb, st, n, bm, sw)`,
    [codebaseId, cols.path, cols.s, cols.e, cols.sym, cols.kind, cols.lang, cols.content, cols.hash, cols.emb, cols.st, cols.n, cols.bm25, cols.symWords],
  );
}
