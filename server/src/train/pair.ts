/**
 * The (documentation → code) training pair, on its own so that mining (pairs.ts), dedupe (pairDedupe.ts) and
 * the held-out splits (pairSplits.ts) share one definition without importing each other in a circle; pairs.ts
 * re-exports it.
 */
export interface Pair {
  /** the first sentence(s) of the documentation, as a search query */
  query: string;
  /** the function's chunk with its documentation removed */
  code: string;
  language: string;
  /** package id (corpus); empty for a codebase's own pairs (fine-tuning), whose relative paths name its files */
  source: string;
  /** posix path relative to the source */
  path: string;
  symbol: string;
  /** the chunk's first line (1-based, doc comment included), as search results report it */
  startLine: number;
}

/** The last segment of a qualified symbol name (`LRU.Get` → `Get`). */
export function bareName(symbol: string): string {
  return symbol.slice(symbol.lastIndexOf('.') + 1);
}
