/**
 * Retrieval metrics for the (doc → code) evaluation: MRR@k and recall@k over the rank of the one right
 * answer per query, a paired bootstrap to tell whether a change helps, and an in-memory Okapi BM25 baseline
 * scored like the server's text search (server/src/search/search.ts: same words, k1, b and idf).
 */
import { mulberry32 } from '../model/random';
import { queryTerms, wordsOf } from '../text/terms';

function checkK(k: number): void {
  if (!(k >= 1)) throw new RangeError(`k must be >= 1, got ${k}`);
}

/**
 * Mean reciprocal rank, counting only answers within the top k. `ranks` are 1-based positions of the
 * right answer, Infinity when it was not returned. NaN for no queries (there is nothing to average).
 */
export function mrrAt(ranks: number[], k = 10): number {
  checkK(k);
  if (ranks.length === 0) return NaN;
  let sum = 0;
  for (const r of ranks) if (r >= 1 && r <= k) sum += 1 / r;
  return sum / ranks.length;
}

/** Share of queries whose right answer is within the top k; NaN for no queries. */
export function recallAt(ranks: number[], k: number): number {
  checkK(k);
  if (ranks.length === 0) return NaN;
  let hits = 0;
  for (const r of ranks) if (r >= 1 && r <= k) hits++;
  return hits / ranks.length;
}

/** The seeded PRNG for bootstrap draws. */
export const seededRandom = mulberry32;

/**
 * Paired bootstrap over queries: resamples query indices with replacement and returns the share of
 * resamples in which mean(after) > mean(before); ties count half, so two identical systems score 0.5
 * rather than 0. Near 1: `after` is reliably better; near 0.5: no evidence either way.
 */
export function pairedBootstrap(before: number[], after: number[], resamples: number, seed: number): number {
  if (before.length !== after.length) throw new RangeError(`paired scores differ in length: ${before.length} vs ${after.length}`);
  if (!(Number.isInteger(resamples) && resamples >= 1)) throw new RangeError(`resamples must be a positive integer, got ${resamples}`);
  const n = before.length;
  if (n === 0) return 0.5;
  // the difference of the means is the mean of the paired differences
  const diff = new Float64Array(n);
  for (let i = 0; i < n; i++) diff[i] = after[i]! - before[i]!;
  const rand = seededRandom(seed);
  let wins = 0;
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += diff[Math.floor(rand() * n)]!;
    if (sum > 0) wins++;
    else if (sum === 0) wins += 0.5;
  }
  return wins / resamples;
}

/**
 * Okapi BM25 over an in-memory collection (k1 1.2, b 0.75, idf ln(1 + (N - n + 0.5) / (n + 0.5))). Words are
 * identifiers split and lowercased by `wordsOf`, the whole identifier kept too, no stopwords; a query's
 * words count once each. Scores come from an inverted index, so a query costs the length of its terms'
 * posting lists, not a scan of every document. Documents are scored as given (pass code only, no path).
 */
export class Bm25 {
  readonly k1: number;
  readonly b: number;
  readonly size: number;
  readonly avgLength: number;
  private readonly postings = new Map<string, { docs: Int32Array; tfs: Float64Array }>();
  /** k1 * (1 - b + b * len / avgLength) per document */
  private readonly norm: Float64Array;
  private readonly acc: Float64Array;

  constructor(docs: string[], opts: { k1?: number; b?: number } = {}) {
    this.k1 = opts.k1 ?? 1.2;
    this.b = opts.b ?? 0.75;
    this.size = docs.length;
    const lengths = new Float64Array(docs.length);
    const lists = new Map<string, { docs: number[]; tfs: number[] }>();
    let total = 0;
    docs.forEach((doc, d) => {
      const words = wordsOf(doc);
      lengths[d] = words.length;
      total += words.length;
      const tf = new Map<string, number>();
      for (const w of words) tf.set(w, (tf.get(w) ?? 0) + 1);
      for (const [w, n] of tf) {
        let l = lists.get(w);
        if (!l) lists.set(w, (l = { docs: [], tfs: [] }));
        l.docs.push(d);
        l.tfs.push(n);
      }
    });
    for (const [w, l] of lists) this.postings.set(w, { docs: Int32Array.from(l.docs), tfs: Float64Array.from(l.tfs) });
    this.avgLength = docs.length ? total / docs.length : 0;
    this.norm = new Float64Array(docs.length);
    for (let d = 0; d < docs.length; d++) {
      this.norm[d] = this.k1 * (1 - this.b + (this.avgLength > 0 ? (this.b * lengths[d]!) / this.avgLength : 0));
    }
    this.acc = new Float64Array(docs.length);
  }

