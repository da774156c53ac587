import type { LeaseKey, LeaseResult } from './db';

/**
 * Leases within one process, for PGlite: its directory lock already keeps other processes out, so two
 * holders can only be two index runs of this process (say a language server's watcher run and a rebuild).
 */
export class LocalLeases {
  private readonly held = new Map<string, string>();

  tryLease(key: LeaseKey, label: string): LeaseResult {
    const k = key.join(':');
    const holder = this.held.get(k);
    if (holder !== undefined) return { holder };
    this.held.set(k, label);
    let released = false;
    return {
      lease: {
        release: () => {
          if (!released) {
            released = true;
            this.held.delete(k);
          }
          return Promise.resolve();
        },
      },
    };
  }
}
