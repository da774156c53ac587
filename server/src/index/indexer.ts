import { realpath } from 'node:fs/promises';
import { hostname } from 'node:os';
import { SemcodeError, isSemcodeError } from '../errors';
import { modelInput, sha256 } from '../embed/input';
import { LocalQueue } from '../jobs/queue';
import { searchText } from '../text/terms';
import { resolve } from 'node:path';
import type { Db, Lease } from '../store/db';
import { defaultDbDir } from '../store/open';
import { type Codebase, type FileWrite, IndexStore, type StoredChunk, vectorLiteral } from '../store/indexStore';
import type { Chunker } from './chunker';
import type { Chunk } from '../chunk';
import { type SkipReason, type WalkOptions, Walker, coverPaths } from './walker';

/** What the indexer needs from a model: the embedder and the identity recorded with the index. */
export interface IndexModel {
  modelId: string;
  modelHash: string;
  dimension: number;
  embed(texts: string[]): Promise<Float32Array[]>;
}

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

interface PendingFile {
  path: string;
  contentHash: string;
  size: number;
  language: string | null;
  chunks: Chunk[];
  inputHashes: string[];
  inputs: string[];
}

interface EmbedJob {
  codebase: Codebase;
  files: PendingFile[];
  /** keep BM25 statistics up to date per job (watcher runs) instead of recomputing them at the end */
  deltaStats: boolean;
}

const LEASE_POLL_MS = 1000;

/** A chunk as stored: its vector literal and its full-text words (symbol and path count as text too). */
export function storedChunk(c: Chunk, embedding: string): StoredChunk {
  const st = searchText(c.symbol ? `${c.symbol} ${c.path} ${c.content}` : `${c.path} ${c.content}`);
  return {
    startLine: c.startLine,
    endLine: c.endLine,
    symbol: c.symbol,
    kind: c.kind,
    language: c.language,
    content: c.content,
    contentHash: c.hash,
    embedding,
    searchText: st.text,
    words: st.words,
    bm25: st.bm25,
  };
}

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
export function rebuildCommand(root: string, hint: RebuildHint = {}): string {
  const args = ['semcode', 'index', '--root', shellWord(root)];
  if (hint.db?.kind === 'postgres') args.push('--db', shellWord(hint.db.location));
  else if (hint.db && hint.db.location !== 'memory' && resolve(hint.db.location) !== resolve(defaultDbDir())) args.push('--db-dir', shellWord(hint.db.location));
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
    `index for ${cb.root} was built with model ${cb.modelId} (dim ${cb.dimension}) but the current model is ` +
      `${model.modelId} (dim ${model.dimension})` +
      (cb.modelId === model.modelId ? ' whose files have changed' : '') +
      `; rebuild it with: ${rebuildCommand(cb.root, { modelId: model.modelId, db })}`,
  );
}

/**
 * Incremental indexing. A file whose bytes hash as before costs nothing; a changed file is chunked, its
 * model inputs looked up in the embedding cache, only the misses embedded, and its chunks replaced in one
 * transaction; files no longer found are deleted. Walking and chunking on this thread overlap with
 * embedding in the worker thread and with database writes.
 */
export class Indexer {
  private timed: <T>(key: keyof IndexTimings, fn: () => Promise<T>) => Promise<T> = (_k, fn) => fn();
  private embedBatch = 64;

  constructor(
    private readonly store: IndexStore,
    private readonly model: IndexModel,
    private readonly chunker: Chunker,
  ) {}

