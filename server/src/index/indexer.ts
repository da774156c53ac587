import { realpath } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { SemcodeError, isSemcodeError } from '../errors';
import { sha256 } from '../embed/input';
import { type JobQueue, LocalQueue } from '../jobs/queue';
import type { Db, Lease } from '../store/db';
import { defaultDbDir } from '../store/open';
import { type Codebase, type RootedCodebase, codebaseLabel } from '../store/codebases';
import type { IndexStore } from '../store/indexStore';
import type { Chunker } from './chunker';
import { type EmbedJob, type EmbedJobFile, type EmbedJobResult, type JobContext, type JobModel, handleEmbedJob, jobFile } from './embedJob';
import { type SkipReason, type WalkOptions, Walker, coverPaths } from './walker';

export { storedChunk } from './embedJob';

/** What the indexer needs from a model: the embedder and the identity recorded with the index. */
export interface IndexModel extends JobModel {
  modelId: string;
}

/** A job queue the run closes when it ends. */
export type ClosableQueue = JobQueue<EmbedJob, EmbedJobResult> & { close?(): Promise<void> };

export interface IndexOptions {
  roots: string[];
  /** forget what is indexed (for a new model) and index from scratch */
  rebuild?: boolean;
  walk?: WalkOptions;
  /** a returned promise is awaited only before the HNSW build (so a report can reach a client first) */
  onProgress?: (p: IndexProgress) => void | Promise<void>;
  signal?: AbortSignal;
  /** chunks per embedding job; a job is also one database transaction */
  jobChunks?: number;
  /**
   * Re-check only these paths (posix, relative to the single root in `roots`) instead of walking the tree:
   * files, directories (walked) or paths that no longer exist. What is indexed at or below a listed path
   * and no longer found (deleted, now ignored, binary, too large) is removed. For file watchers.
   */
  paths?: string[];
  /** the queue the run's jobs go through (JetStream, for workers); default: run them in this process */
  queue?: () => Promise<ClosableQueue>;
  /** awaited before each file and each job: a pause holds it (the job in flight finishes) */
  gate?: () => Promise<void>;
  /** texts per call to the embedder, so a query embedding never queues behind a whole job (default 64) */
  embedBatch?: number;
  /**
   * Another run holding a codebase's writer lease: wait for it (true; `onBusy` hears who it is, the signal
   * still cancels) or fail at once with `index_busy` (false, the default).
   */
  waitForLease?: boolean;
  onBusy?: (holder: string) => void;
  /** each file whose chunks are being rewritten (`deleted: false`) or that left the index (root is the real path) */
  onFile?: (f: { root: string; path: string; deleted: boolean }) => void;
}

export interface IndexProgress {
  /** 'hnsw': building a codebase's vector index (on PGlite nothing else runs meanwhile) */
  phase: 'scanning' | 'indexing' | 'finishing' | 'hnsw';
  filesSeen: number;
  filesChanged: number;
  /** changed files whose chunks are stored */
  filesDone: number;
  /** files indexed before this run in the roots begun so far (an estimate of the walk's length) */
  filesKnown: number;
  /** every root has been walked: chunksQueued is final */
  walked: boolean;
  chunksDone: number;
  chunksQueued: number;
}

export interface IndexSummary {
  roots: string[];
  files: number;
  changedFiles: number;
  unchangedFiles: number;
  deletedFiles: number;
  chunks: number;
  embedded: number;
  reused: number;
  skipped: Record<SkipReason, number>;
  ignored: number;
  hnswBuilt: boolean;
  seconds: number;
  /** where the time went, in seconds (embed, cache and store overlap with walking and chunking) */
  timings: IndexTimings;
  modelId: string;
  dimension: number;
}

export interface IndexTimings {
  walkAndHash: number;
  chunk: number;
  embed: number;
  cache: number;
  store: number;
  termStats: number;
  hnsw: number;
}

const LEASE_POLL_MS = 1000;

/** What a rebuild command must repeat to reach the same index with the intended model. */
export interface RebuildHint {
  /** the model to rebuild with, as an index records it ('default', 'path:/dir' or a hub id) */
  modelId?: string | null;
  /** the database the index lives in */
  db?: Pick<Db, 'kind' | 'location'>;
}

/**
 * Rebuild hint used by every model-mismatch message: a command that works when pasted, so it names the
 * database (unless it is the default directory) and the model (unless it is the shipped one).
 */
