/**
 * BM25 as a sparse dot product, so PostgreSQL (pgvector's `sparsevec`) ranks full-text candidates in C
 * instead of unnesting every candidate's tsvector in the executor (4-5x slower at 100k chunks).
 *
 * A chunk stores, per word, BM25's saturated term frequency tf·(k1+1) / (tf + k1·(1 − b + b·len/PIVOT)); a
 * query is the vector of its words' idf; their inner product is the chunk's BM25 score. Two approximations,
 * both only in choosing candidates: the length pivot is a constant instead of the codebase's average length
 * (which changes while indexing), and words map to dimensions by a 32-bit hash, so two words in one codebase
 * may share a dimension. Search rescores the chosen candidates exactly from their tsvectors, so neither ever
 * reaches a score a user sees.
 */
export const BM25_K1 = 1.2;
export const BM25_B = 0.75;
/** Document length the stored weights are normalised to: about the average chunk's length in words. */
export const BM25_PIVOT = 128;
/** pgvector's largest sparsevec dimension. */
export const SPARSE_DIM = 1_000_000_000;

/** The word's dimension, 1-based: FNV-1a over its UTF-16 code units (words are ASCII), modulo SPARSE_DIM. */
export function termDimension(word: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < word.length; i++) {
    h ^= word.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return ((h >>> 0) % SPARSE_DIM) + 1;
}

/** BM25's term-frequency factor for a chunk of `length` words. */
export function saturatedTf(tf: number, length: number): number {
  return (tf * (BM25_K1 + 1)) / (tf + BM25_K1 * (1 - BM25_B + (BM25_B * length) / BM25_PIVOT));
}

/** A sparsevec literal from (dimension, weight) pairs; weights of a shared dimension add up. */
function sparseLiteral(entries: Iterable<[number, number]>): string {
  const byDim = new Map<number, number>();
  for (const [d, w] of entries) byDim.set(d, (byDim.get(d) ?? 0) + w);
  const dims = [...byDim.keys()].sort((a, b) => a - b);
  return `{${dims.map((d) => `${d}:${Number(byDim.get(d)!.toPrecision(7))}`).join(',')}}/${SPARSE_DIM}`;
}

/** A chunk's stored vector from its words' frequencies and its length in words. */
export function chunkBm25Vector(tf: Iterable<[string, number]>, length: number): string {
  const entries: [number, number][] = [];
  for (const [word, n] of tf) entries.push([termDimension(word), saturatedTf(n, length)]);
  return sparseLiteral(entries);
}

/** A query's vector: each word's idf on its dimension. */
export function queryBm25Vector(words: readonly string[], idf: readonly number[]): string {
  return sparseLiteral(words.map((w, i) => [termDimension(w), idf[i]!]));
}
