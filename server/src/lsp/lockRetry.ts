/**
 * While another process holds the embedded database's lock (a `semcode index` on the same directory,
 * another editor window), tries to open it again every few seconds. That process lets go in its own time
 * and tells nobody: without trying again, the status would say "in use by pid N" long after it is gone.
 */
import { type SemcodeError, isSemcodeError } from '../errors';

export interface LockRetryHost {
  /** opens the database (EngineHolder.get) */
  open(): Promise<unknown>;
  /** it is still locked: the error names the holder, which may have changed */
  stillLocked(e: SemcodeError): void;
  /** it opened, or failed for another reason: index again, which reports either */
  unlocked(): void;
}

export const LOCK_RETRY_MS = 2000;

export class LockRetry {
  private timer: NodeJS.Timeout | null = null;
  /** bumped by stop(): an attempt already under way then reports nothing */
  private generation = 0;

  constructor(
    private readonly host: LockRetryHost,
    private readonly intervalMs = LOCK_RETRY_MS,
  ) {}

  get waiting(): boolean {
    return this.timer !== null;
  }

  /** Starts trying (once: calling it again while waiting changes nothing). */
  start(): void {
    if (this.timer) return;
    const generation = this.generation;
    this.timer = setTimeout(() => void this.attempt(generation), this.intervalMs);
  }

  /** Stops trying: the database was reopened with other settings, or the server is shutting down. */
  stop(): void {
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async attempt(generation: number): Promise<void> {
    let locked: SemcodeError | null = null;
    try {
      await this.host.open();
    } catch (e) {
      if (isSemcodeError(e, 'db_locked')) locked = e;
    }
    if (generation !== this.generation) return;
    this.timer = null;
    if (locked) {
      this.host.stillLocked(locked);
      this.start();
    } else this.host.unlocked();
  }
}
