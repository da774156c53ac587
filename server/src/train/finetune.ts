/**
 * `semcode train`: fine-tunes the model of one indexed codebase on that codebase's own documentation.
 *
 * 1. Pairs: (doc comment → function without it) mined (pairs.ts) from the chunks stored in the index — the
 *    exact chunks, paths and text the index embedded and search returns, whatever has changed on disk since
 *    — then deduplicated. Fewer than MIN_PAIRS real pairs is `insufficient_training_data`: nothing is ever
 *    padded with synthetic or augmented pairs.
 * 2. Split: about 20 % of each language's pairs held out, whole files at a time (a seeded hash of the path
 *    picks them), so held-out queries ask about files the fine-tune never saw.
 * 3. Train from the index's own model (imported from its folder; it must be a Semcode static model) with
 *    symmetric InfoNCE; the code side is the model input the index uses (path + "\n" + code).
 * 4. Evaluate before and after: every held-out query ranks its function (documentation removed) against ALL
 *    of the codebase's chunks, the others as indexed; reciprocal rank within the top 10 per query.
 * 5. Decide: save a new version only if held-out MRR@10 rises by at least MIN_GAIN and a seeded paired
 *    bootstrap over the queries finds a gain in at least MIN_CONFIDENCE of resamples; otherwise keep the
 *    current model. Every run is recorded in the database, whatever its outcome.
 * 6. A saved version (versions.ts, in the user's state directory) becomes the codebase's model: the index is
 *    rebuilt with it, so its model id, hash and dimension are checked like any other model's.
 */
import { SemcodeError, errorMessage, isSemcodeError } from '../errors';
import { modelInput } from '../embed/input';
import { hashModelFiles, recordedModelRef } from '../embed/modelResolve';
import type { IndexProgress, IndexSummary } from '../index/indexer';
import type { Chunk } from '../chunk';
import { rebuildCommand } from '../index/indexer';
import type { WalkOptions } from '../index/walker';
import type { Db } from '../store/db';
import type { Codebase, IndexStore, NewTrainingRun, RootedCodebase, TrainingOutcome } from '../store/indexStore';
import { asExported, importModel } from '../model/export';
import { mrrAt, pairedBootstrap, recallAt } from './metrics';
import { dedupePairs, minePairs, splitByFile, type Pair } from './pairs';
import type { StaticModel } from '../model/staticModel';
import type { CodeTokenizer } from '../model/tokenizer';
import { formatProgress, train, type TrainPair } from './trainer';
import { type ModelVersion, saveVersion } from './versions';

/** Fewest deduplicated pairs worth fine-tuning on: below this the held-out set is too small to decide. */
export const MIN_PAIRS = 100;
export const HELD_OUT_SHARE = 0.2;
/** Held-out MRR@10 must rise by at least this much... */
export const MIN_GAIN = 0.02;
/** ...and be higher in at least this share of paired bootstrap resamples. */
export const MIN_CONFIDENCE = 0.95;
export const BOOTSTRAP_RESAMPLES = 10_000;

/**
 * Fine-tuning settings for a few hundred to a few thousand pairs, starting from a trained table. Measured on
 * two real codebases the shipped model never saw (see the README): a smaller batch than pre-training so a
 * small set still makes several steps per epoch, a learning rate 5× lower (Adagrad's first steps are
 * lr-sized whatever the gradient, and a larger one undid pre-training), temperature 0.1 (0.05 and 0.02 gained
 * less or lost).
 */
export const FINETUNE_DEFAULTS = { epochs: 4, lr: 0.01, batchSize: 128, temperature: 0.1, seed: 1 };

export interface FinetuneOptions {
  root: string;
  seed?: number;
  /** 0 evaluates the current model without training (the outcome is then always 'kept') */
  epochs?: number;
  /** replaces `${XDG_STATE_HOME}/semcode` as the home of saved versions (tests) */
  stateDir?: string;
  /** walk options for re-indexing with a saved version (the same --ignore / --max-file-size as `index`) */
  walk?: WalkOptions;
  /** one line per step of the run (mining, metrics, training loss, decision) */
  onLog?: (line: string) => void;
  onIndexProgress?: (p: IndexProgress) => void;
}

