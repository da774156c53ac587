/**
 * The math of one training step: pooled, normalised vectors of a batch's bags (the same arithmetic as
 * StaticModel.embed), the similarity matrix S = Q Cᵀ / τ, symmetric InfoNCE with in-batch negatives and its
 * gradient back through the normalisation into the rows of every token in the batch. The loop (trainer.ts),
 * the held-out figures (trainEval.ts) and the finite-difference check (batchGradient) all run this one copy.
 */
import { type StaticModel, poolFactor, type Pooling } from '../model/staticModel';
import { type Bags, bagsOfIds } from './bags';
import { dot, gemmABt, transpose } from './matrix';

/** Pooling factor per tf value, with the weight applied per token: coefficient of a bag entry. */
export function factorTable(maxTf: number, pooling: Pooling): Float64Array {
  const t = new Float64Array(maxTf + 1);
  for (let i = 1; i <= maxTf; i++) t[i] = poolFactor(i, pooling);
  return t;
}

/**
 * Pooled, normalised vectors of bags `which[0..n)` into `out` [n × d]; unnormalised norms into `norms`.
 * Same arithmetic as StaticModel.embed (sum in float64, zero vector stays zero).
 */
export function forward(
  model: StaticModel,
  bags: Bags,
  which: ArrayLike<number>,
  n: number,
  factors: Float64Array,
  out: Float64Array,
  norms: Float64Array,
): void {
  const { table, dim: d, weights } = model;
  out.fill(0, 0, n * d);
  for (let r = 0; r < n; r++) {
    const t = which[r]!;
    const o = r * d;
    for (let e = bags.offs[t]!, end = bags.offs[t + 1]!; e < end; e++) {
      const id = bags.ids[e]!;
      const c = factors[bags.tf[e]!]! * (weights ? weights[id]! : 1);
      const off = id * d;
      for (let k = 0; k < d; k++) out[o + k]! += c * table[off + k]!;
    }
    let s = 0;
    for (let k = 0; k < d; k++) s += out[o + k]! * out[o + k]!;
    const norm = Math.sqrt(s);
    norms[r] = norm;
    const inv = norm > 0 ? 1 / norm : 0;
    for (let k = 0; k < d; k++) out[o + k]! *= inv;
  }
}

/** S = Q Cᵀ / τ for n rows each. */
function similarities(q: Float64Array, c: Float64Array, n: number, d: number, invTemp: number, s: Float64Array): void {
  gemmABt(q, c, n, n, d, invTemp, s);
}

/**
 * Symmetric InfoNCE on S (n × n) in place: returns the loss and leaves dLoss/dS in `g`.
 * Row i: softmax over codes for query i; column j: softmax over queries for code j.
 */
function infoNce(s: Float64Array, n: number, g: Float64Array): number {
  let loss = 0;
  const scale = 1 / (2 * n);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let j = 0; j < n; j++) max = Math.max(max, s[i * n + j]!);
    let sum = 0;
    for (let j = 0; j < n; j++) sum += Math.exp(s[i * n + j]! - max);
    const lse = max + Math.log(sum);
    loss += lse - s[i * n + i]!;
    for (let j = 0; j < n; j++) g[i * n + j] = Math.exp(s[i * n + j]! - lse) * scale;
    g[i * n + i]! -= scale;
  }
  for (let j = 0; j < n; j++) {
    let max = -Infinity;
    for (let i = 0; i < n; i++) max = Math.max(max, s[i * n + j]!);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.exp(s[i * n + j]! - max);
    const lse = max + Math.log(sum);
    loss += lse - s[j * n + j]!;
    for (let i = 0; i < n; i++) g[i * n + j]! += Math.exp(s[i * n + j]! - lse) * scale;
    g[j * n + j]! -= scale;
  }
  return loss * scale;
}

/** Forward pass and loss of pairs `which[0..b)`: vectors into buf.q/buf.c, S into buf.s, dLoss/dS into buf.g. */
export function batchLoss(
  model: StaticModel,
  qb: Bags,
  cb: Bags,
  which: ArrayLike<number>,
  b: number,
  factors: Float64Array,
  invTemp: number,
  buf: StepBuffers,
): number {
  forward(model, qb, which, b, factors, buf.q, buf.qn);
  forward(model, cb, which, b, factors, buf.c, buf.cn);
  similarities(buf.q, buf.c, b, model.dim, invTemp, buf.s);
  return infoNce(buf.s, b, buf.g);
}

