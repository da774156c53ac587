/**
 * Contrastive training of a StaticModel on (query, code) pairs: symmetric InfoNCE with in-batch negatives.
 *
 * For a batch of B pairs, q_i and c_i are the pooled, normalised vectors (StaticModel.embed, computed from
 * bags of distinct tokens) and S = Q Cᵀ / τ. The loss is the mean of the query→code and code→query
 * cross-entropies with the diagonal as the target. Gradients reach only the rows of tokens in the batch, so
 * a step costs O(B²·d + tokens·d) whatever the vocabulary; rows are updated with sparse Adagrad (per-element
 * accumulators, touched rows only).
 *
 * Deterministic: a seeded PRNG shuffles the pairs each epoch, and every sum runs in a fixed order, so the
 * same inputs and seed give the same table bit for bit.
 *
 * What is trained is what inference computes: texts are tokenized with the model's truncation ([CLS]/[SEP]
 * included), pooled with the model's pooling and weighted with its fixed per-token weights (IDF by default),
 * which export.ts reproduces in ONNX. Callers pass the code side exactly as the indexer embeds it
 * (`modelInput(chunk)`: path + "\n" + content).
 *
 * This module is the loop: options, epochs, shuffling and progress reports. The bags it trains on are
 * bags.ts's, the step's forward and backward math contrastiveLoss.ts's (dense kernels in matrix.ts), the
 * optimizer sparseAdagrad.ts's and the held-out figures trainEval.ts's.
 */
import { StaticModel, mulberry32, type Pooling } from '../model/staticModel';
import type { CodeTokenizer } from '../model/tokenizer';
import { type Bags, encodeBags, idfWeights } from './bags';
import { StepBuffers, backward, batchLoss, factorTable, scatter } from './contrastiveLoss';
import { SparseAdagrad } from './sparseAdagrad';
import { type Evaluation, evaluateBags, heldOutLoss } from './trainEval';

export { type Bags, bagsOfIds, encodeBags, idfWeights } from './bags';
export { batchGradient } from './contrastiveLoss';
export type { Evaluation } from './trainEval';

export interface TrainPair {
  query: string;
  code: string;
}

export interface TrainProgress {
  /** 0 = before training (the initialisation's held-out figures), then 1..epochs */
  epoch: number;
  /** global step count so far */
  step: number;
  totalSteps: number;
  /** mean training loss over the steps since the previous report (NaN at epoch 0) */
  loss: number;
  /** held-out MRR@10 and mean symmetric InfoNCE loss (per batch of held-out pairs), on epoch reports */
  heldOutMrr?: number;
  heldOutLoss?: number;
  /** training pairs per second so far (steps only, evaluation excluded) */
  pairsPerSecond: number;
  elapsedMs: number;
  kind: 'init' | 'steps' | 'epoch';
}

export interface TrainOptions {
  pairs: readonly TrainPair[];
  heldOut?: readonly TrainPair[];
  tokenizer: CodeTokenizer;
  /** fine-tuning: start from this model (its table, weights and pooling; `dim` is ignored) */
  init?: StaticModel;
  dim?: number;
  epochs?: number;
  batchSize?: number;
  /** Adagrad learning rate */
  lr?: number;
  temperature?: number;
  seed?: number;
  pooling?: Pooling;
  /** per-token IDF weights from the training texts (default true; ignored with `init`, which has its own) */
  idf?: boolean;
  /** report training loss every this many steps as well as at each epoch's end (default: epochs only) */
  logEvery?: number;
  onProgress?: (p: TrainProgress) => void;
}

export const TRAIN_DEFAULTS = {
  dim: 256,
  epochs: 4,
  batchSize: 512,
  lr: 0.05,
  temperature: 0.05,
  seed: 1,
  pooling: 'sublinear' as Pooling,
};

/**
 * Retrieval quality on pairs: each query ranks every code of the set; ties count against the right code, so
 * a model that cannot tell codes apart scores ~0, not 1.
 */
export function evaluate(model: StaticModel, tokenizer: CodeTokenizer, pairs: readonly TrainPair[]): Evaluation {
  return evaluateBags(
    model,
    encodeBags(
      pairs.map((p) => p.query),
      tokenizer,
    ),
    encodeBags(
      pairs.map((p) => p.code),
      tokenizer,
    ),
  );
}

/** One line for a log: `epoch 2/4 step 36/72 loss 0.1173 held-out MRR@10 0.4643 loss 2.9222 1465 pairs/s 17.8 s`. */
export function formatProgress(p: TrainProgress, epochs?: number): string {
  const parts = [`epoch ${p.epoch}${epochs ? `/${epochs}` : ''}`, `step ${p.step}/${p.totalSteps}`];
  if (!Number.isNaN(p.loss)) parts.push(`loss ${p.loss.toFixed(4)}`);
  if (p.heldOutMrr !== undefined) parts.push(`held-out MRR@10 ${p.heldOutMrr.toFixed(4)} loss ${p.heldOutLoss?.toFixed(4)}`);
  if (p.pairsPerSecond) parts.push(`${p.pairsPerSecond.toFixed(0)} pairs/s`);
  parts.push(`${(p.elapsedMs / 1000).toFixed(1)} s`);
  return parts.join(' ');
}