export function rebuildCommand(where: string | Pick<Codebase, 'name' | 'root'>, hint: RebuildHint = {}): string {
  const root = typeof where === 'string' ? where : where.root;
  // A codebase without a folder on this machine is rebuilt from a clone of it, named as it is.
  const args = ['semcode', 'index', '--root', root === null ? 'DIR' : shellWord(root)];
  if (root === null && typeof where !== 'string') args.push('--codebase', shellWord(where.name));
  if (hint.db?.kind === 'postgres') args.push('--db', shellWord(hint.db.location));
  else if (hint.db && hint.db.location !== 'memory' && resolve(hint.db.location) !== resolve(defaultDbDir()))
    args.push('--db-dir', shellWord(hint.db.location));
  if (hint.modelId && hint.modelId !== 'default') args.push('--model', shellWord(hint.modelId.startsWith('path:') ? hint.modelId.slice(5) : hint.modelId));
  args.push('--rebuild');
  return args.join(' ');
}

/** A word as a POSIX shell reads it back: plain when it is safe, else single-quoted. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The consistency rule: an index is only ever read or extended with the model that built it. */
export function assertSameModel(cb: Codebase, model: { modelId: string; modelHash: string; dimension: number }, db?: RebuildHint['db']): void {
  if (!cb.modelHash || cb.modelHash === model.modelHash) return;
  throw new SemcodeError(
    'model_mismatch',
    `index for ${codebaseLabel(cb)} was built with model ${cb.modelId} (dim ${cb.dimension}) but the current model is ` +
      `${model.modelId} (dim ${model.dimension})` +
      (cb.modelId === model.modelId ? ' whose files have changed' : '') +
      `; rebuild it with: ${rebuildCommand(cb, { modelId: model.modelId, db })}`,
  );
}

/** One run's counters and resources: what progress reports and the summary are made of. */
interface Run {
  opts: IndexOptions;
  /** a watcher run's paths (coverPaths), null for a full walk */
  only: string[] | null;
  walker: Walker;
  jobChunks: number;
  progress: IndexProgress;
  totals: { files: number; changed: number; unchanged: number; deleted: number; embedded: number; reused: number };
  timings: IndexTimings;
  roots: string[];
  changedRoots: Set<string>;
  leases: Lease[];
  chunkTotal: number;
  hnswBuilt: boolean;
  nameOf: (realRoot: string) => string;
}

/** A root once planned: its codebase, what was indexed before the run and what the walk found. */
interface PlannedRoot {
  cb: RootedCodebase;
  known: Map<string, string>;
  seen: Set<string>;
}

/**
 * Incremental indexing, as jobs. Planning (walk, compare hashes, chunk) runs here and produces embed jobs;
 * the job handler (embedJob.ts) embeds cache misses and stores each job's files in one transaction; the
 * results come back through the queue's result events; finishing (deleted files, BM25 statistics, HNSW)
 * runs here once a root's jobs are drained. Walking and chunking on this thread overlap with embedding in
 * the worker thread and with database writes.
 */
export class Indexer {
  constructor(
    private readonly store: IndexStore,
    private readonly model: IndexModel,
    private readonly chunker: Chunker,
  ) {}

  /** `nameOf` gives the codebase name of a root's real path (the engine resolved it: engineRoots.ts). */
  async index(opts: IndexOptions, nameOf: (realRoot: string) => string = (real) => real): Promise<IndexSummary> {
    const started = performance.now();
    const only = opts.paths ? coverPaths(opts.paths) : null;
    if (only && opts.roots.length !== 1) throw new SemcodeError('usage', 'indexing given paths needs exactly one root');
    const run = newRun(opts, only, nameOf);
    const ctx: JobContext = { store: this.store, model: this.model, embedBatch: Math.max(1, opts.embedBatch ?? 64) };
    let queue: ClosableQueue | undefined;
    try {
      // In this process unless a queue is given (JetStream: workers run the jobs); the local gate holds a
      // job not yet started (the one in flight finishes).
      queue =
        (await opts.queue?.()) ??
        new LocalQueue<EmbedJob, EmbedJobResult>(
          async (job) => {
            await checkpoint(opts);
            return handleEmbedJob(job, ctx);
          },
          2,
          2,
        );
      queue.onResult((result) => jobDone(run, result));
      for (const [rootIndex, root] of opts.roots.entries()) {
        const planned = await this.plan(run, root, queue);
        if (rootIndex === opts.roots.length - 1) run.progress.walked = true;
        await queue.drain();
        await checkpoint(opts);
        await this.finish(run, planned);
      }
      await queue.drain();
      return summary(run, started, this.model);
    } finally {
      await queue?.close?.();
      for (const l of run.leases) await l.release();
    }
  }