export interface HeldOutMetrics {
  mrr10: number;
  recall1: number;
  recall10: number;
}

export interface FinetuneResult {
  root: string;
  outcome: Extract<TrainingOutcome, 'saved' | 'kept'>;
  /** the id of the recorded run (training_runs) */
  runId: number;
  baseModel: string;
  pairs: { mined: number; train: number; heldOut: number };
  /** candidates each held-out query was ranked against: every chunk of the codebase */
  chunks: number;
  before: HeldOutMetrics;
  after: HeldOutMetrics;
  gain: number;
  /** share of bootstrap resamples in which the fine-tuned model's held-out MRR@10 is higher */
  bootstrap: number;
  durationMs: number;
  /** why the model was saved or kept, in one sentence */
  reason: string;
  version: ModelVersion | null;
  /** the re-index with the saved version */
  reindex: IndexSummary | null;
}

/** Reciprocal rank within the top 10 (0 beyond): the per-query score MRR@10 averages. */
export function reciprocalRanks(ranks: number[]): number[] {
  return ranks.map((r) => (r >= 1 && r <= 10 ? 1 / r : 0));
}

export function heldOutMetrics(ranks: number[]): HeldOutMetrics {
  return { mrr10: mrrAt(ranks, 10), recall1: recallAt(ranks, 1), recall10: recallAt(ranks, 10) };
}

/**
 * The 1-based rank of each query's target among all candidates under `model` (cosine of normalised
 * vectors; ties count against the target, so a model that cannot tell candidates apart ranks it last).
 */
export function rankTargets(
  model: StaticModel,
  tokenizer: CodeTokenizer,
  candidates: readonly string[],
  queries: readonly string[],
  targets: readonly number[],
): number[] {
  const d = model.dim;
  const n = candidates.length;
  const c = new Float32Array(n * d);
  for (let j = 0; j < n; j++) model.embed(tokenizer.encode(candidates[j]!), c.subarray(j * d, (j + 1) * d));
  const m = queries.length;
  const q = new Float32Array(m * d);
  for (let i = 0; i < m; i++) model.embed(tokenizer.encode(queries[i]!), q.subarray(i * d, (i + 1) * d));
  const ranks = new Array<number>(m);
  const self = new Float64Array(4);
  const rank = new Int32Array(4);
  // Four queries per pass over the candidates: each candidate row is read once for four dot products.
  for (let i0 = 0; i0 < m; i0 += 4) {
    const b = Math.min(4, m - i0);
    for (let r = 0; r < b; r++) self[r] = dot(q, (i0 + r) * d, c, targets[i0 + r]! * d, d);
    rank.fill(1);
    const o0 = i0 * d;
    const o1 = b > 1 ? o0 + d : o0;
    const o2 = b > 2 ? o0 + 2 * d : o0;
    const o3 = b > 3 ? o0 + 3 * d : o0;
    for (let j = 0; j < n; j++) {
      const cj = j * d;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let k = 0; k < d; k++) {
        const x = c[cj + k]!;
        s0 += q[o0 + k]! * x;
        s1 += q[o1 + k]! * x;
        s2 += q[o2 + k]! * x;
        s3 += q[o3 + k]! * x;
      }
      if (s0 >= self[0]! && j !== targets[i0]) rank[0]!++;
      if (b > 1 && s1 >= self[1]! && j !== targets[i0 + 1]) rank[1]!++;
      if (b > 2 && s2 >= self[2]! && j !== targets[i0 + 2]) rank[2]!++;
      if (b > 3 && s3 >= self[3]! && j !== targets[i0 + 3]) rank[3]!++;
    }
    for (let r = 0; r < b; r++) ranks[i0 + r] = rank[r]!;
  }
  return ranks;
}

function dot(a: Float32Array, ai: number, b: Float32Array, bi: number, n: number): number {
  let s = 0;
  for (let k = 0; k < n; k++) s += a[ai + k]! * b[bi + k]!;
  return s;
}

export interface Decision {
  save: boolean;
  gain: number;
  bootstrap: number;
  reason: string;
}