  async index(opts: IndexOptions): Promise<IndexSummary> {
    const started = performance.now();
    const walker = new Walker(opts.walk);
    const jobChunks = opts.jobChunks ?? 256;
    const only = opts.paths ? coverPaths(opts.paths) : null;
    if (only && opts.roots.length !== 1) throw new SemcodeError('usage', 'indexing given paths needs exactly one root');
    this.embedBatch = Math.max(1, opts.embedBatch ?? 64);
    const progress: IndexProgress = {
      phase: 'scanning',
      filesSeen: 0,
      filesChanged: 0,
      filesDone: 0,
      filesKnown: 0,
      walked: false,
      chunksDone: 0,
      chunksQueued: 0,
    };
    const checkpoint = async () => {
      if (opts.gate) await opts.gate();
      if (opts.signal?.aborted) throw new SemcodeError('usage', 'indexing cancelled');
    };
    const changedRoots = new Set<string>();
    let chunkTotal = 0;
    const report = () => void opts.onProgress?.({ ...progress });
    const totals = { files: 0, changed: 0, unchanged: 0, deleted: 0, embedded: 0, reused: 0 };
    let hnswBuilt = false;
    const roots: string[] = [];
    const timings: IndexTimings = { walkAndHash: 0, chunk: 0, embed: 0, cache: 0, store: 0, termStats: 0, hnsw: 0 };
    const timed = async <T>(key: keyof IndexTimings, fn: () => Promise<T>): Promise<T> => {
      const t = performance.now();
      try {
        return await fn();
      } finally {
        timings[key] += (performance.now() - t) / 1000;
      }
    };
    this.timed = timed;

    const leases: Lease[] = [];
    try {
      const queue = new LocalQueue<EmbedJob>(async (job) => {
        await checkpoint();
        const n = await this.embedAndStore(job, totals);
        progress.chunksDone += n;
        progress.filesDone += job.files.length;
        report();
      }, 2, 2);

      for (const [rootIndex, root] of opts.roots.entries()) {
        let codebase: Codebase | null = null;
        const seen = new Set<string>();
        let known = new Map<string, string>();
        let batch: PendingFile[] = [];
        let batchChunks = 0;
        const flush = async () => {
          if (!batch.length) return;
          await queue.push({ codebase: codebase!, files: batch, deltaStats: !!only });
          batch = [];
          batchChunks = 0;
        };
        const startCodebase = async (cb: Codebase, realRoot: string) => {
          codebase = cb;
          known = only ? await this.store.fileHashesUnder(cb.id, only) : await this.store.fileHashes(cb.id);
          progress.filesKnown += only ? 0 : known.size;
          roots.push(realRoot);
          progress.phase = 'indexing';
        };
        let mark = performance.now();
        for await (const file of only ? walker.walkPaths(root, only) : walker.walk(root)) {
          timings.walkAndHash += (performance.now() - mark) / 1000;
          if (!codebase) await startCodebase(await this.openCodebase(file.root, opts, leases), file.root);
          await checkpoint();
          totals.files++;
          progress.filesSeen++;
          seen.add(file.relPath);
          const contentHash = sha256(file.bytes);
          if (known.get(file.relPath) === contentHash) {
            totals.unchanged++;
            mark = performance.now();
            continue;
          }
          const chunkStart = performance.now();
          totals.changed++;
          progress.filesChanged++;
          changedRoots.add(file.root);
          opts.onFile?.({ root: file.root, path: file.relPath, deleted: false });
          const text = file.text.includes('\0') ? file.text.replace(/\0/g, '\uFFFD') : file.text; // PostgreSQL text holds no NUL
          const chunks = this.chunker.chunk(file.relPath, text);
          const inputs = chunks.map((c) => modelInput(c));
          batch.push({
            path: file.relPath,
            contentHash,
            size: file.size,
            language: chunks[0]?.language ?? null,
            chunks,
            inputs,
            inputHashes: inputs.map((t: string) => sha256(t)),
          });
          batchChunks += chunks.length;
          progress.chunksQueued += chunks.length;
          timings.chunk += (performance.now() - chunkStart) / 1000;
          if (batchChunks >= jobChunks) await flush();
          if (progress.filesSeen % 200 === 0) report();
          mark = performance.now();
        }
        // A root without any indexable file still gets a codebase (so searching it says "no results").
        if (!codebase) {
          const real = await realpath(root);
          await startCodebase(await this.openCodebase(real, opts, leases), real);
        }
        const cb: Codebase = codebase!;
        await flush();
        if (rootIndex === opts.roots.length - 1) progress.walked = true;
        await queue.drain();
        await checkpoint();
        progress.phase = 'finishing';
        report();
        const gone = [...known.keys()].filter((p) => !seen.has(p));
        // Watcher runs keep the BM25 statistics current file by file; full runs recount them at the end.
        await this.store.deleteFiles(cb.id, gone, { termStats: !!only });
        for (const path of gone) opts.onFile?.({ root: cb.root, path, deleted: true });
        totals.deleted += gone.length;
        // A watcher run has kept the BM25 statistics current job by job and trusts the codebase's chunk count:
        // counting (100 ms at 100k chunks) or recounting (seconds) would hold PGlite, and every request, that
        // long. A walk counts, and recounts when something changed or a run that stopped early left the
        // statistics behind.
        let stored: number;
        if (only) {
          if (!cb.indexedAt) await timed('termStats', () => this.store.refreshTermStats(cb.id));
          stored = (await this.store.codebase(cb.root))!.nChunks;
        } else {
          stored = (await this.store.counts(cb.id)).chunks;
          const stale = changedRoots.has(cb.root) || gone.length > 0 || !cb.indexedAt || stored !== cb.nChunks;
          if (stale) await timed('termStats', () => this.store.refreshTermStats(cb.id));
        }
        chunkTotal += stored;
        if (cb.hnswDim !== this.model.dimension) {
          if (stored > 0) {
            progress.phase = 'hnsw';
            await opts.onProgress?.({ ...progress });
            if (await timed('hnsw', () => this.store.ensureHnsw(cb, this.model.dimension))) hnswBuilt = true;
            progress.phase = 'finishing';
          }
        }
        if (!only) await this.store.finishRun(cb.id);
      }
      await queue.drain();

      return {
        roots,
        files: totals.files,
        changedFiles: totals.changed,
        unchangedFiles: totals.unchanged,
        deletedFiles: totals.deleted,
        chunks: chunkTotal,
        embedded: totals.embedded,
        reused: totals.reused,
        skipped: { ...walker.stats.skipped },
        ignored: walker.stats.ignored,
        hnswBuilt,
        seconds: (performance.now() - started) / 1000,
        timings,
        modelId: this.model.modelId,
        dimension: this.model.dimension,
      };
    } finally {
      for (const l of leases) await l.release();
    }
  }