  /** Walks a root, skips files whose bytes hash as before and queues the changed ones, chunked, as jobs. */
  private async plan(run: Run, root: string, queue: JobQueue<EmbedJob, EmbedJobResult>): Promise<PlannedRoot> {
    const { opts, only, progress, totals, timings } = run;
    let planned: PlannedRoot | null = null;
    let batch: EmbedJobFile[] = [];
    let batchChunks = 0;
    const flush = async () => {
      if (!batch.length) return;
      await queue.push(embedJob(planned!.cb, batch, !!only));
      batch = [];
      batchChunks = 0;
    };
    let mark = performance.now();
    for await (const file of only ? run.walker.walkPaths(root, only) : run.walker.walk(root)) {
      timings.walkAndHash += (performance.now() - mark) / 1000;
      planned ??= await this.startRoot(run, file.root);
      await checkpoint(opts);
      totals.files++;
      progress.filesSeen++;
      planned.seen.add(file.relPath);
      const contentHash = sha256(file.bytes);
      if (planned.known.get(file.relPath) === contentHash) {
        totals.unchanged++;
        mark = performance.now();
        continue;
      }
      const chunkStart = performance.now();
      totals.changed++;
      progress.filesChanged++;
      run.changedRoots.add(file.root);
      opts.onFile?.({ root: file.root, path: file.relPath, deleted: false });
      const pending = jobFile(this.chunker, file, contentHash);
      batch.push(pending);
      batchChunks += pending.chunks.length;
      progress.chunksQueued += pending.chunks.length;
      timings.chunk += (performance.now() - chunkStart) / 1000;
      if (batchChunks >= run.jobChunks) await flush();
      if (progress.filesSeen % 200 === 0) report(run);
      mark = performance.now();
    }
    // A root without any indexable file still gets a codebase (so searching it says "no results").
    planned ??= await this.startRoot(run, await realpath(root));
    await flush();
    return planned;
  }

  /**
   * A root's codebase, leased to this run, and what it held before. Each step is a session of its own, and
   * the lease is waited for outside any: a session holds a pooled connection until it ends.
   */
  private async startRoot(run: Run, realRoot: string): Promise<PlannedRoot> {
    const named = await this.store.session(async (st) => {
      const cb = await st.ensureCodebase(realRoot, run.nameOf(realRoot));
      await st.requireLevel(cb, 'write', 'indexing');
      return cb;
    });
    run.leases.push(await this.lease(named, run.opts));
    const { cb, known } = await this.store.session(async (st) => {
      const cb = await this.prepareCodebase(st, realRoot, run.opts);
      return { cb, known: run.only ? await st.fileHashesUnder(cb.id, run.only) : await st.fileHashes(cb.id) };
    });
    run.progress.filesKnown += run.only ? 0 : known.size;
    run.roots.push(realRoot);
    run.progress.phase = 'indexing';
    return { cb, known, seen: new Set() };
  }

  /** After a root's jobs: removes files no longer found, brings BM25 statistics and the HNSW index up to date. */
  private async finish(run: Run, { cb, known, seen }: PlannedRoot): Promise<void> {
    const { opts, only, progress } = run;
    progress.phase = 'finishing';
    report(run);
    const gone = [...known.keys()].filter((p) => !seen.has(p));
    // Watcher runs keep the BM25 statistics current file by file; full runs recount them at the end.
    await this.store.session((st) => st.deleteFiles(cb.id, gone, { termStats: !!only }));
    for (const path of gone) opts.onFile?.({ root: cb.root, path, deleted: true });
    run.totals.deleted += gone.length;
    const stored = await this.store.session((st) => this.termStats(st, run, cb, gone.length));
    run.chunkTotal += stored;
    if (cb.hnswDim !== this.model.dimension && stored > 0) {
      progress.phase = 'hnsw';
      await opts.onProgress?.({ ...progress });
      const built = await timed(run.timings, 'hnsw', () => this.store.session((st) => st.ensureHnsw(cb, this.model.dimension)));
      if (built) run.hnswBuilt = true;
      progress.phase = 'finishing';
    }
    if (!only) await this.store.session((st) => st.finishRun(cb.id));
  }

  /**
   * Recounts BM25 statistics where needed; returns the codebase's stored chunks. A watcher run has kept the
   * statistics current job by job and trusts the codebase's chunk count: counting (100 ms at 100k chunks)
   * or recounting (seconds) would hold PGlite, and every request, that long. A walk counts, and recounts
   * when something changed or a run that stopped early left the statistics behind.
   */
  private async termStats(st: IndexStore, run: Run, cb: RootedCodebase, gone: number): Promise<number> {
    if (run.only) {
      if (!cb.indexedAt) await timed(run.timings, 'termStats', () => st.refreshTermStats(cb.id));
      return (await st.codebase(cb.root))!.nChunks;
    }
    const stored = (await st.counts(cb.id)).chunks;
    const stale = run.changedRoots.has(cb.root) || gone > 0 || !cb.indexedAt || stored !== cb.nChunks;
    if (stale) await timed(run.timings, 'termStats', () => st.refreshTermStats(cb.id));
    return stored;
  }