/** The acceptance rule on per-query held-out ranks before and after fine-tuning. */
export function decide(before: number[], after: number[], seed: number): Decision {
  const rb = reciprocalRanks(before);
  const ra = reciprocalRanks(after);
  const gain = mrrAt(after, 10) - mrrAt(before, 10);
  const bootstrap = pairedBootstrap(rb, ra, BOOTSTRAP_RESAMPLES, seed);
  // a hair of tolerance: a gain of exactly MIN_GAIN must not fail on float rounding
  const bigEnough = gain >= MIN_GAIN - 1e-9;
  const reliable = bootstrap >= MIN_CONFIDENCE;
  const g = `${gain >= 0 ? '+' : ''}${gain.toFixed(4)}`;
  const b = `${(bootstrap * 100).toFixed(1)} %`;
  const reason =
    bigEnough && reliable
      ? `held-out MRR@10 rose by ${g} (at least ${MIN_GAIN} needed) and was higher in ${b} of bootstrap resamples (at least ${MIN_CONFIDENCE * 100} % needed)`
      : !bigEnough
        ? `held-out MRR@10 changed by ${g}, less than the ${MIN_GAIN} needed (higher in ${b} of bootstrap resamples)`
        : `held-out MRR@10 rose by ${g} but was higher in only ${b} of bootstrap resamples (at least ${MIN_CONFIDENCE * 100} % needed)`;
  return { save: bigEnough && reliable, gain, bootstrap, reason };
}

/**
 * The pairs of a codebase, from its stored chunks; with each pair's chunk index. Their source is empty: in
 * one codebase the relative path alone names a file, so the held-out split (a seeded hash of source and
 * path) is the same wherever the codebase is checked out. With the folder's path in it, two checkouts of one
 * commit held out different files and could come to different decisions.
 */
export function codebasePairs(chunks: Chunk[]): { pairs: Pair[]; chunkOf: Map<Pair, number> } {
  const pairs = dedupePairs(minePairs(chunks, ''));
  const at = new Map<string, number>();
  chunks.forEach((c, i) => at.set(`${c.path}\0${c.startLine}`, i));
  const chunkOf = new Map<Pair, number>();
  for (const p of pairs) {
    const i = at.get(`${p.path}\0${p.startLine}`);
    if (i === undefined) throw new Error(`pair ${p.path}:${p.startLine} has no chunk`); // minePairs keeps the chunk's start line
    chunkOf.set(p, i);
  }
  return { pairs, chunkOf };
}

const codeInput = (p: Pair) => modelInput({ path: p.path, content: p.code });

/** The model folder of a codebase's index, read as a trainable static model. */
async function loadBase(
  cb: Codebase,
  db: Db,
): Promise<{ dir: string; model: StaticModel; tokenizer: CodeTokenizer; dtype: Awaited<ReturnType<typeof importModel>>['dtype'] }> {
  const id = cb.modelId!;
  if (id !== 'default' && !id.startsWith('path:')) {
    throw new SemcodeError(
      'model_not_trainable',
      `cannot fine-tune ${id}: only Semcode static models in a local folder can be fine-tuned; index ${cb.root} with the shipped model to train it`,
    );
  }
  const dir = recordedModelRef(id);
  let hash: string;
  try {
    hash = await hashModelFiles(dir);
  } catch (e) {
    throw new SemcodeError(
      'model_not_found',
      `the model of the index for ${cb.root} (${cb.modelId}) is not a local folder semcode can read: ${errorMessage(e)}`,
    );
  }
  if (hash !== cb.modelHash) {
    throw new SemcodeError(
      'model_mismatch',
      `the files of ${cb.modelId} changed since ${cb.root} was indexed; rebuild the index first: ${rebuildCommand(cb, { modelId: cb.modelId, db })}`,
    );
  }
  try {
    return { dir, ...(await importModel(dir)) };
  } catch (e) {
    throw new SemcodeError(
      'model_not_trainable',
      `cannot fine-tune ${cb.modelId}: only Semcode static models can be fine-tuned (${errorMessage(e)}); index ${cb.root} with the shipped model to train it`,
    );
  }
}

