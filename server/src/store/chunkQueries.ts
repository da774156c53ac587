/**
 * The reads of the chunks table that search and the language server make: nearest vectors, BM25 text
 * matches, the chunk under the cursor, its neighbours, symbols by name. Same SQL on PGlite and PostgreSQL,
 * every query scoped by codebase. Which terms to ask for and how to rank the results is search/'s.
 */
import { type ChunkRef, byScore } from '../chunk';
import { BM25_B, BM25_K1, queryBm25Vector } from '../text/bm25Vector';
import { hnswScope } from './chunks';
import type { Queryable } from './db';

/** The codebase a query reads: its id, and its vectors' dimension (null before it has a model). */
export interface ChunkScope {
  id: number;
  dimension: number | null;
}

/** A chunk as these reads return it: a ChunkRef (chunk.ts) with its row id and source text. */
export interface IndexedChunk extends ChunkRef {
  id: string;
  content: string;
}

export interface ChunkWithVector extends IndexedChunk {
  /** pgvector text form */
  embedding: string;
}

/**
 * A chunk with its score: cosine or BM25 for a search (with hybrid search's two scores, `cos` and `text`,
 * when the query computed them), cosine to the chunk asked about for related chunks.
 */
export interface ScoredChunk extends IndexedChunk {
  score: number;
  cos?: number | null;
  text?: number | null;
}

export interface NameMatch extends IndexedChunk {
  /** 0 exact name, 1 name prefix, 2 qualified-name prefix, 3 contains */
  rank: number;
}

/** What a search keeps: chunks of this language, and whose path matches this regex (PostgreSQL's `~`). */
export interface ChunkFilter {
  language?: string;
  pathRegex?: string;
}

/**
 * How full-text and symbol candidates are found. `direct`: a plain query, for a role that owns the tables
 * (PGlite's user, a single-user server's), whom row-level security does not restrict. `definer`: through the
 * SECURITY DEFINER functions of accessSchema.ts, for a team member, because under the policies PostgreSQL will
 * not use the GIN indexes for its `@@`. Both read the same rows; the rows are then read under the policies.
 */
export type CandidatePath = 'direct' | 'definer';

/** A query's BM25 terms: lexemes, their idf, and the codebase's average chunk length in words. */
export interface Bm25Query {
  terms: string[];
  idf: number[];
  avg: number;
}

/** An IndexedChunk's columns, aliased to its field names: no snake_case row leaves store/. */
const COLUMNS = `c.id::text AS id, c.path, c.start_line AS "startLine", c.end_line AS "endLine", c.symbol, c.kind,
  c.language, c.content`;

/** Nearest chunks by cosine; with `bm`, each row's BM25 score too (as `text`), for hybrid search. */
export async function vectorSearch(db: Queryable, cb: ChunkScope, vector: string, k: number, filter: ChunkFilter, bm?: Bm25Query): Promise<ScoredChunk[]> {
  if (!cb.dimension) return [];
  const where = filterSql(filter, bm ? 5 : 3);
  const dim = Math.trunc(cb.dimension);
  const id = Math.trunc(cb.id);
  const cos = `1 - (c.embedding::vector(${dim}) <=> $1::vector(${dim}))`;
  // Evaluated for the rows the index scan returns, not for the codebase.
  const text = bm
    ? `, (SELECT ${bm25Sum('c', bm.avg)}
            FROM unnest(ts_filter(setweight(c.tsv, 'A', $3::text[]), '{a}')) u
            JOIN unnest($3::text[], $4::float8[]) AS q(lexeme, idf) ON q.lexeme = u.lexeme) AS text`
    : '';
  // hnswScope: the partial HNSW index's own predicate, with literals.
  const r = await db.query<ScoredChunk>(
    `SELECT ${COLUMNS}, ${cos} AS score, ${cos} AS cos${text}
       FROM chunks c
      WHERE ${hnswScope(id, dim)}${where.sql}
      ORDER BY c.embedding::vector(${dim}) <=> $1::vector(${dim})
      LIMIT $2`,
    [vector, k, ...(bm ? [bm.terms, bm.idf] : []), ...where.params],
  );
  // Iterative scans return rows in approximately relaxed order.
  return r.rows.map((x) => ({ ...x, score: Number(x.score) })).sort(byScore);
}

