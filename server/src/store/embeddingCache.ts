/**
 * The embedding cache: vectors by (codebase, model hash, input hash), so an unchanged chunk, a second folder
 * of the codebase, a re-chunked file with the same text, or the same text in another codebase is not
 * embedded again. A row holds those keys and the vector, no path or code text; but a vector is derived
 * from code, so rows belong to a codebase and row-level security shows them only to those who may read it
 * (accessSchema.ts). A lookup reuses any row the caller may read, its own codebase's first.
 */
import type { Queryable } from './db';

export interface CachedVector {
  /** pgvector text form */
  embedding: string;
  /** the row is the codebase's own (false: another codebase's, which the caller may read) */
  own: boolean;
}

/** Cached vectors for these model inputs, from the codebase's rows or another's that the caller may read. */
export async function cachedEmbeddings(db: Queryable, codebaseId: number, modelHash: string, inputHashes: string[]): Promise<Map<string, CachedVector>> {
  if (!inputHashes.length) return new Map();
  const r = await db.query<{ input_hash: string; embedding: string; own: boolean }>(
    `SELECT DISTINCT ON (input_hash) input_hash, embedding::text AS embedding, codebase_id = $1 AS own
       FROM embedding_cache
      WHERE model_hash = $2 AND input_hash = ANY($3::text[])
      ORDER BY input_hash, codebase_id = $1 DESC, codebase_id`,
    [codebaseId, modelHash, inputHashes],
  );
  return new Map(r.rows.map((x) => [x.input_hash, { embedding: x.embedding, own: x.own }]));
}

/** Stores vectors for model inputs of a codebase; an input already cached keeps its first vector. */
export async function cacheEmbeddings(
  db: Queryable,
  codebaseId: number,
  modelHash: string,
  entries: { inputHash: string; embedding: string }[],
): Promise<void> {
  if (!entries.length) return;
  await db.query(
    `INSERT INTO embedding_cache (codebase_id, model_hash, input_hash, embedding)
     SELECT $1, $2, t.h, t.e::vector FROM unnest($3::text[], $4::text[]) AS t(h, e)
     ON CONFLICT DO NOTHING`,
    [codebaseId, modelHash, entries.map((e) => e.inputHash), entries.map((e) => e.embedding)],
  );
}