  /**
   * The codebase of a root, leased to this run for writing and checked against the model. A full walk marks
   * it unfinished until its end, so a killed run leaves an index that says it is incomplete.
   */
  private async openCodebase(root: string, opts: IndexOptions, leases: Lease[]): Promise<Codebase> {
    leases.push(await this.lease(await this.store.ensureCodebase(root), opts));
    let cb = (await this.store.codebase(root))!; // as the previous holder left it
    if (opts.rebuild && cb.modelHash) {
      await this.store.resetCodebase(cb.id);
      cb = (await this.store.codebase(root))!;
    }
    assertSameModel(cb, this.model, this.store.db);
    if (!cb.modelHash) {
      await this.store.setModel(cb.id, this.model.modelId, this.model.modelHash, this.model.dimension);
      cb = (await this.store.codebase(root))!;
    }
    if (!opts.paths) await this.store.startRun(cb.id);
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

  /** Embeds what the cache lacks, then stores the files in one transaction. Returns chunks stored. */
  private async embedAndStore(job: EmbedJob, totals: { embedded: number; reused: number }): Promise<number> {
    const { modelHash } = this.model;
    const allHashes = job.files.flatMap((f) => f.inputHashes);
    const vectors = await this.timed('cache', () => this.store.cachedEmbeddings(modelHash, [...new Set(allHashes)]));
    const missing = new Map<string, string>();
    for (const f of job.files) {
      f.inputHashes.forEach((h, i) => {
        if (!vectors.has(h) && !missing.has(h)) missing.set(h, f.inputs[i]!);
      });
    }
    if (missing.size) {
      const hashes = [...missing.keys()];
      const texts = [...missing.values()];
      const embedded: Float32Array[] = [];
      // Slices, not the whole job: the embedder runs one call at a time, and a search's query embedding
      // waits behind whatever is queued.
      for (let i = 0; i < texts.length; i += this.embedBatch) {
        embedded.push(...(await this.timed('embed', () => this.model.embed(texts.slice(i, i + this.embedBatch)))));
      }
      if (embedded.length !== hashes.length) {
        throw new SemcodeError('model_output', `model returned ${embedded.length} vectors for ${hashes.length} inputs`);
      }
      const fresh = hashes.map((h, i) => {
        const v = embedded[i]!;
        if (v.length !== this.model.dimension) {
          throw new SemcodeError('model_output', `model returned a ${v.length}-dimensional vector, expected ${this.model.dimension}`);
        }
        return { inputHash: h, embedding: vectorLiteral(v) };
      });
      for (const e of fresh) vectors.set(e.inputHash, e.embedding);
      await this.timed('cache', () => this.store.cacheEmbeddings(modelHash, fresh));
      totals.embedded += fresh.length;
    }
    totals.reused += allHashes.length - missing.size;
    const writes: FileWrite[] = job.files.map((f) => ({
      path: f.path,
      contentHash: f.contentHash,
      size: f.size,
      language: f.language,
      chunks: f.chunks.map((c, i) => storedChunk(c, vectors.get(f.inputHashes[i]!)!)),
    }));
    await this.timed('store', () => this.store.replaceFiles(job.codebase.id, writes, { termStats: job.deltaStats }));
    return allHashes.length;
  }

}