/**
 * BM25 over chunks that match ANY of the `generating` terms (an AND query matches almost nothing for
 * natural language). The GIN index finds the candidates, their stored BM25 vectors rank them (one inner
 * product each, in C), and the best `k` are scored exactly from their tsvectors with the codebase's current
 * average length (bm25Vector.ts says what the stored vectors approximate). With `vector`, each row's cosine
 * too (as `cos`), for hybrid search.
 */
export async function textSearch(
  db: Queryable,
  cb: ChunkScope,
  bm: Bm25Query,
  generating: string[],
  k: number,
  filter: ChunkFilter,
  vector?: string,
  via: CandidatePath = 'direct',
): Promise<ScoredChunk[]> {
  const { terms, idf, avg } = bm;
  if (!generating.length) return [];
  const withCos = vector !== undefined && !!cb.dimension;
  const dim = Math.trunc(cb.dimension ?? 0);
  const cos = withCos ? `, 1 - (c.embedding::vector(${dim}) <=> $9::vector(${dim})) AS cos` : '';
  const cand =
    via === 'definer'
      ? 'SELECT id FROM semcode_text_candidates($3, $4, $5::sparsevec, $6, $7, $8)'
      : `SELECT c.id FROM chunks c
          WHERE c.codebase_id = $3 AND c.tsv @@ to_tsquery('simple', $4)
            AND ($7::text IS NULL OR c.language = $7) AND ($8::text IS NULL OR c.path ~ $8)
          ORDER BY c.bm25 <#> $5::sparsevec, c.path, c.start_line
          LIMIT $6`;
  const r = await db.query<ScoredChunk>(
    `WITH q AS (SELECT * FROM unnest($1::text[], $2::float8[]) AS q(lexeme, idf)),
     cand AS (${cand}),
     scored AS (
       -- setweight + ts_filter cut each candidate's tsvector down to the query's lexemes in C, so only
       -- those few rows are unnested.
       SELECT c.id, ${bm25Sum('c', avg)} AS score
         FROM cand JOIN chunks c ON c.id = cand.id
         CROSS JOIN LATERAL unnest(ts_filter(setweight(c.tsv, 'A', $1::text[]), '{a}')) u
         JOIN q ON q.lexeme = u.lexeme
        GROUP BY c.id)
     SELECT ${COLUMNS}, scored.score, scored.score AS text${cos} FROM scored JOIN chunks c ON c.id = scored.id`,
    [
      terms,
      idf,
      Math.trunc(cb.id),
      generating.join(' | '),
      queryBm25Vector(terms, idf),
      Math.trunc(k),
      filter.language ?? null,
      filter.pathRegex ?? null,
      ...(withCos ? [vector] : []),
    ],
  );
  return r.rows.map((x) => ({ ...x, score: Number(x.score) })).sort(byScore);
}

/**
 * The BM25 sum over `u` (the chunk's lexemes that are query words, with positions) joined to `q` (lexeme,
 * idf), for the chunk row aliased `alias` (its n_tokens is the document length).
 */
function bm25Sum(alias: string, avgTokens: number): string {
  const tf = 'coalesce(array_length(u.positions, 1), 1)::float8';
  return `sum(q.idf * (${tf} * ${BM25_K1 + 1}::float8)
            / (${tf} + ${BM25_K1}::float8 * (1 - ${BM25_B}::float8 + ${BM25_B}::float8 * ${alias}.n_tokens / ${avgTokens}::float8)))`;
}

/** The filter as SQL conditions on `c`, with parameters numbered from `first`. */
function filterSql(filter: ChunkFilter, first: number): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (filter.language) {
    params.push(filter.language);
    parts.push(`c.language = $${first + params.length - 1}`);
  }
  if (filter.pathRegex) {
    params.push(filter.pathRegex);
    parts.push(`c.path ~ $${first + params.length - 1}`);
  }
  return { sql: parts.map((p) => ` AND ${p}`).join(''), params };
}

