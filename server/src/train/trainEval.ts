/**
 * How well a model in training retrieves: MRR@10 and recall of each held-out query's own code among all
 * held-out codes, and the held-out InfoNCE loss, for the progress reports of every epoch (and `evaluate`).
 * Apart from the loop because it scores whole sets, not batches, and never changes the model.
 */
import type { StaticModel } from '../model/staticModel';
import type { Bags } from './bags';
import { type StepBuffers, batchLoss, factorTable, forward } from './contrastiveLoss';
import { gemmABt } from './matrix';

export interface Evaluation {
  /** mean reciprocal rank of the right code among all held-out codes, 0 beyond rank 10 */
  mrr10: number;
  recall1: number;
  recall10: number;
  count: number;
}

/** `evaluate` (trainer.ts) of texts already encoded: each query ranks every code of the set. */
export function evaluateBags(model: StaticModel, qb: Bags, cb: Bags): Evaluation {
  const n = qb.count;
  const d = model.dim;
  const factors = factorTable(0xffff, model.pooling);
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const q = new Float64Array(n * d);
  const c = new Float64Array(n * d);
  const norms = new Float64Array(n);
  forward(model, qb, all, n, factors, q, norms);
  forward(model, cb, all, n, factors, c, norms);
  let mrr = 0;
  let r1 = 0;
  let r10 = 0;
  // Scores a block of queries against every code at a time (the blocked product is ~4× faster than dots).
  const block = 64;
  const scores = new Float64Array(block * n);
  for (let i0 = 0; i0 < n; i0 += block) {
    const m = Math.min(block, n - i0);
    gemmABt(q.subarray(i0 * d, (i0 + m) * d), c, m, n, d, 1, scores);
    for (let r = 0; r < m; r++) {
      const i = i0 + r;
      const row = r * n;
      const self = scores[row + i]!;
      let rank = 1;
      for (let j = 0; j < n; j++) if (j !== i && scores[row + j]! >= self) rank++;
      if (rank <= 10) {
        mrr += 1 / rank;
        r10++;
        if (rank === 1) r1++;
      }
    }
  }
  return { mrr10: n ? mrr / n : 0, recall1: n ? r1 / n : 0, recall10: n ? r10 / n : 0, count: n };
}

/** Symmetric InfoNCE of the held-out set in batches of `batch` (in order), for a loss curve on unseen pairs. */
export function heldOutLoss(model: StaticModel, qb: Bags, cb: Bags, batch: number, invTemp: number, factors: Float64Array, buf: StepBuffers): number {
  const n = qb.count;
  let total = 0;
  let batches = 0;
  for (let s = 0; s + 2 <= n; s += batch) {
    const b = Math.min(batch, n - s);
    if (b < 2) break;
    const which = Int32Array.from({ length: b }, (_, i) => s + i);
    total += batchLoss(model, qb, cb, which, b, factors, invTemp, buf);
    batches++;
  }
  return batches ? total / batches : NaN;
}