/** Fisher–Yates with a seeded PRNG. */
function shuffle(a: Int32Array, rand: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}

/**
 * The model training starts from: a copy of `opts.init` (fine-tuning), or a fresh seeded table with IDF
 * weights from the training texts `qb` and `cb` unless `opts.idf` is false.
 */
function initialModel(opts: TrainOptions, qb: Bags, cb: Bags, seed: number): StaticModel {
  const { tokenizer } = opts;
  let model: StaticModel;
  if (opts.init) {
    if (opts.init.vocabSize !== tokenizer.size) throw new Error(`init model has ${opts.init.vocabSize} rows but the tokenizer ${tokenizer.size} tokens`);
    model = opts.init.clone();
  } else {
    const dim = opts.dim ?? TRAIN_DEFAULTS.dim;
    const weights = opts.idf === false ? undefined : idfWeights([qb, cb], tokenizer.size);
    model = StaticModel.init(tokenizer.size, dim, seed, { weights, pooling: opts.pooling ?? TRAIN_DEFAULTS.pooling });
  }
  return model;
}

/** The loop's settings: the options with TRAIN_DEFAULTS filled in, checked. */
function settings(opts: TrainOptions): { epochs: number; batchSize: number; lr: number; temperature: number; seed: number } {
  const epochs = opts.epochs ?? TRAIN_DEFAULTS.epochs;
  const batchSize = opts.batchSize ?? TRAIN_DEFAULTS.batchSize;
  const lr = opts.lr ?? TRAIN_DEFAULTS.lr;
  const temperature = opts.temperature ?? TRAIN_DEFAULTS.temperature;
  const seed = opts.seed ?? TRAIN_DEFAULTS.seed;
  if (!(batchSize >= 2)) throw new Error(`batchSize must be at least 2, got ${batchSize}`);
  if (!(temperature > 0)) throw new Error(`temperature must be positive, got ${temperature}`);
  if (opts.pairs.length < 2) throw new Error(`training needs at least 2 pairs, got ${opts.pairs.length}`);
  return { epochs, batchSize, lr, temperature, seed };
}

export function train(opts: TrainOptions): StaticModel {
  const { tokenizer } = opts;
  const { epochs, batchSize, lr, temperature, seed } = settings(opts);

  const start = Date.now();
  const qb = encodeBags(
    opts.pairs.map((p) => p.query),
    tokenizer,
  );
  const cb = encodeBags(
    opts.pairs.map((p) => p.code),
    tokenizer,
  );

  const model = initialModel(opts, qb, cb, seed);
  const d = model.dim;
  const { table, weights } = model;
  const factors = factorTable(0xffff, model.pooling);
  const invTemp = 1 / temperature;

  const held = opts.heldOut?.length
    ? {
        q: encodeBags(
          opts.heldOut.map((p) => p.query),
          tokenizer,
        ),
        c: encodeBags(
          opts.heldOut.map((p) => p.code),
          tokenizer,
        ),
      }
    : undefined;

  const n = opts.pairs.length;
  // a last batch of one pair is skipped: it has no negative
  const stepsPerEpoch = Math.floor(n / batchSize) + (n % batchSize >= 2 ? 1 : 0);
  const totalSteps = stepsPerEpoch * epochs;
  const buf = new StepBuffers(batchSize, d);
  const opt = new SparseAdagrad(table, d, lr);
  const rand = mulberry32(seed ^ 0x5eed);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  let step = 0;
  let seen = 0;
  let stepMs = 0;
  let lossSum = 0;
  let lossSteps = 0;

  const report = (epoch: number, kind: TrainProgress['kind']) => {
    if (!opts.onProgress) return;
    const p: TrainProgress = {
      epoch,
      step,
      totalSteps,
      loss: lossSteps ? lossSum / lossSteps : NaN,
      pairsPerSecond: stepMs ? (seen * 1000) / stepMs : 0,
      elapsedMs: Date.now() - start,
      kind,
    };
    if (held && kind !== 'steps') {
      p.heldOutMrr = evaluateBags(model, held.q, held.c).mrr10;
      p.heldOutLoss = heldOutLoss(model, held.q, held.c, batchSize, invTemp, factors, buf);
    }
    lossSum = 0;
    lossSteps = 0;
    opts.onProgress(p);
  };
  report(0, 'init');

  for (let epoch = 1; epoch <= epochs; epoch++) {
    shuffle(order, rand);
    for (let s = 0; s < n; s += batchSize) {
      const b = Math.min(batchSize, n - s);
      if (b < 2) continue;
      const t0 = Date.now();
      const which = order.subarray(s, s + b);
      const loss = batchLoss(model, qb, cb, which, b, factors, invTemp, buf);
      if (!Number.isFinite(loss)) throw new Error(`training diverged at step ${step + 1} (loss ${loss}); lower the learning rate`);
      lossSum += loss;
      lossSteps++;

      backward(buf, b, d, invTemp);
      scatter(buf, qb, cb, which, b, d, factors, weights, opt);
      opt.step();
      step++;
      seen += b;
      stepMs += Date.now() - t0;
      if (opts.logEvery && step % opts.logEvery === 0 && step % stepsPerEpoch !== 0) report(epoch, 'steps');
    }
    report(epoch, 'epoch');
  }
  return model;
}