/** The innermost chunk covering `line` (1-based) of `path`: a method rather than its class. */
export async function chunkAt(db: Queryable, cb: Pick<ChunkScope, 'id'>, path: string, line: number): Promise<ChunkWithVector | null> {
  const r = await db.query<ChunkWithVector>(
    `SELECT ${COLUMNS}, c.embedding::text AS embedding
       FROM chunks c
      WHERE c.codebase_id = $1 AND c.path = $2 AND c.start_line <= $3 AND c.end_line >= $3
      ORDER BY c.end_line - c.start_line, c.start_line DESC
      LIMIT 1`,
    [cb.id, path, line],
  );
  return r.rows[0] ?? null;
}

/**
 * The k chunks of the same codebase nearest to `chunk`'s vector, leaving out the chunk itself and every
 * chunk overlapping it (its class, the other parts of a split symbol): those are not "elsewhere".
 */
export async function relatedChunks(db: Queryable, cb: ChunkScope, chunk: ChunkWithVector, k = 3): Promise<ScoredChunk[]> {
  if (!cb.dimension) return [];
  const dim = Math.trunc(cb.dimension);
  const id = Math.trunc(cb.id);
  // hnswScope: the partial HNSW index's own predicate, with literals.
  const r = await db.query<ScoredChunk>(
    `SELECT ${COLUMNS}, 1 - (c.embedding::vector(${dim}) <=> $1::vector(${dim})) AS score
       FROM chunks c
      WHERE ${hnswScope(id, dim)}
        AND NOT (c.path = $2 AND c.start_line <= $4 AND c.end_line >= $3)
      ORDER BY c.embedding::vector(${dim}) <=> $1::vector(${dim})
      LIMIT $5`,
    [chunk.embedding, chunk.path, chunk.startLine, chunk.endLine, Math.max(1, Math.trunc(k))],
  );
  // Iterative index scans return rows in approximately relaxed order.
  return r.rows.map((x) => ({ ...x, score: Number(x.score) })).sort(byScore);
}

/**
 * Chunks whose symbol name (lowercase, [a-z0-9.] only) contains every one of `idents` (as stored words:
 * lowercase [a-z0-9]), each starting one of the name's words. Candidates come from the index of symbol-name
 * words (whole and split), so no scan of the table. Ranked by how the name meets `whole` (the identifiers
 * joined as the query wrote them): exact names first, then prefixes, then shorter names.
 */
export async function chunksNamed(
  db: Queryable,
  codebaseId: number,
  idents: string[],
  whole: string,
  limit: number,
  via: CandidatePath = 'direct',
): Promise<NameMatch[]> {
  if (!idents.length) return [];
  const id = Math.trunc(codebaseId);
  const matches =
    via === 'definer'
      ? `c.id IN (SELECT id FROM semcode_symbol_candidates(${id}, $1))`
      : `c.codebase_id = ${id} AND c.symbol IS NOT NULL AND c.symbol_words @@ to_tsquery('simple', $1)`;
  const r = await db.query<NameMatch>(
    `SELECT * FROM (
       SELECT ${COLUMNS},
              CASE WHEN regexp_replace(s.norm, '^.*[.]', '') = $3 THEN 0
                   WHEN regexp_replace(s.norm, '^.*[.]', '') LIKE $3 || '%' THEN 1
                   WHEN s.norm LIKE $3 || '%' THEN 2
                   ELSE 3 END AS rank
         FROM chunks c
         CROSS JOIN LATERAL (SELECT regexp_replace(lower(c.symbol), '[^a-z0-9.]', '', 'g') AS norm) s
        WHERE ${matches} AND s.norm LIKE ALL ($2::text[])) m
      ORDER BY rank, length(symbol), symbol, path, "startLine"
      LIMIT $4`,
    [idents.map((w) => `${w}:*`).join(' & '), idents.map((w) => `%${w}%`), whole, Math.max(1, Math.trunc(limit))],
  );
  return r.rows.map((x) => ({ ...x, rank: Number(x.rank) }));
}
