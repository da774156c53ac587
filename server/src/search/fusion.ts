/**
 * How hybrid search ranks: the model's cosine plus two bounded word signals. Score fusion, not reciprocal rank
 * fusion: on held-out doc → code queries (scripts/eval-model.ts) RRF of the vector and text lists ranked below
 * the model alone, because it gives BM25's top hits as much say as the model's whatever the scores. Adding
 * bounded shares keeps the model's order where it is sure and lets word evidence break near-ties:
 *
 *   score = cos + text · bm25 / (best bm25 among the candidates) + name · nameMatch(query, symbol)
 *
 * The name term is the strongest of the two: documentation and queries name what a function does in the
 * words of its name ("Returns the user by id" ~ `getUserById`), which BM25 over the whole chunk dilutes.
 */
import { partsOf, stem, wordsOf } from '../text/terms';

export interface FusionWeights {
  /** weight of the BM25 score normalised by the query's best */
  text: number;
  /** weight of the symbol-name match (0..1) */
  name: number;
}

/**
 * Chosen with the shipped model on the tune half of the held-out evaluation (`npm run eval:model -- --tune`,
 * grid text 0–0.4 × name 0–1: MRR@10 0.417 for the model alone, 0.469 with the text term only, 0.513 here,
 * tied with text 0.3, since full-text terms are stemmed; 0.510 before); `npm run eval:model` reports on the
 * other half.
 */
export const DEFAULT_FUSION: FusionWeights = { text: 0.2, name: 0.6 };

export interface FusionCandidate {
  /** cosine similarity of the chunk's vector to the query's */
  cos: number;
  /** BM25 score, 0 when the chunk shares no word with the query */
  text: number;
  /** nameMatch of the chunk's symbol, 0..1 */
  name: number;
}

/** The fused score of each candidate (see the formula above); without word evidence it is the cosine. */
export function fuseScores(cands: readonly FusionCandidate[], w: FusionWeights): number[] {
  let max = 0;
  for (const c of cands) if (c.text > max) max = c.text;
  const scale = max > 0 ? w.text / max : 0;
  return cands.map((c) => c.cos + scale * c.text + w.name * c.name);
}

export interface QueryWord {
  word: string;
  /** BM25 idf in the codebase: rare words say more */
  idf: number;
}

/**
 * How well a symbol's name matches the query, 0..1: the harmonic mean of the share of the query's words
 * (idf-weighted) found among the symbol's words, and the share of the symbol's name parts found in the
 * query, both after stemming. 1 when the query and the name use the same words; 0 for no symbol.
 */
export function nameMatch(query: readonly QueryWord[], symbol: string | null): number {
  if (!symbol) return 0;
  const q = new Map<string, number>();
  for (const { word, idf } of query) {
    const s = stem(word);
    q.set(s, Math.max(q.get(s) ?? 0, idf));
  }
  let total = 0;
  for (const v of q.values()) total += v;
  if (!(total > 0)) return 0;
  const words = new Set(wordsOf(symbol).map(stem));
  let found = 0;
  for (const [s, v] of q) if (words.has(s)) found += v;
  const parts = [...new Set(partsOf(symbol).map(stem))];
  if (!found || !parts.length) return 0;
  const recall = found / total;
  const precision = parts.filter((p) => q.has(p)).length / parts.length;
  return precision > 0 ? (2 * recall * precision) / (recall + precision) : 0;
}