/** dE_q = G E_c / τ and dE_c = Gᵀ E_q / τ, through transposed copies so that both are A·Bᵀ products. */
export function backward(buf: StepBuffers, b: number, d: number, invTemp: number): void {
  const { q, c, dq, dc, g, t1, t2, gt } = buf;
  transpose(c, b, d, t1); // Cᵀ [d × b]
  transpose(q, b, d, t2); // Qᵀ [d × b]
  transpose(g, b, b, gt);
  gemmABt(g, t1, b, d, b, invTemp, dq);
  gemmABt(gt, t2, b, d, b, invTemp, dc);
}

/** Through the normalisation (de/dv = (I − e eᵀ)/‖v‖), then into the gradient of every row of each bag. */
export function scatter(
  buf: StepBuffers,
  qb: Bags,
  cb: Bags,
  which: Int32Array,
  b: number,
  d: number,
  factors: Float64Array,
  weights: Float32Array | undefined,
  opt: GradientSink,
): void {
  const gradRow = buf.row;
  const grad = opt.grad;
  for (let side = 0; side < 2; side++) {
    const bags = side === 0 ? qb : cb;
    const e = side === 0 ? buf.q : buf.c;
    const de = side === 0 ? buf.dq : buf.dc;
    const norms = side === 0 ? buf.qn : buf.cn;
    for (let r = 0; r < b; r++) {
      const o = r * d;
      const norm = norms[r]!;
      if (!(norm > 0)) continue;
      const proj = dot(e, o, de, o, d);
      for (let k = 0; k < d; k++) gradRow[k] = (de[o + k]! - e[o + k]! * proj) / norm;
      const t = which[r]!;
      for (let x = bags.offs[t]!, end = bags.offs[t + 1]!; x < end; x++) {
        const id = bags.ids[x]!;
        const coef = factors[bags.tf[x]!]! * (weights ? weights[id]! : 1);
        opt.touch(id);
        const off = id * d;
        for (let k = 0; k < d; k++) grad[off + k]! += coef * gradRow[k]!;
      }
    }
  }
}

/** Scratch buffers of one step, allocated once. */
export class StepBuffers {
  readonly q: Float64Array;
  readonly c: Float64Array;
  readonly dq: Float64Array;
  readonly dc: Float64Array;
  readonly qn: Float64Array;
  readonly cn: Float64Array;
  readonly s: Float64Array;
  readonly g: Float64Array;
  readonly gt: Float64Array;
  readonly t1: Float64Array;
  readonly t2: Float64Array;
  readonly row: Float64Array;
  constructor(b: number, d: number) {
    this.gt = new Float64Array(b * b);
    this.t1 = new Float64Array(b * d);
    this.t2 = new Float64Array(b * d);
    this.row = new Float64Array(d);
    this.q = new Float64Array(b * d);
    this.c = new Float64Array(b * d);
    this.dq = new Float64Array(b * d);
    this.dc = new Float64Array(b * d);
    this.qn = new Float64Array(b);
    this.cn = new Float64Array(b);
    this.s = new Float64Array(b * b);
    this.g = new Float64Array(b * b);
  }
}

/** Where scatter accumulates the table gradient: the optimizer (SparseAdagrad) or a dense buffer (batchGradient). */
export interface GradientSink {
  readonly grad: Float32Array;
  touch(row: number): void;
}

/**
 * Loss and dense gradient (dLoss/dtable, [vocab × dim]) of one batch of encoded pairs, by the same code as a
 * training step: for finite-difference tests and diagnostics.
 */
export function batchGradient(model: StaticModel, queries: Int32Array[], codes: Int32Array[], temperature: number): { loss: number; grad: Float32Array } {
  const b = queries.length;
  if (codes.length !== b || b < 2) throw new Error('need as many codes as queries, at least 2');
  const d = model.dim;
  const qb = bagsOfIds(queries, model.vocabSize);
  const cb = bagsOfIds(codes, model.vocabSize);
  const factors = factorTable(0xffff, model.pooling);
  const buf = new StepBuffers(b, d);
  const which = Int32Array.from({ length: b }, (_, i) => i);
  const loss = batchLoss(model, qb, cb, which, b, factors, 1 / temperature, buf);
  backward(buf, b, d, 1 / temperature);
  const sink = { grad: new Float32Array(model.table.length), touch() {} };
  scatter(buf, qb, cb, which, b, d, factors, model.weights, sink);
  return { loss, grad: sink.grad };
}
