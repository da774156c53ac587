import { SemcodeError } from '../errors';
import { modelInput, sha256 } from '../embed/input';
import { LocalQueue } from '../jobs/queue';
import { searchText } from '../search/terms';
import { type Codebase, type FileWrite, IndexStore, type StoredChunk, vectorLiteral } from '../store/indexStore';
import type { Chunker } from './chunker';
import type { Chunk } from './types';
import { type SkipReason, type WalkOptions, Walker } from './walker';

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
  onProgress?: (p: IndexProgress) => void;
  signal?: AbortSignal;
  /** chunks per embedding job; a job is also one database transaction */
  jobChunks?: number;
}

export interface IndexProgress {
  phase: 'scanning' | 'indexing' | 'finishing';
  filesSeen: number;
  filesChanged: number;
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
}

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
  };
}

/** Rebuild hint used by every model-mismatch message. */
export function rebuildCommand(root: string): string {
  return `semcode index --root ${JSON.stringify(root).slice(1, -1)} --rebuild`;
}

/** The consistency rule: an index is only ever read or extended with the model that built it. */
export function assertSameModel(cb: Codebase, model: { modelId: string; modelHash: string; dimension: number }): void {
  if (!cb.modelHash || cb.modelHash === model.modelHash) return;
  throw new SemcodeError(
    'model_mismatch',
    `index for ${cb.root} was built with model ${cb.modelId} (dim ${cb.dimension}) but the current model is ` +
      `${model.modelId} (dim ${model.dimension})` +
      (cb.modelId === model.modelId ? ' whose files have changed' : '') +
      `; rebuild it with: ${rebuildCommand(cb.root)}`,
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

  constructor(
    private readonly store: IndexStore,
    private readonly model: IndexModel,
    private readonly chunker: Chunker,
  ) {}

  async index(opts: IndexOptions): Promise<IndexSummary> {
    const started = performance.now();
    const walker = new Walker(opts.walk);
    const jobChunks = opts.jobChunks ?? 256;
    const progress: IndexProgress = { phase: 'scanning', filesSeen: 0, filesChanged: 0, chunksDone: 0, chunksQueued: 0 };
    const report = () => opts.onProgress?.({ ...progress });
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

    const queue = new LocalQueue<EmbedJob>(async (job) => {
      const n = await this.embedAndStore(job, totals);
      progress.chunksDone += n;
      report();
    }, 2, 2);

    for (const root of opts.roots) {
      let codebase: Codebase | null = null;
      const seen = new Set<string>();
      let known = new Map<string, string>();
      let batch: PendingFile[] = [];
      let batchChunks = 0;
      const flush = async () => {
        if (!batch.length) return;
        await queue.push({ codebase: codebase!, files: batch });
        batch = [];
        batchChunks = 0;
      };
      let mark = performance.now();
      for await (const file of walker.walk(root)) {
        timings.walkAndHash += (performance.now() - mark) / 1000;
        if (!codebase) {
          codebase = await this.openCodebase(file.root, !!opts.rebuild);
          known = await this.store.fileHashes(codebase.id);
          roots.push(file.root);
          progress.phase = 'indexing';
        }
        if (opts.signal?.aborted) throw new SemcodeError('usage', 'indexing cancelled');
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
      codebase ??= await this.openCodebaseForEmptyRoot(root, !!opts.rebuild, roots);
      await flush();
      await queue.drain();
      progress.phase = 'finishing';
      report();
      const gone = [...known.keys()].filter((p) => !seen.has(p));
      await this.store.deleteFiles(codebase.id, gone);
      totals.deleted += gone.length;
      if (totals.changed || gone.length || !codebase.indexedAt) await timed('termStats', () => this.store.refreshTermStats(codebase!.id));
      const counts = await this.store.counts(codebase.id);
      if (counts.chunks > 0 && (await timed('hnsw', () => this.store.ensureHnsw(codebase!, this.model.dimension)))) hnswBuilt = true;
    }
    await queue.drain();

    let chunks = 0;
    for (const root of roots) chunks += (await this.store.counts((await this.store.codebase(root))!.id)).chunks;
    return {
      roots,
      files: totals.files,
      changedFiles: totals.changed,
      unchangedFiles: totals.unchanged,
      deletedFiles: totals.deleted,
      chunks,
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
  }

  private async openCodebaseForEmptyRoot(root: string, rebuild: boolean, roots: string[]): Promise<Codebase> {
    const { realpath } = await import('node:fs/promises');
    const real = await realpath(root);
    roots.push(real);
    return this.openCodebase(real, rebuild);
  }

  private async openCodebase(root: string, rebuild: boolean): Promise<Codebase> {
    let cb = await this.store.ensureCodebase(root);
    if (rebuild && cb.modelHash) {
      await this.store.resetCodebase(cb.id);
      cb = (await this.store.codebase(root))!;
    }
    assertSameModel(cb, this.model);
    if (!cb.modelHash) {
      await this.store.setModel(cb.id, this.model.modelId, this.model.modelHash, this.model.dimension);
      cb = (await this.store.codebase(root))!;
    }
    return cb;
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
      const embedded = await this.timed('embed', () => this.model.embed([...missing.values()]));
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
    await this.timed('store', () => this.store.replaceFiles(job.codebase.id, writes));
    return allHashes.length;
  }
}
