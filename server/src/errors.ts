/**
 * Typed, user-facing failures. Every failure that reaches a user is one of these codes with one clear
 * line; the CLI maps them to exit 2, the language server to a `health: error` status. Nothing in the
 * engine turns a failure into a fake result.
 */
export type ErrorCode =
  | 'usage'
  | 'model_not_found'
  | 'model_corrupt'
  | 'model_output'
  | 'no_default_model'
  | 'inference_failed'
  | 'model_mismatch'
  | 'db_unreachable'
  | 'db_error'
  | 'db_locked'
  /** every connection of the pool stayed busy for the whole acquire timeout: the request was not run */
  | 'db_busy'
  /** a statement ran longer than the statement timeout and the server cancelled it */
  | 'db_timeout'
  | 'not_indexed'
  /** a query with no word to search for (empty, or only punctuation): a usage error, never arbitrary hits */
  | 'empty_query'
  /** another process is indexing the same codebase: writes are serialized per codebase */
  | 'index_busy'
  /** two folders on one machine would share a codebase name: each needs its own (--codebase, semcode.codebase) */
  | 'codebase_name_taken'
  /** the database refused: the role lacks the level on the codebase (read < write < owner), or a privilege */
  | 'permission_denied'
  /** a per-role limit of the shared server (searches or index runs per window, or concurrent connections) was reached */
  | 'rate_limited'
  /** the NATS server did not answer (or refused the credentials) */
  | 'nats_unreachable'
  /** NATS or JetStream refused a request (no such stream or consumer, JetStream not enabled, ...) */
  | 'nats_error'
  | 'io_error'
  /** the disk holding the index filled up: "no space left on DIR (N MB free)"; the index keeps what was committed */
  | 'disk_full'
  /** `semcode train`: fewer real (doc → code) pairs than fine-tuning needs; never padded with synthetic ones */
  | 'insufficient_training_data'
  /** `semcode train`: the codebase's model is not a Semcode static model, so it cannot be fine-tuned */
  | 'model_not_trainable';

export class SemcodeError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SemcodeError';
  }
}

export function isSemcodeError(e: unknown, code?: ErrorCode): e is SemcodeError {
  return e instanceof SemcodeError && (code === undefined || e.code === code);
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