/** What fine-tuning needs of the engine (an interface, so training stays below the engine that calls it). */
export interface FinetuneEngine {
  readonly db: Db;
  readonly store: IndexStore;
  codebasesFor(roots: string[]): Promise<RootedCodebase[]>;
  activateVersion(root: string, version: ModelVersion, opts?: { walk?: WalkOptions; onProgress?: (p: IndexProgress) => void }): Promise<IndexSummary>;
}

export async function finetune(engine: FinetuneEngine, opts: FinetuneOptions): Promise<FinetuneResult> {
  const log = opts.onLog ?? (() => {});
  const seed = opts.seed ?? FINETUNE_DEFAULTS.seed;
  const epochs = opts.epochs ?? FINETUNE_DEFAULTS.epochs;
  if (!(Number.isInteger(epochs) && epochs >= 0)) throw new SemcodeError('usage', `epochs must be a non-negative integer, got ${epochs}`);
  const [cb] = await engine.codebasesFor([opts.root]);
  const codebase = cb!;
  // Training records its run and re-indexes with the new model: a writer's work (a reader is told so here).
  await engine.store.session((st) => st.requireLevel(codebase, 'write', 'training'));
  const startedAt = new Date();
  const t0 = performance.now();
  const run: NewTrainingRun = {
    codebaseId: codebase.id,
    startedAt,
    durationMs: 0,
    baseModel: codebase.modelVersion ?? codebase.modelId,
    seed,
    epochs,
    pairsMined: 0,
    pairsTrain: 0,
    pairsHeldOut: 0,
    chunks: 0,
    mrrBefore: null,
    mrrAfter: null,
    r1Before: null,
    r1After: null,
    r10Before: null,
    r10After: null,
    bootstrap: null,
    outcome: 'failed',
    version: null,
    versionDir: null,
    message: null,
  };
  let recorded = false;
  const record = async (outcome: TrainingOutcome, message: string | null): Promise<number> => {
    recorded = true;
    return engine.store.session((st) => st.recordTrainingRun({ ...run, outcome, message, durationMs: Math.round(performance.now() - t0) }));
  };

  try {
    // The model first: a model that cannot be fine-tuned at all is the more useful thing to hear.
    const base = await loadBase(codebase, engine.db);
    const chunks = await engine.store.session((st) => st.allChunks(codebase.id));
    const { pairs, chunkOf } = codebasePairs(chunks);
    run.pairsMined = pairs.length;
    run.chunks = chunks.length;
    log(`mined ${pairs.length} documentation → code pairs from ${chunks.length} chunks of ${codebase.root}`);
    if (pairs.length < MIN_PAIRS) {
      const msg =
        `insufficient training data: ${codebase.root} has only ${pairs.length} documented functions usable as training pairs (doc comment → code); ` +
        `fine-tuning needs at least ${MIN_PAIRS} and never makes up synthetic ones. Document more functions or train on a larger codebase`;
      await record('insufficient_data', msg);
      throw new SemcodeError('insufficient_training_data', msg);
    }
    const split = splitByFile(pairs, HELD_OUT_SHARE, seed);
    run.pairsTrain = split.train.length;
    run.pairsHeldOut = split.test.length;
    if (split.test.length === 0 || split.train.length < 2) {
      const msg = `insufficient training data: the ${pairs.length} training pairs of ${codebase.root} come from too few files to hold 20 % out by file; fine-tuning needs documented functions in more files`;
      await record('insufficient_data', msg);
      throw new SemcodeError('insufficient_training_data', msg);
    }
    log(`split by file (seed ${seed}): ${split.train.length} pairs to train on, ${split.test.length} held out`);

    // Candidates: every chunk as indexed, except that a held-out pair's own chunk is its code without the
    // documentation the query came from (with it, the answer would contain the query verbatim).
    const candidates = chunks.map((c) => modelInput(c));
    const targets = split.test.map((p) => chunkOf.get(p)!);
    split.test.forEach((p, i) => (candidates[targets[i]!] = codeInput(p)));
    const queries = split.test.map((p) => p.query);
    const ranksBefore = rankTargets(base.model, base.tokenizer, candidates, queries, targets);
    const before = heldOutMetrics(ranksBefore);
    Object.assign(run, { mrrBefore: before.mrr10, r1Before: before.recall1, r10Before: before.recall10 });
    log(
      `before: held-out MRR@10 ${before.mrr10.toFixed(4)}, recall@1 ${before.recall1.toFixed(4)}, recall@10 ${before.recall10.toFixed(4)} (${queries.length} queries × ${chunks.length} chunks)`,
    );

    const trainPairs: TrainPair[] = split.train.map((p) => ({ query: p.query, code: codeInput(p) }));
    const tuned =
      epochs === 0
        ? base.model
        : train({
            pairs: trainPairs,
            tokenizer: base.tokenizer,
            init: base.model,
            epochs,
            lr: FINETUNE_DEFAULTS.lr,
            batchSize: Math.min(FINETUNE_DEFAULTS.batchSize, trainPairs.length),
            temperature: FINETUNE_DEFAULTS.temperature,
            seed,
            onProgress: (p) => {
              if (p.kind === 'epoch') log(`train: ${formatProgress(p, epochs)}`);
            },
          });
    // Evaluated exactly as it would be saved: the table rounded to the base model's storage type.
    const candidate = asExported(tuned, base.dtype);
    const ranksAfter = rankTargets(candidate, base.tokenizer, candidates, queries, targets);
    const after = heldOutMetrics(ranksAfter);
    const decision = decide(ranksBefore, ranksAfter, seed);
    Object.assign(run, { mrrAfter: after.mrr10, r1After: after.recall1, r10After: after.recall10, bootstrap: decision.bootstrap });
    log(`after:  held-out MRR@10 ${after.mrr10.toFixed(4)}, recall@1 ${after.recall1.toFixed(4)}, recall@10 ${after.recall10.toFixed(4)}`);

    const result: FinetuneResult = {
      root: codebase.root,
      outcome: decision.save ? 'saved' : 'kept',
      runId: 0,
      baseModel: run.baseModel!,
      pairs: { mined: pairs.length, train: split.train.length, heldOut: split.test.length },
      chunks: chunks.length,
      before,
      after,
      gain: decision.gain,
      bootstrap: decision.bootstrap,
      durationMs: 0,
      reason: decision.reason,
      version: null,
      reindex: null,
    };
    if (!decision.save) {
      log(`kept ${run.baseModel}: ${decision.reason}`);
      result.runId = await record('kept', decision.reason);
      result.durationMs = Math.round(performance.now() - t0);
      return result;
    }
    const version = await saveVersion(
      tuned,
      base.tokenizer,
      base.dtype,
      {
        codebase: codebase.root,
        baseModel: run.baseModel!,
        baseModelHash: codebase.modelHash!,
        seed,
        epochs,
        pairsTrain: split.train.length,
        pairsHeldOut: split.test.length,
        mrrBefore: before.mrr10,
        mrrAfter: after.mrr10,
        bootstrap: decision.bootstrap,
      },
      { stateDir: opts.stateDir },
    );
    Object.assign(run, { version: version.name, versionDir: version.dir });
    result.version = version;
    result.runId = await record('saved', decision.reason);
    result.durationMs = Math.round(performance.now() - t0);
    log(`saved ${version.name} at ${version.dir}: ${decision.reason}`);
    log(`re-embedding ${codebase.root} with ${version.name}`);
    try {
      result.reindex = await engine.activateVersion(codebase.root, version, { walk: opts.walk, onProgress: opts.onIndexProgress });
    } catch (e) {
      const msg = `re-embedding with ${version.name} failed: ${errorMessage(e)}; finish it with: semcode index --root ${codebase.root}`;
      await engine.store.session((st) => st.noteTrainingRun(result.runId, msg)).catch(() => {});
      throw isSemcodeError(e) ? new SemcodeError(e.code, msg, { cause: e }) : e;
    }
    return result;
  } catch (e) {
    if (!recorded) await record('failed', errorMessage(e)).catch(() => {});
    throw e;
  }
}
