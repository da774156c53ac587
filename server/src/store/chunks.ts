/**
 * Writes of the files and chunks tables, and what is kept in step with them: the codebase's HNSW index and
 * its BM25 statistics. Every statement is scoped by codebase. The reads that search and the language server
 * make are in chunkQueries.ts.
 */
import type { Chunk } from '../chunk';
import { symbolWords } from '../text/terms';
import type { DbKind, Queryable, Transactional } from './db';
import { refreshTextIndexes } from './maintenance';
import { NO_TERMS, applyTermDelta, recountTermStats, termCounts } from './termStats';

/** One chunk ready to store: the chunk with its vector and full-text forms. */
export interface StoredChunk extends Chunk {
  /** the vector as a pgvector literal ('[0.1,0.2,...]') */
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
  /** the file's chunks: each is stored under the file's path */
  chunks: StoredChunk[];
}

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

/** Every stored chunk of a codebase in file order (what fine-tuning mines pairs from and ranks against). */
export async function allChunks(db: Queryable, codebaseId: number): Promise<Chunk[]> {
  const r = await db.query<Chunk>(
    `SELECT path, start_line AS "startLine", end_line AS "endLine", symbol, kind, language, content, content_hash AS hash
       FROM chunks WHERE codebase_id = $1 ORDER BY path, start_line, id`,
    [codebaseId],
  );
  return r.rows;
}

export async function fileHashes(db: Queryable, codebaseId: number): Promise<Map<string, string>> {
  const r = await db.query<{ path: string; content_hash: string }>('SELECT path, content_hash FROM files WHERE codebase_id = $1', [codebaseId]);
  return new Map(r.rows.map((x) => [x.path, x.content_hash]));
}

/** Content hashes of the files at or below these paths (posix, relative to the root): a watcher run's view. */
export async function fileHashesUnder(db: Queryable, codebaseId: number, paths: string[]): Promise<Map<string, string>> {
  if (!paths.length) return new Map();
  const prefixes = paths.map((p) => `${p.replace(/[\\%_]/g, '\\$&')}/%`);
  const r = await db.query<{ path: string; content_hash: string }>(
    'SELECT path, content_hash FROM files WHERE codebase_id = $1 AND (path = ANY($2::text[]) OR path LIKE ANY($3::text[]))',
    [codebaseId, paths, prefixes],
  );
  return new Map(r.rows.map((x) => [x.path, x.content_hash]));
}

/**
 * Replaces the chunks of these files in one transaction: a file is either fully indexed with its new
 * content or still has its old chunks, never half of each. With `termStats`, the codebase's BM25
 * statistics move with the chunks in the same transaction (watcher runs; bulk runs recount at the end).
 */
export async function replaceFiles(db: Transactional, codebaseId: number, files: FileWrite[], opts: { termStats?: boolean } = {}): Promise<void> {
  if (!files.length) return;
  await db.transaction(async (tx) => {
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
export async function deleteFiles(db: Transactional, codebaseId: number, paths: string[], opts: { termStats?: boolean } = {}): Promise<void> {
  if (!paths.length) return;
  await db.transaction(async (tx) => {
    // Locked before counting: a concurrent delete of the same files must not take their terms out twice.
    await tx.query('SELECT 1 FROM files WHERE codebase_id = $1 AND path = ANY($2::text[]) FOR UPDATE', [codebaseId, paths]);
    const before = opts.termStats ? await termCounts(tx, codebaseId, paths) : NO_TERMS;
    await tx.query('DELETE FROM files WHERE codebase_id = $1 AND path = ANY($2::text[])', [codebaseId, paths]);
    if (opts.termStats) await applyTermDelta(tx, codebaseId, before, NO_TERMS);
  });
}

/**
 * Builds the codebase's HNSW index if it has none. Called after bulk loads: building once over all rows
 * is several times faster than maintaining the graph row by row. Sets `codebase.hnswDim` when it is there.
 * The build runs as the schema's owner through `semcode_set_hnsw`, which checks the caller may write the
 * codebase (accessSchema.ts): only a table's owner may create its indexes.
 */
export async function ensureHnsw(db: Transactional, kind: DbKind, codebase: { id: number; hnswDim: number | null }, dimension: number): Promise<boolean> {
  if (codebase.hnswDim === dimension) return false;
  const id = Math.trunc(codebase.id);
  const dim = Math.trunc(dimension);
  const built = await db.transaction(async (tx) => {
    await tx.query('SET LOCAL statement_timeout = 0'); // minutes at a million chunks, and no request waits on it
    const rows = (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM chunks WHERE codebase_id = $1', [id])).rows[0]!.n;
    // A graph that outgrows maintenance_work_mem spills to disk: 2.5x slower at 100k chunks with the 64 MB
    // default. Size it to the graph (about dim*4 + 1 KiB per row), capped: PGlite shares this process.
    const cap = kind === 'pglite' ? 512 : 1024;
    const mb = Math.min(cap, Math.max(64, Math.ceil((rows * (dim * 4 + 1024) * 1.25) / 2 ** 20)));
    // ef_construction 128 (in the function): with 64, recall@10 at 100k chunks was 0.905-0.95 at ef_search 200.
    return (await tx.query<{ built: boolean }>('SELECT semcode_set_hnsw($1, $2, $3) AS built', [id, dim, mb])).rows[0]!.built;
  });
  codebase.hnswDim = dim;
  return built;
}

/** Document frequencies and average length for BM25. */
export async function refreshTermStats(db: Transactional, codebaseId: number): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SET LOCAL statement_timeout = 0'); // seconds per 100k chunks: not a runaway query
    await recountTermStats(tx, codebaseId);
  });
  await refreshTextIndexes(db, codebaseId);
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
      cols.hash.push(c.hash);
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
