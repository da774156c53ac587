/**
 * The embedding cache: vectors keyed by (model hash, input hash), so an unchanged chunk, or the same text in
 * another codebase, is not embedded again. A row holds only those two hashes and the vector: no path, no code
 * text, no codebase. It reveals no code (at most, a hash confirms a text someone already has), which is what
 * lets a later row-level-security policy leave this table unscoped, shared by every writer, while it scopes
 * files and chunks by codebase.
 */
import type { Queryable } from './db';

/** Cached vectors (as pgvector literals) for these model inputs. */
export async function cachedEmbeddings(db: Queryable, modelHash: string, inputHashes: string[]): Promise<Map<string, string>> {
  if (!inputHashes.length) return new Map();
  const r = await db.query<{ input_hash: string; embedding: string }>(
    `SELECT input_hash, embedding::text AS embedding FROM embedding_cache
      WHERE model_hash = $1 AND input_hash = ANY($2::text[])`,
    [modelHash, inputHashes],
  );
  return new Map(r.rows.map((x) => [x.input_hash, x.embedding]));
}

/** Stores vectors for model inputs; an input already cached keeps its first vector. */
export async function cacheEmbeddings(db: Queryable, modelHash: string, entries: { inputHash: string; embedding: string }[]): Promise<void> {
  if (!entries.length) return;
  await db.query(
    `INSERT INTO embedding_cache (model_hash, input_hash, embedding)
     SELECT $1, t.h, t.e::vector FROM unnest($2::text[], $3::text[]) AS t(h, e)
     ON CONFLICT DO NOTHING`,
    [modelHash, entries.map((e) => e.inputHash), entries.map((e) => e.embedding)],
  );
}
