/**
 * A static embedding model: one vector per vocabulary token, pooled over a text's tokens and L2-normalised.
 *
 * What is pooled is exactly what the exported model gives transformers.js (export.ts): every id of
 * `CodeTokenizer.encode(text)`, [CLS] and [SEP] included — the pipeline's mean runs over every position
 * whose attention mask is 1, and those two are among them. They are ordinary trainable rows; they also keep
 * a text without a single word (a query of punctuation) from pooling to nothing.
 *
 * Pooling, per distinct token u with count tf_u in the text, row r_u and weight w_u:
 *   mean:      v = Σ_u tf_u · w_u · r_u                 (a plain mean: the Gather-only ONNX graph)
 *   sublinear: v = Σ_u (1 + ln tf_u) · w_u · r_u        (log term frequency: the graph scales each
 *                                                        position by (1 + ln tf)/tf before the mean)
 * then e = v / ‖v‖. The 1/n of a mean disappears in the normalisation, so neither needs it. Weights (IDF or
 * learned) are folded into the rows at export: w_u · r_u is just another row.
 */

export type Pooling = 'mean' | 'sublinear';
export const POOLINGS: readonly Pooling[] = ['mean', 'sublinear'];

/** The factor of a token that occurs `tf` times in a text (tf ≥ 1). */
export function poolFactor(tf: number, pooling: Pooling): number {
  return pooling === 'mean' ? tf : 1 + Math.log(tf);
}

import { mulberry32 } from './random';

export { mulberry32 };

/** Standard normal draws (Box–Muller) from a seeded uniform source. */
export function normalSource(uniform: () => number): () => number {
  let spare = NaN;
  return () => {
    if (!Number.isNaN(spare)) {
      const s = spare;
      spare = NaN;
      return s;
    }
    const u = Math.max(uniform(), 1e-300);
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * uniform();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}

export interface StaticModelInit {
  /** standard deviation of the initial rows (default 1/√dim: pooled vectors start near unit scale) */
  std?: number;
  weights?: Float32Array;
  pooling?: Pooling;
}

export class StaticModel {
  readonly vocabSize: number;
  readonly dim: number;
  /** row-major [vocabSize × dim] */
  readonly table: Float32Array;
  /** per-token weights (IDF or learned); multiplied into the rows at export */
  weights?: Float32Array;
  pooling: Pooling;
  // Scratch for embed(): token counts and the distinct ids of the current text (reset after each call).
  private readonly counts: Int32Array;
  private readonly acc: Float64Array;

  constructor(vocabSize: number, dim: number, opts: { table?: Float32Array; weights?: Float32Array; pooling?: Pooling } = {}) {
    if (!Number.isInteger(vocabSize) || vocabSize < 1) throw new Error(`vocabSize must be a positive integer, got ${vocabSize}`);
    if (!Number.isInteger(dim) || dim < 1) throw new Error(`dim must be a positive integer, got ${dim}`);
    this.vocabSize = vocabSize;
    this.dim = dim;
    this.table = opts.table ?? new Float32Array(vocabSize * dim);
    if (this.table.length !== vocabSize * dim) throw new Error(`table has ${this.table.length} values; expected ${vocabSize} × ${dim}`);
    if (opts.weights && opts.weights.length !== vocabSize) throw new Error(`weights has ${opts.weights.length} values; expected ${vocabSize}`);
    this.weights = opts.weights;
    this.pooling = opts.pooling ?? 'mean';
    if (!POOLINGS.includes(this.pooling)) throw new Error(`unknown pooling '${String(this.pooling)}'`);
    this.counts = new Int32Array(vocabSize);
    this.acc = new Float64Array(dim);
  }

  /** Rows drawn from N(0, std²) with a seeded PRNG: the same seed gives the same table everywhere. */
  static init(vocabSize: number, dim: number, seed: number, opts: StaticModelInit = {}): StaticModel {
    const m = new StaticModel(vocabSize, dim, { weights: opts.weights, pooling: opts.pooling });
    const std = opts.std ?? 1 / Math.sqrt(dim);
    const normal = normalSource(mulberry32(seed));
    for (let i = 0; i < m.table.length; i++) m.table[i] = normal() * std;
    return m;
  }

  clone(): StaticModel {
    return new StaticModel(this.vocabSize, this.dim, { table: this.table.slice(), weights: this.weights?.slice(), pooling: this.pooling });
  }

  /** The rows as exported: each multiplied by its weight. */
  foldedTable(): Float32Array {
    const out = this.table.slice();
    const w = this.weights;
    if (!w) return out;
    const d = this.dim;
    for (let u = 0; u < this.vocabSize; u++) {
      const f = w[u]!;
      for (let k = u * d, end = k + d; k < end; k++) out[k] = out[k]! * f;
    }
    return out;
  }

  /**
   * The pooled, L2-normalised vector of a token sequence (CodeTokenizer.encode output, specials included).
   * An all-zero pooled vector stays all zero rather than becoming NaN.
   */
  embed(ids: Int32Array, out: Float32Array = new Float32Array(this.dim)): Float32Array {
    const { counts, acc, table, dim, weights } = this;
    for (let t = 0; t < ids.length; t++) {
      const id = ids[t]!;
      // checked before any count changes, so a bad id cannot leave the scratch counts dirty
      if (!(id >= 0 && id < this.vocabSize)) throw new Error(`token id ${id} outside the vocabulary (${this.vocabSize})`);
    }
    for (let t = 0; t < ids.length; t++) counts[ids[t]!]!++;
    acc.fill(0);
    for (let t = 0; t < ids.length; t++) {
      const id = ids[t]!;
      const tf = counts[id]!;
      if (tf === 0) continue; // already added
      counts[id] = 0;
      const f = poolFactor(tf, this.pooling) * (weights ? weights[id]! : 1);
      const off = id * dim;
      for (let k = 0; k < dim; k++) acc[k]! += f * table[off + k]!;
    }
    let norm = 0;
    for (let k = 0; k < dim; k++) norm += acc[k]! * acc[k]!;
    norm = Math.sqrt(norm);
    const inv = norm > 0 ? 1 / norm : 0;
    for (let k = 0; k < dim; k++) out[k] = acc[k]! * inv;
    return out;
  }
}
