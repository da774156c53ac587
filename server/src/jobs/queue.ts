/**
 * The seam between producing indexing work and doing it. Today jobs run in this process; a JetStream
 * implementation will publish the same jobs for `semcode worker` processes to take.
 */
export interface JobQueue<J> {
  /** Hands over a job; resolves once the queue has room for it (backpressure), not when it is done. */
  push(job: J): Promise<void>;
  /** Resolves when every pushed job has finished; rejects with the first job failure. */
  drain(): Promise<void>;
}

/**
 * Runs jobs in this process with at most `concurrency` at once and `capacity` more waiting. The first
 * failure is kept and rethrown by push/drain: work after a failure is not started.
 */
export class LocalQueue<J> implements JobQueue<J> {
  private running = 0;
  private readonly waiting: J[] = [];
  private readonly roomWaiters: (() => void)[] = [];
  private idleWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private failure: { error: unknown } | null = null;

  constructor(
    private readonly handler: (job: J) => Promise<void>,
    private readonly concurrency = 2,
    private readonly capacity = 2,
  ) {}

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
        () => this.finish(),
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
      for (const w of waiters) (this.failure ? w.reject(this.failure.error) : w.resolve());
    }
  }
}
