/**
 * The engine the server works with, opened lazily from the settings it was opened with. Settings that
 * change where the index lives or which model fills it replace the engine; they are never mixed into it.
 */
import { Engine } from '../engine';
import type { SemcodeSettings } from '../protocol/lspExt';

export class EngineHolder {
  private opening: Promise<Engine> | null = null;
  private opened: SemcodeSettings;

  constructor(settings: SemcodeSettings) {
    this.opened = { ...settings };
  }

  /** The settings the engine is (or will be) opened with. */
  get settings(): Readonly<SemcodeSettings> {
    return this.opened;
  }

  get(): Promise<Engine> {
    if (!this.opening) {
      const s = this.opened;
      this.opening = Engine.open({
        db: s.databaseUrl ? { url: s.databaseUrl, pool: { max: s.databasePoolSize } } : { dir: s.databaseDir || undefined },
        modelSetting: s.model || undefined,
        backend: s.backend,
      }).then(async (engine) => {
        try {
          await engine.nameCodebases(Object.entries(s.codebases ?? {}).map(([root, name]) => ({ root, name })));
          return engine;
        } catch (e) {
          await engine.close().catch(() => {});
          throw e;
        }
      });
      // A failed open (database unreachable, locked) is retried by the next request, not remembered.
      this.opening.catch(() => {
        this.opening = null;
      });
    }
    return this.opening;
  }

  /** Closes the current engine; the next get() opens one with `settings`. */
  async reopen(settings: SemcodeSettings): Promise<void> {
    const old = this.opening;
    this.opening = null;
    this.opened = { ...settings };
    await old?.then((e) => e.close()).catch(() => {});
  }

  async close(): Promise<void> {
    const old = this.opening;
    this.opening = null;
    await old?.then((e) => e.close()).catch(() => {});
  }
}
