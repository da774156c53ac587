import { closeSync } from 'node:fs';
import type { PGlite } from '@electric-sql/pglite';
import { NodeFS } from '@electric-sql/pglite/nodefs';
import { SemcodeError } from '../errors';
import { diskFullError } from './diskErrors';

/**
 * Why PGlite needs a guard on a full disk. PGlite runs PostgreSQL on the main thread and reaches the data
 * directory through Emscripten's NODEFS, which turns node's ENOSPC into an errno for PostgreSQL. When that
 * write is one PostgreSQL cannot fail (a new WAL segment during COMMIT: "PANIC: could not write to file
 * pg_wal/xlogtemp.N"), PostgreSQL calls abort(); PGlite's protocol loop swallows the exception and calls
 * PostgreSQL again, which, re-entered half-way through its COMMIT, spins forever in XLogFlush: 100 % CPU, no
 * system call, no JS timer can fire, and the lock file stays. Nothing can rescue a WASM that spins on the
 * main thread, so the guard stops before PostgreSQL sees the error:
 *
 * - an ENOSPC or EDQUOT from any file operation becomes a thrown JS error (not Emscripten's errno object, so
 *   no system-call wrapper turns it back into an errno) that unwinds out of the WASM call;
 * - any other PANIC (PostgreSQL's abort()) is caught the same way through Emscripten's onAbort;
 * - from then on the instance is dead: every entry into the WASM and every file operation throws the same
 *   error, so PGlite's loop ends and nothing more is written (no shutdown checkpoint either). What is on disk
 *   is what a kill -9 leaves, and the next open runs PostgreSQL's crash recovery: committed work is kept, the
 *   interrupted transaction is not.
 */
export class GuardedNodeFS extends NodeFS {
  /** the error that stopped this instance, once it has */
  failure: SemcodeError | null = null;
  /** PostgreSQL's last FATAL or PANIC log line, for messages */
  lastFatal = '';
  private mod: EmscriptenInternals | null = null;
  private filesReleased = false;

  constructor(
    dataDir: string,
    /** the index directory named in messages */
    private readonly location: string,
  ) {
    super(dataDir);
  }

  override async init(pg: PGlite, opts: Parameters<NodeFS['init']>[1]): ReturnType<NodeFS['init']> {
    const { emscriptenOpts } = await super.init(pg, opts);
    // PGlite types these hooks with @types/emscripten, which is not installed: their types, named here.
    const printErr = emscriptenOpts.printErr as ((line: string) => void) | undefined;
    const onAbort = emscriptenOpts.onAbort as ((what: unknown) => void) | undefined;
    return {
      emscriptenOpts: {
        ...emscriptenOpts,
        printErr: (line: string) => {
          const m = /\b(PANIC|FATAL):\s+(.*)$/.exec(line);
          if (m) this.lastFatal = `${m[1]}: ${m[2]}`;
          printErr?.(line);
        },
        onAbort: (what: unknown) => {
          const detail = this.lastFatal ? ` (${this.lastFatal})` : '';
          this.trip(new SemcodeError('db_error', `the embedded database in ${this.location} stopped on a fatal error${detail}`));
          onAbort?.(what);
        },
        preRun: [...(emscriptenOpts.preRun ?? []), (mod: unknown) => this.install(mod as EmscriptenInternals)],
      },
    };
  }

  /** Closes the node file descriptors a dead instance holds (a deleted file keeps its space while open). */
  override async closeFs(): Promise<void> {
    if (this.failure) this.releaseFiles();
    else await super.closeFs();
  }

  releaseFiles(): void {
    if (this.filesReleased) return; // once: a closed descriptor's number may belong to another file by now
    this.filesReleased = true;
    const closed = new Set<number>();
    for (const stream of this.mod?.FS.streams ?? []) {
      const fd = stream?.nfd;
      if (typeof fd !== 'number' || closed.has(fd)) continue;
      closed.add(fd);
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
    }
  }

  private install(mod: EmscriptenInternals): void {
    this.mod = mod;
    const nodefs = mod.FS.filesystems.NODEFS;
    const original = nodefs.tryFSOperation;
    // Every NODEFS call into node's fs goes through tryFSOperation, which maps node's error codes to errnos.
    nodefs.tryFSOperation = <T>(op: () => T): T => {
      if (this.failure) throw this.failure;
      try {
        return op();
      } catch (e) {
        const code = (e as NodeJS.ErrnoException | null)?.code;
        if (code === 'ENOSPC' || code === 'EDQUOT') throw this.trip(diskFullError(this.location, code));
        return original.call<unknown, [() => T], T>(nodefs, () => {
          throw e;
        });
      }
    };
  }

  /** Marks the instance dead (the first failure wins) and returns the failure to throw. */
  private trip(failure: SemcodeError): SemcodeError {
    if (this.failure) return this.failure;
    this.failure = failure;
    const mod = this.mod;
    if (mod) {
      // PostgreSQL's interval timer is a JS timeout that calls back into the WASM (one stayed armed after a
      // failed start and kept the process alive): disarmed, so nothing runs the dead instance again.
      try {
        mod._clear_setitimer?.();
      } catch {
        /* nothing armed */
      }
      const fail = () => {
        throw failure;
      };
      // PGlite calls PostgreSQL through the module's exports (`_PostgresMainLoopOnce`, `_pgl_…`, `callMain`);
      // its protocol loop catches what PostgresMainLoopOnce throws and then calls stackRestore, so that one
      // restores the stack and throws too: the loop ends with this error instead of calling PostgreSQL again.
      const m = mod as unknown as Record<string, unknown>;
      for (const key of Object.keys(m)) if (key.startsWith('_') && typeof m[key] === 'function') m[key] = fail;
      m.callMain = fail;
      const restore = mod.stackRestore;
      m.stackRestore = (sp: number) => {
        restore(sp);
        throw failure;
      };
    }
    return failure;
  }
}

/** The parts of PGlite's Emscripten module the guard uses (not in PGlite's public types). */
interface EmscriptenInternals {
  FS: {
    filesystems: { NODEFS: { tryFSOperation: <T>(op: () => T) => T } };
    streams: ({ nfd?: number } | null | undefined)[];
  };
  stackRestore: (sp: number) => void;
  /** PGlite's export that disarms setitimer */
  _clear_setitimer?: () => void;
}
