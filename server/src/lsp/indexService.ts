/**
 * The language server's queue of index work: whole-folder walks (start, reindex, rebuild, settings) and
 * watcher runs over given paths, one run at a time, with pause/resume, cancellation and progress.
 *
 * Requests are never held up by a run: embedding happens in the worker thread and a run writes in small
 * transactions (watcher runs WATCH_JOB_CHUNKS chunks at a time), so a search waits at most for one of them.
 */
import { pathToFileURL } from 'node:url';
import type { WorkDoneProgressServerReporter } from 'vscode-languageserver/node';
import { SemcodeError, errorMessage, isSemcodeError } from '../errors';
import type { Engine } from '../engine';
import type { IndexProgress, IndexSummary } from '../index/indexer';
import type { WalkOptions } from '../index/walker';
import type { IndexedParams } from '../protocol/lspExt';
import { fileUri } from './paths';
import type { StatusTracker } from './status';

/** Chunks per job (= per transaction) in a whole-folder walk. */
const FULL_JOB_CHUNKS = 128;
/** Chunks per job in a watcher run: small, so the transaction (and HNSW inserts) holding PGlite stays short. */
const WATCH_JOB_CHUNKS = 16;
/** Watcher runs over more paths than this show a progress bar too. */
const PROGRESS_MIN_PATHS = 50;
/** URIs listed in semcode/indexed. */
const MAX_LISTED = 1000;
/** The status once no run is going on while a folder's last full run did not finish (cancelled, failed, killed). */
export const INCOMPLETE_MESSAGE = 'index incomplete: re-index to finish it';

export interface IndexServiceHost {
  engine(): Promise<Engine>;
  /** workspace folders, in the editor's order */
  roots(): readonly string[];
  walk(): WalkOptions;
  status: StatusTracker;
  createProgress(): Promise<WorkDoneProgressServerReporter | null>;
  indexed(p: IndexedParams): void;
  log(msg: string): void;
  error(msg: string): void;
  /** a run was refused because the index was built with another model than the configured one */
  modelMismatch(e: SemcodeError): void;
  /** a run could not open the embedded database: another process holds its lock */
  dbLocked(e: SemcodeError): void;
  /** the embedded database stopped (a full disk): it must be opened again, which recovers it, before any use */
  dbStopped(e: SemcodeError): void;
  /** a standing warning for the status once a run succeeds (e.g. a declined rebuild), or null */
  advisory(): string | null;
}

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
}