  /** Number of documents containing `word` (already a lowercased word from wordsOf). */
  docFreq(word: string): number {
    return this.postings.get(word)?.docs.length ?? 0;
  }

  idf(word: string): number {
    const n = this.docFreq(word);
    return Math.log(1 + (this.size - n + 0.5) / (n + 0.5));
  }

  /** BM25 score of one document for a query (0 when no query word occurs in it). */
  score(query: string, doc: number): number {
    let s = 0;
    for (const t of queryTerms(query)) {
      const p = this.postings.get(t);
      if (!p) continue;
      const at = binarySearch(p.docs, doc);
      if (at < 0) continue;
      const tf = p.tfs[at]!;
      s += (this.idf(t) * tf * (this.k1 + 1)) / (tf + this.norm[doc]!);
    }
    return s;
  }

  /**
   * Indices of the k best documents, best first (ties: lower index first). Only documents sharing a word
   * with the query are ranked, so fewer than k may come back.
   */
  rank(query: string, k: number): number[] {
    if (!(k >= 1)) return [];
    const acc = this.acc;
    const touched: number[] = [];
    for (const t of queryTerms(query)) {
      const p = this.postings.get(t);
      if (!p) continue;
      const idf = this.idf(t);
      const { docs, tfs } = p;
      for (let i = 0; i < docs.length; i++) {
        const d = docs[i]!;
        const tf = tfs[i]!;
        if (acc[d] === 0) touched.push(d);
        acc[d]! += (idf * tf * (this.k1 + 1)) / (tf + this.norm[d]!);
      }
    }
    // top k with a min-heap keyed (score, -index): O(touched · log k)
    const heap = new TopK(Math.min(k, touched.length));
    for (const d of touched) {
      heap.offer(d, acc[d]!);
      acc[d] = 0;
    }
    return heap.sorted();
  }
}

function binarySearch(a: Int32Array, x: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = a[mid]!;
    if (v === x) return mid;
    if (v < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Bounded min-heap keeping the k best (higher score, then lower index). */
class TopK {
  private readonly ids: number[] = [];
  private readonly scores: number[] = [];

  constructor(private readonly k: number) {}

  /** true when (s1, i1) ranks below (s2, i2) */
  private worse(s1: number, i1: number, s2: number, i2: number): boolean {
    return s1 < s2 || (s1 === s2 && i1 > i2);
  }

  offer(id: number, score: number): void {
    if (this.k <= 0) return;
    const { ids, scores } = this;
    if (ids.length < this.k) {
      ids.push(id);
      scores.push(score);
      let i = ids.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!this.worse(scores[i]!, ids[i]!, scores[p]!, ids[p]!)) break;
        this.swap(i, p);
        i = p;
      }
      return;
    }
    if (!this.worse(scores[0]!, ids[0]!, score, id)) return;
    ids[0] = id;
    scores[0] = score;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < ids.length && this.worse(scores[l]!, ids[l]!, scores[m]!, ids[m]!)) m = l;
      if (r < ids.length && this.worse(scores[r]!, ids[r]!, scores[m]!, ids[m]!)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(a: number, b: number): void {
    const { ids, scores } = this;
    [ids[a], ids[b]] = [ids[b]!, ids[a]!];
    [scores[a], scores[b]] = [scores[b]!, scores[a]!];
  }

  sorted(): number[] {
    const order = this.ids.map((id, i) => ({ id, s: this.scores[i]! }));
    order.sort((x, y) => y.s - x.s || x.id - y.id);
    return order.map((o) => o.id);
  }
}
