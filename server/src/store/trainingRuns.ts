/** The training_runs table: one row per `semcode train` run of a codebase, with its metrics and outcome. */
import type { Queryable } from './db';

export type TrainingOutcome = 'saved' | 'kept' | 'insufficient_data' | 'failed';

/** One `semcode train` run as recorded (metrics null when the run stopped before evaluating). */
export interface TrainingRun {
  id: number;
  codebaseId: number;
  startedAt: Date;
  durationMs: number;
  baseModel: string | null;
  seed: number;
  epochs: number;
  pairsMined: number;
  pairsTrain: number;
  pairsHeldOut: number;
  chunks: number;
  mrrBefore: number | null;
  mrrAfter: number | null;
  r1Before: number | null;
  r1After: number | null;
  r10Before: number | null;
  r10After: number | null;
  bootstrap: number | null;
  outcome: TrainingOutcome;
  version: string | null;
  versionDir: string | null;
  message: string | null;
}

export type NewTrainingRun = Omit<TrainingRun, 'id'>;

const RUN_COLUMNS: [keyof NewTrainingRun, string][] = [
  ['codebaseId', 'codebase_id'],
  ['startedAt', 'started_at'],
  ['durationMs', 'duration_ms'],
  ['baseModel', 'base_model'],
  ['seed', 'seed'],
  ['epochs', 'epochs'],
  ['pairsMined', 'pairs_mined'],
  ['pairsTrain', 'pairs_train'],
  ['pairsHeldOut', 'pairs_heldout'],
  ['chunks', 'chunks'],
  ['mrrBefore', 'mrr_before'],
  ['mrrAfter', 'mrr_after'],
  ['r1Before', 'r1_before'],
  ['r1After', 'r1_after'],
  ['r10Before', 'r10_before'],
  ['r10After', 'r10_after'],
  ['bootstrap', 'bootstrap'],
  ['outcome', 'outcome'],
  ['version', 'version'],
  ['versionDir', 'version_dir'],
  ['message', 'message'],
];

export async function recordTrainingRun(db: Queryable, run: NewTrainingRun): Promise<number> {
  const cols = RUN_COLUMNS.map(([, c]) => c);
  const r = await db.query<{ id: number }>(
    `INSERT INTO training_runs (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
    RUN_COLUMNS.map(([k]) => run[k]),
  );
  return r.rows[0]!.id;
}

export async function noteTrainingRun(db: Queryable, runId: number, message: string): Promise<void> {
  await db.query('UPDATE training_runs SET message = $2 WHERE id = $1', [runId, message]);
}

/** A codebase's training runs, oldest first. */
export async function trainingRuns(db: Queryable, codebaseId: number): Promise<TrainingRun[]> {
  const r = await db.query<TrainingRun>(
    `SELECT id, ${RUN_COLUMNS.map(([k, c]) => `${c} AS "${k}"`).join(', ')} FROM training_runs WHERE codebase_id = $1 ORDER BY id`,
    [codebaseId],
  );
  return r.rows;
}