  /**
   * The leased codebase of a root, checked against the model (and reset first for a rebuild). A full walk
   * marks it unfinished until its end, so a killed run leaves an index that says it is incomplete.
   */
  private async prepareCodebase(st: IndexStore, root: string, opts: IndexOptions): Promise<RootedCodebase> {
    let cb = (await st.codebase(root))!; // as the previous holder left it
    if (opts.rebuild && cb.modelHash) {
      await st.resetCodebase(cb.id);
      cb = (await st.codebase(root))!;
    }
    assertSameModel(cb, this.model, this.store.db);
    if (!cb.modelHash) {
      await st.setModel(cb.id, this.model.modelId, this.model.modelHash, this.model.dimension);
      cb = (await st.codebase(root))!;
    }
    if (!opts.paths) await st.startRun(cb.id);
    return cb;
  }

  private async lease(cb: Codebase, opts: IndexOptions): Promise<Lease> {
    const label = `semcode index, pid ${process.pid} on ${hostname()}`;
    for (let told = false; ; told = true) {
      try {
        return await this.store.leaseForIndexing(cb, label);
      } catch (e) {
        if (!opts.waitForLease || !isSemcodeError(e, 'index_busy')) throw e;
        if (!told) opts.onBusy?.(e.message);
        if (opts.signal?.aborted) throw new SemcodeError('usage', 'indexing cancelled');
        await new Promise((r) => setTimeout(r, LEASE_POLL_MS));
      }
    }
  }
}

function newRun(opts: IndexOptions, only: string[] | null, nameOf: (realRoot: string) => string): Run {
  return {
    opts,
    nameOf,
    only,
    walker: new Walker(opts.walk),
    jobChunks: opts.jobChunks ?? 256,
    progress: {
      phase: 'scanning',
      filesSeen: 0,
      filesChanged: 0,
      filesDone: 0,
      filesKnown: 0,
      walked: false,
      chunksDone: 0,
      chunksQueued: 0,
    },
    totals: { files: 0, changed: 0, unchanged: 0, deleted: 0, embedded: 0, reused: 0 },
    timings: { walkAndHash: 0, chunk: 0, embed: 0, cache: 0, store: 0, termStats: 0, hnsw: 0 },
    roots: [],
    changedRoots: new Set(),
    leases: [],
    chunkTotal: 0,
    hnswBuilt: false,
  };
}

/** A job for these files, stamped with the model the codebase's index records (prepareCodebase checked it). */
function embedJob(cb: Codebase, files: EmbedJobFile[], deltaStats: boolean): EmbedJob {
  return { codebaseId: cb.id, modelHash: cb.modelHash!, dimension: cb.dimension!, deltaStats, files };
}

/** A job's result event: counts, timings and progress move here, never inside the handler. */
function jobDone(run: Run, r: EmbedJobResult): void {
  run.totals.embedded += r.embedded;
  run.totals.reused += r.reused;
  run.timings.embed += r.seconds.embed;
  run.timings.cache += r.seconds.cache;
  run.timings.store += r.seconds.store;
  run.progress.chunksDone += r.chunks;
  run.progress.filesDone += r.files;
  report(run);
}

function report(run: Run): void {
  void run.opts.onProgress?.({ ...run.progress });
}

async function checkpoint(opts: IndexOptions): Promise<void> {
  if (opts.gate) await opts.gate();
  if (opts.signal?.aborted) throw new SemcodeError('usage', 'indexing cancelled');
}

async function timed<T>(timings: IndexTimings, key: keyof IndexTimings, fn: () => Promise<T>): Promise<T> {
  const t = performance.now();
  try {
    return await fn();
  } finally {
    timings[key] += (performance.now() - t) / 1000;
  }
}

function summary(run: Run, started: number, model: IndexModel): IndexSummary {
  const { totals, walker } = run;
  return {
    roots: run.roots,
    files: totals.files,
    changedFiles: totals.changed,
    unchangedFiles: totals.unchanged,
    deletedFiles: totals.deleted,
    chunks: run.chunkTotal,
    embedded: totals.embedded,
    reused: totals.reused,
    skipped: { ...walker.stats.skipped },
    ignored: walker.stats.ignored,
    hnswBuilt: run.hnswBuilt,
    seconds: (performance.now() - started) / 1000,
    timings: run.timings,
    modelId: model.modelId,
    dimension: model.dimension,
  };
}