export class IndexService {
  private readonly fullRoots = new Set<string>();
  /** folders this role may only read, with what the status says about each */
  private readonly readOnly = new Map<string, string>();
  private rebuildQueued = false;
  private fullWaiters: Waiter[] = [];
  private readonly pathsQueued = new Map<string, Set<string>>();
  private loop: Promise<void> | null = null;
  private abort: AbortController | null = null;
  private isPaused = false;
  private resumers: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly host: IndexServiceHost) {}

  get paused(): boolean {
    return this.isPaused;
  }

  /** A run is going on or waiting to start. */
  get busy(): boolean {
    return this.loop !== null || this.hasQueued();
  }

  /** Walks these folders (all, by default); resolves when a run covering them ends, rejects if it fails. */
  full(roots: readonly string[] = this.host.roots(), rebuild = false): Promise<void> {
    for (const r of roots) this.fullRoots.add(r);
    this.rebuildQueued ||= rebuild;
    const done = new Promise<void>((resolve, reject) => this.fullWaiters.push({ resolve, reject }));
    this.kick();
    return done;
  }

  /** Re-checks these paths (posix, relative to root) in a watcher run. */
  changed(root: string, rels: readonly string[]): void {
    if (!rels.length) return;
    const set = this.pathsQueued.get(root) ?? new Set<string>();
    for (const r of rels) set.add(r);
    this.pathsQueued.set(root, set);
    this.kick();
  }

  /** Stops taking new jobs; the job in flight finishes. */
  pause(): void {
    this.isPaused = true;
    this.host.status.set({ paused: true, ...(this.busy ? { message: 'indexing paused' } : {}) });
  }

  resume(): void {
    this.isPaused = false;
    for (const r of this.resumers.splice(0)) r();
    this.host.status.set({ paused: false, ...(this.busy ? { message: 'indexing' } : {}) });
    this.kick();
  }

  /** Aborts the running run and drops queued work. */
  cancel(): void {
    const cancelled = new SemcodeError('usage', 'indexing cancelled');
    this.fullRoots.clear();
    this.rebuildQueued = false;
    this.pathsQueued.clear();
    for (const w of this.fullWaiters.splice(0)) w.reject(cancelled);
    this.abort?.abort();
    // A paused run is waiting in the gate: let it see the abort.
    for (const r of this.resumers.splice(0)) r();
  }

  /** Cancels everything and waits for the run in flight to stop (before closing the engine). */
  async stop(): Promise<void> {
    this.cancel();
    await this.loop;
  }

  /** Resolves when no run is going on or queued. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private hasQueued(): boolean {
    return this.fullRoots.size > 0 || this.pathsQueued.size > 0;
  }

  private queuedPaths(): number {
    let n = 0;
    for (const s of this.pathsQueued.values()) n += s.size;
    return n;
  }

  private gate = (): Promise<void> => {
    if (!this.isPaused || this.abort?.signal.aborted) return Promise.resolve();
    return new Promise((r) => this.resumers.push(r));
  };

  private kick(): void {
    if (this.loop) return;
    this.loop = this.drain().finally(() => {
      this.loop = null;
      // Work queued while the last run was ending.
      if (this.hasQueued()) this.kick();
      else for (const r of this.idleWaiters.splice(0)) r();
    });
  }

  private async drain(): Promise<void> {
    while (this.hasQueued()) {
      if (this.fullRoots.size) {
        const order = this.host.roots();
        const roots = [...this.fullRoots].sort((a, b) => order.indexOf(a) - order.indexOf(b));
        const rebuild = this.rebuildQueued;
        const waiters = this.fullWaiters.splice(0);
        this.fullRoots.clear();
        this.rebuildQueued = false;
        // The walk sees every change made so far in these folders.
        for (const r of roots) this.pathsQueued.delete(r);
        try {
          await this.run('full', roots, undefined, rebuild);
          for (const w of waiters) w.resolve();
        } catch (e) {
          for (const w of waiters) w.reject(e);
        }
      } else {
        const [root, set] = this.pathsQueued.entries().next().value as [string, Set<string>];
        this.pathsQueued.delete(root);
        await this.run('paths', [root], [...set]).catch(() => {});
      }
    }
  }

  /**
   * One engine.index run, reported through status, progress, the log and semcode/indexed. Folders whose
   * codebase this role may only read are left out (null when that leaves nothing to index).
   */
  private async run(kind: 'full' | 'paths', roots: string[], paths: string[] | undefined, rebuild = false): Promise<IndexSummary | null> {
    const { status } = this.host;
    const ac = new AbortController();
    this.abort = ac;
    const reporter = kind === 'full' || (paths?.length ?? 0) > PROGRESS_MIN_PATHS ? await this.host.createProgress().catch(() => null) : null;
    const cancelSub = reporter?.token.onCancellationRequested(() => this.cancel());
    const title = kind === 'full' ? (rebuild ? 'Semcode: rebuilding the index' : 'Semcode: indexing') : 'Semcode: updating the index';
    reporter?.begin(title, undefined, this.isPaused ? 'paused' : undefined, true);
    const what = kind === 'full' ? (rebuild ? 'rebuilding' : 'indexing') : `updating ${paths!.length} path${paths!.length === 1 ? '' : 's'}`;
    status.set({
      quiescent: false,
      message: this.isPaused ? 'indexing paused' : what,
      percent: kind === 'full' ? 0 : undefined,
      queue: this.queuedPaths() + (paths?.length ?? 0),
    });
    const started = performance.now();
    let opened: Engine | null = null;
    try {
      await this.gate();
      if (ac.signal.aborted) throw new SemcodeError('usage', 'indexing cancelled');
      const engine = (opened = await this.host.engine());
      // A team member with read on a folder's codebase searches it and leaves indexing to those who may write.
      const readOnly = await engine.readOnlyRoots(roots);
      for (const r of roots) this.readOnly.delete(r);
      for (const r of readOnly) this.readOnly.set(r.root, `read-only: ${r.role} has read on ${r.name}, so it is searched, not indexed`);
      roots = roots.filter((r) => !this.readOnly.has(r));
      if (!roots.length) {
        const counts = await this.counts(engine);
        const more = this.hasQueued();
        status.set({
          health: 'ok',
          quiescent: !more,
          message: this.readOnlyNote(),
          files: counts.files,
          chunks: counts.chunks,
          percent: undefined,
          lastError: null,
        });
        return null;
      }
      const embedder = await engine.configuredEmbedder();
      status.set({ model: embedder.modelId, backend: embedder.backend, dimension: embedder.dimension });
      const before = status.current.chunks;
      let percent = 0;
      const files: Changes = { changed: [], deleted: [], changedCount: 0, deletedCount: 0 };
      const summary = await engine.index({
        roots,
        rebuild,
        paths,
        walk: this.host.walk(),
        signal: ac.signal,
        gate: this.gate,
        // A CLI run (or another editor on the same PostgreSQL) holds the codebase: wait for it, don't fail.
        waitForLease: true,
        onBusy: (holder) => status.set({ message: `waiting: ${holder}` }),
        jobChunks: kind === 'full' ? FULL_JOB_CHUNKS : WATCH_JOB_CHUNKS,
        onFile: (f) => {
          if (f.deleted) {
            if (files.deletedCount++ < MAX_LISTED) files.deleted.push(f);
          } else if (files.changedCount++ < MAX_LISTED) files.changed.push(f);
        },
        onProgress: (p) => {
          percent = Math.max(percent, estimatePercent(p) ?? 0);
          const msg = progressMessage(kind, p);
          reporter?.report(percent, msg);
          // Said at once: on PGlite the build holds the database (and this thread) until it ends.
          const update = p.phase === 'hnsw' ? status.set.bind(status) : status.progress.bind(status);
          update({
            percent,
            queue: this.queuedPaths() + Math.max(0, p.filesChanged - p.filesDone),
            message: this.isPaused ? 'indexing paused' : msg,
            // A first index shows its growth; otherwise the totals are refreshed when the run ends.
            ...(before === 0 ? { chunks: p.chunksDone, files: p.filesDone } : {}),
          });
          // On PGlite the build runs on this thread: let the notification be written before it starts.
          if (p.phase === 'hnsw') return new Promise<void>((r) => setTimeout(r, 20));
        },
      });
      const counts = await this.counts(engine);
      const seconds = (performance.now() - started) / 1000;
      this.host.indexed(indexedParams(kind, roots, summary, files, seconds));
      this.host.log(
        `${kind === 'full' ? 'indexed' : 're-indexed'} ${roots.join(', ')}: ${summary.changedFiles} changed, ${summary.deletedFiles} deleted, ` +
          `${summary.embedded} embedded, ${summary.reused} reused, ${summary.files} files checked in ${seconds.toFixed(2)} s` +
          (summary.hnswBuilt ? ` (vector index built in ${summary.timings.hnsw.toFixed(1)} s)` : ''),
      );
      const more = this.hasQueued();
      // A watcher run succeeding does not finish a full run that stopped early: that stays a warning.
      const warnings = [this.host.advisory(), !more && counts.incomplete ? INCOMPLETE_MESSAGE : null].filter((w) => w !== null);
      status.set({
        health: warnings.length ? 'warning' : 'ok',
        quiescent: !more,
        message: more ? 'indexing' : warnings.join('; ') || this.readOnlyNote(),
        model: summary.modelId,
        dimension: summary.dimension,
        backend: engine.activeEmbedder?.backend ?? null,
        files: counts.files,
        chunks: counts.chunks,
        queue: this.queuedPaths(),
        percent: more ? status.current.percent : undefined,
        lastError: null,
      });
      return summary;
    } catch (e) {
      const more = this.hasQueued();
      if (ac.signal.aborted) {
        this.host.log(`indexing cancelled after ${((performance.now() - started) / 1000).toFixed(2)} s`);
        // Cancelled before it reached the database, the run left the index as it was.
        const incomplete = !more && opened !== null && (await this.incomplete(opened));
        status.set({
          health: status.current.health === 'error' ? 'error' : 'warning',
          quiescent: !more,
          message: incomplete ? `indexing cancelled; ${INCOMPLETE_MESSAGE}` : 'indexing cancelled; run Semcode: Reindex to finish it',
          queue: this.queuedPaths(),
          percent: undefined,
        });
        throw new SemcodeError('usage', 'indexing cancelled');
      }
      const msg = errorMessage(e);
      this.host.error(`indexing failed: ${msg}`);
      status.set({ health: 'error', quiescent: !more, message: msg, lastError: msg, queue: this.queuedPaths(), percent: undefined });
      if (isSemcodeError(e, 'model_mismatch')) this.host.modelMismatch(e);
      if (isSemcodeError(e, 'db_locked')) this.host.dbLocked(e);
      if (isSemcodeError(e, 'disk_full')) this.host.dbStopped(e);
      throw e;
    } finally {
      cancelSub?.dispose();
      reporter?.done();
      if (this.abort === ac) this.abort = null;
    }
  }

  private readOnlyNote(): string | undefined {
    return this.readOnly.size ? [...this.readOnly.values()].join('; ') : undefined;
  }

  /** Files and chunks of the workspace's indexes, and whether one of them has a full run that never finished. */
  private async counts(engine: Engine): Promise<{ files: number; chunks: number; incomplete: boolean }> {
    let files = 0;
    let chunks = 0;
    let incomplete = false;
    for (const { codebase } of await engine.indexedCodebases([...this.host.roots()])) {
      const c = await engine.store.session((st) => st.quickCounts(codebase.id));
      files += c.files;
      chunks += c.chunks;
      incomplete ||= codebase.incomplete;
    }
    return { files, chunks, incomplete };
  }

  /** A workspace folder's index has a full run that never finished; false when that cannot be read now. */
  private async incomplete(engine: Engine): Promise<boolean> {
    try {
      return (await engine.indexedCodebases([...this.host.roots()])).some((c) => c.codebase.incomplete);
    } catch {
      return false;
    }
  }
}

