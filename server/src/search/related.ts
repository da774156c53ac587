/**
 * The language server's lookups that are not a text query: the chunk under the cursor, the chunks nearest
 * to it (hover's "Related code") and symbols by name (workspace/symbol). Same SQL on PGlite and PostgreSQL,
 * every query scoped by codebase.
 */
import type { Queryable } from '../store/db';
import { type Codebase, hnswScope } from '../store/indexStore';
import { wordsOf } from '../text/terms';

export interface ChunkRef {
  id: string;
  path: string;
  /** 1-based, inclusive */
  startLine: number;
  endLine: number;
  symbol: string | null;
  kind: string;
  language: string;
  content: string;
}

export interface ChunkWithVector extends ChunkRef {
  /** pgvector text form */
  embedding: string;
}

export interface RelatedChunk extends ChunkRef {
  /** cosine similarity to the chunk asked about */
  score: number;
}

const COLUMNS = `c.id::text AS id, c.path, c.start_line AS "startLine", c.end_line AS "endLine", c.symbol, c.kind,
  c.language, c.content`;

/** The innermost chunk covering `line` (1-based) of `path`: a method rather than its class. */
export async function chunkAt(db: Queryable, cb: Codebase, path: string, line: number): Promise<ChunkWithVector | null> {
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
export async function relatedChunks(db: Queryable, cb: Codebase, chunk: ChunkWithVector, k = 3): Promise<RelatedChunk[]> {
  if (!cb.dimension) return [];
  const dim = Math.trunc(cb.dimension);
  const id = Math.trunc(cb.id);
  // hnswScope: the partial HNSW index's own predicate, with literals.
  const r = await db.query<RelatedChunk>(
    `SELECT ${COLUMNS}, 1 - (c.embedding::vector(${dim}) <=> $1::vector(${dim})) AS score
       FROM chunks c
      WHERE ${hnswScope(id, dim)}
        AND NOT (c.path = $2 AND c.start_line <= $4 AND c.end_line >= $3)
      ORDER BY c.embedding::vector(${dim}) <=> $1::vector(${dim})
      LIMIT $5`,
    [chunk.embedding, chunk.path, chunk.startLine, chunk.endLine, Math.max(1, Math.trunc(k))],
  );
  // Iterative index scans return rows in approximately relaxed order.
  return r.rows.map((x) => ({ ...x, score: Number(x.score) })).sort((a, b) => b.score - a.score);
}

export interface NameMatch extends ChunkRef {
  /** 0 exact name, 1 name prefix, 2 qualified-name prefix, 3 contains */
  rank: number;
}

/**
 * Symbols whose name contains every identifier of the query (case and `_` insensitive), each starting one of
 * the name's words: "getUs" finds `UserService.getUser`. Candidates come from the index of symbol-name words
 * (whole and split), so no scan of the table; exact names rank first, then prefixes, then shorter names.
 */
export async function symbolsByName(db: Queryable, cb: Codebase, query: string, limit = 50): Promise<NameMatch[]> {
  const idents = queryIdentifiers(query);
  if (!idents.length) return [];
  const whole = idents.join(query.includes('.') ? '.' : '');
  const id = Math.trunc(cb.id);
  const r = await db.query<NameMatch>(
    `SELECT * FROM (
       SELECT ${COLUMNS},
              CASE WHEN regexp_replace(s.norm, '^.*[.]', '') = $3 THEN 0
                   WHEN regexp_replace(s.norm, '^.*[.]', '') LIKE $3 || '%' THEN 1
                   WHEN s.norm LIKE $3 || '%' THEN 2
                   ELSE 3 END AS rank
         FROM chunks c
         CROSS JOIN LATERAL (SELECT regexp_replace(lower(c.symbol), '[^a-z0-9.]', '', 'g') AS norm) s
        WHERE c.codebase_id = ${id} AND c.symbol IS NOT NULL
          AND c.symbol_words @@ to_tsquery('simple', $1)
          AND s.norm LIKE ALL ($2::text[])) m
      ORDER BY rank, length(symbol), symbol, path, "startLine"
      LIMIT $4`,
    [idents.map((w) => `${w}:*`).join(' & '), idents.map((w) => `%${w}%`), whole, Math.max(1, Math.trunc(limit))],
  );
  return r.rows.map((x) => ({ ...x, rank: Number(x.rank) }));
}

/** The query's identifiers as the index stores whole words: lowercase [a-z0-9], `get_user` → `getuser`. */
export function queryIdentifiers(query: string): string[] {
  const out: string[] = [];
  for (const raw of query.match(/[A-Za-z0-9_]+/g) ?? []) {
    // wordsOf yields the whole identifier first, then its parts.
    const w = wordsOf(raw)[0];
    if (w && !out.includes(w)) out.push(w);
  }
  return out;
}
