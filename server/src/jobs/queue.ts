/**
 * The seam between producing indexing work and doing it. Today jobs run in this process; a JetStream
 * implementation will publish the same jobs for `semcode worker` processes to take, and their results
 * come back here as events, so the producer never shares memory with whoever runs a job.
 */
export interface JobQueue<J, R = void> {
  /** Hands over a job; resolves once the queue has room for it (backpressure), not when it is done. */
  push(job: J): Promise<void>;
  /** Resolves when every pushed job has finished and its result was heard; rejects with the first job failure. */
  drain(): Promise<void>;
  /**
   * Hears each job's result as the job completes (completion order, in the producer's process). A listener
   * that throws fails that job like the handler failing would.
   */
  onResult(listener: (result: R, job: J) => void): void;
}

/**
 * Runs jobs in this process with at most `concurrency` at once and `capacity` more waiting. The first
 * failure is kept and rethrown by push/drain: work after a failure is not started.
 */
export class LocalQueue<J, R = void> implements JobQueue<J, R> {
  private running = 0;
  private readonly waiting: J[] = [];
  private readonly roomWaiters: (() => void)[] = [];
  private idleWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private failure: { error: unknown } | null = null;
  private readonly listeners: ((result: R, job: J) => void)[] = [];

  constructor(
    private readonly handler: (job: J) => Promise<R>,
    private readonly concurrency = 2,
    private readonly capacity = 2,
  ) {}

  onResult(listener: (result: R, job: J) => void): void {
    this.listeners.push(listener);
  }

  async push(job: J): Promise<void> {
    while (!this.failure && this.waiting.length >= this.capacity) {
      await new Promise<void>((r) => this.roomWaiters.push(r));
    }
    if (this.failure) throw this.failure.error;
    this.waiting.push(job);
    this.pump();
  }

  drain(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure.error);
    if (!this.running && !this.waiting.length) return Promise.resolve();
    return new Promise((resolve, reject) => this.idleWaiters.push({ resolve, reject }));
  }

  private pump(): void {
    while (!this.failure && this.running < this.concurrency && this.waiting.length) {
      const job = this.waiting.shift()!;
      this.roomWaiters.shift()?.();
      this.running++;
      this.handler(job).then(
        (result) => {
          // Heard before the job counts as finished, so drain() resolves only after every result.
          try {
            for (const l of this.listeners) l(result, job);
          } catch (e) {
            this.failure ??= { error: e };
          }
          this.finish();
        },
        (e) => {
          this.failure ??= { error: e };
          this.finish();
        },
      );
    }
  }

  private finish(): void {
    this.running--;
    if (this.failure) {
      this.waiting.length = 0;
      for (const r of this.roomWaiters.splice(0)) r();
    } else this.pump();
    if (!this.running && (this.failure || !this.waiting.length)) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) {
        if (this.failure) w.reject(this.failure.error);
        else w.resolve();
      }
    }
  }
}