/**
 * 0..99 while running. Once every folder is walked the chunks queued are final, so chunks stored over chunks
 * queued; before that, on a folder indexed before, files checked over files known; on a first index, unknown.
 */
export function estimatePercent(p: IndexProgress): number | undefined {
  let f: number | undefined;
  if (p.walked) f = p.chunksQueued ? p.chunksDone / p.chunksQueued : 1;
  else if (p.filesKnown) f = Math.min(1, p.filesSeen / p.filesKnown);
  return f === undefined ? undefined : Math.min(99, Math.floor(f * 100));
}

function progressMessage(kind: 'full' | 'paths', p: IndexProgress): string {
  if (p.phase === 'hnsw') return 'building the vector index';
  if (p.phase === 'finishing') return 'finishing';
  const changed = p.filesChanged ? `, ${p.filesDone}/${p.filesChanged} changed files stored` : '';
  return kind === 'full' ? `${p.filesSeen} files checked${changed}` : `${p.filesDone}/${p.filesChanged} files stored`;
}

interface Changes {
  changed: { root: string; path: string }[];
  deleted: { root: string; path: string }[];
  changedCount: number;
  deletedCount: number;
}

function indexedParams(kind: 'full' | 'paths', roots: string[], s: IndexSummary, c: Changes, seconds: number): IndexedParams {
  // The indexer names real paths; the folders given may be symlinks. Map back by position (same order).
  const uriOf = (f: { root: string; path: string }) => fileUri(roots[s.roots.indexOf(f.root)] ?? f.root, f.path);
  return {
    kind,
    roots: roots.map((r) => pathToFileURL(r).toString()),
    changed: c.changed.map(uriOf),
    changedCount: c.changedCount,
    deleted: c.deleted.map(uriOf),
    deletedCount: c.deletedCount,
    embedded: s.embedded,
    reused: s.reused,
    files: s.files,
    seconds,
  };
}
