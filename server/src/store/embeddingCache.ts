/**
 * The embedding cache: vectors keyed by (codebase, model hash, input hash), so an unchanged chunk, a second
 * folder of the codebase or a re-chunked file with the same text is not embedded again. A row holds those
 * keys and the vector, no path or code text; but a vector is derived from code, so rows belong to a codebase
 * and row-level security shows them only to those who may read it (accessSchema.ts).
 */
import type { Queryable } from './db';

/** Cached vectors (as pgvector literals) for these model inputs of a codebase. */
export async function cachedEmbeddings(db: Queryable, codebaseId: number, modelHash: string, inputHashes: string[]): Promise<Map<string, string>> {
  if (!inputHashes.length) return new Map();
  const r = await db.query<{ input_hash: string; embedding: string }>(
    `SELECT input_hash, embedding::text AS embedding FROM embedding_cache
      WHERE codebase_id = $1 AND model_hash = $2 AND input_hash = ANY($3::text[])`,
    [codebaseId, modelHash, inputHashes],
  );
  return new Map(r.rows.map((x) => [x.input_hash, x.embedding]));
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
