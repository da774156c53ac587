/**
 * The `semcode/status` notification's state. Transitions (health, quiescent, paused) go out at once;
 * progress counters at most every `intervalMs`, so a fast index run does not flood the client.
 */
import type { ServerStatus } from '../protocol/lspExt';

export class StatusTracker {
  private readonly state: ServerStatus = {
    health: 'warning',
    quiescent: false,
    message: 'starting',
    model: null,
    backend: null,
    dimension: null,
    files: 0,
    chunks: 0,
    queue: 0,
    paused: false,
    lastError: null,
  };
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly send: (s: ServerStatus) => void,
    private readonly intervalMs = 200,
  ) {}

  get current(): Readonly<ServerStatus> {
    return this.state;
  }

  /** Applies the patch and notifies now (with any throttled progress folded in). */
  set(patch: Partial<ServerStatus>): void {
    Object.assign(this.state, patch);
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.send({ ...this.state });
  }

  /** Applies the patch and notifies within `intervalMs`. */
  progress(patch: Partial<ServerStatus>): void {
    Object.assign(this.state, patch);
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.send({ ...this.state });
    }, this.intervalMs);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
