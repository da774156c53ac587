import type { Chunk } from '../chunk';
import { modelInput, sha256 } from '../embed/input';
import { SemcodeError } from '../errors';
import { type FileWrite, type IndexStore, type StoredChunk, vectorLiteral } from '../store/indexStore';
import { searchText } from '../text/terms';
import type { Chunker } from './chunker';
import type { WalkedFile } from './walker';

/**
 * One unit of indexing work: changed files, chunked, with their model inputs and the inputs' hashes. Plain
 * data only (no rows, classes or functions), so it can cross a process boundary as JSON and a worker with
 * the same model can do it.
 */
export interface EmbedJob {
  codebaseId: number;
  /** the model the codebase's index records: a worker with another model must refuse the job */
  modelHash: string;
  dimension: number;
  /** keep BM25 statistics current in the job's transaction (watcher runs); full runs recount at the end */
  deltaStats: boolean;
  files: EmbedJobFile[];
}

export interface EmbedJobFile {
  /** posix, relative to the codebase's root */
  path: string;
  contentHash: string;
  size: number;
  language: string | null;
  chunks: Chunk[];
  /** the model input of each chunk (embed/input.ts modelInput) and its sha256, the embedding cache key */
  inputs: string[];
  inputHashes: string[];
}

/** What a handled job reports back to whoever queued it. */
export interface EmbedJobResult {
  files: number;
  /** chunks stored */
  chunks: number;
  /** inputs the model embedded (cache misses) */
  embedded: number;
  /** inputs taken from the embedding cache */
  reused: number;
  /** seconds spent in each step (for IndexSummary.timings) */
  seconds: { embed: number; cache: number; store: number };
}

/** The part of a model a job needs: its identity and its embedder. */
export interface JobModel {
  modelHash: string;
  dimension: number;
  embed(texts: string[]): Promise<Float32Array[]>;
}

export interface JobContext {
  /** the store a job opens its sessions from: one to read the cache, one to write */
  store: IndexStore;
  model: JobModel;
  /** texts per call to the embedder, so a query embedding never queues behind a whole job */
  embedBatch: number;
}

/** A changed file as a job carries it: chunks, model inputs and the inputs' cache keys. */
export function jobFile(chunker: Chunker, file: Pick<WalkedFile, 'relPath' | 'text' | 'size'>, contentHash: string): EmbedJobFile {
  const text = file.text.includes('\0') ? file.text.replace(/\0/g, '\uFFFD') : file.text; // PostgreSQL text holds no NUL
  const chunks = chunker.chunk(file.relPath, text);
  const inputs = chunks.map((c) => modelInput(c));
  return {
    path: file.relPath,
    contentHash,
    size: file.size,
    language: chunks[0]?.language ?? null,
    chunks,
    inputs,
    inputHashes: inputs.map((t) => sha256(t)),
  };
}

/** A chunk as stored: its vector literal and its full-text words (symbol and path count as text too). */
export function storedChunk(c: Chunk, embedding: string): StoredChunk {
  const st = searchText(c.symbol ? `${c.symbol} ${c.path} ${c.content}` : `${c.path} ${c.content}`);
  return { ...c, embedding, searchText: st.text, words: st.words, bm25: st.bm25 };
}

/**
 * Does one job: embeds what the cache lacks, then replaces the job's files in one transaction, each database
 * step in a session of its own (as the connecting role, what row-level security checks). Idempotent:
 * a second run finds every input cached and replaces the same files with the same rows (replaceFiles locks
 * each file's row, then deletes and re-inserts its chunks), so a redelivered job changes nothing.
 */
export async function handleEmbedJob(job: EmbedJob, ctx: JobContext): Promise<EmbedJobResult> {
  checkJob(job, ctx.model);
  const seconds = { embed: 0, cache: 0, store: 0 };
  const timed = async <T>(key: keyof typeof seconds, fn: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      seconds[key] += (performance.now() - t) / 1000;
    }
  };
  const { store } = ctx;
  const allHashes = job.files.flatMap((f) => f.inputHashes);
  const cached = await timed('cache', () => store.session((st) => st.cachedEmbeddings(job.codebaseId, job.modelHash, [...new Set(allHashes)])));
  const vectors = new Map([...cached].map(([h, c]) => [h, c.embedding]));
  // Vectors found in another codebase are copied to this one's rows, so its cache stands on its own.
  const borrowed = [...cached].filter(([, c]) => !c.own).map(([inputHash, c]) => ({ inputHash, embedding: c.embedding }));
  const missing = new Map<string, string>();
  for (const f of job.files) {
    f.inputHashes.forEach((h, i) => {
      if (!vectors.has(h) && !missing.has(h)) missing.set(h, f.inputs[i]!);
    });
  }
  // Embedding runs outside any session: on PostgreSQL a session holds a pooled connection while it lasts.
  const fresh = missing.size ? await embedMissing(missing, ctx, (fn) => timed('embed', fn)) : [];
  for (const e of fresh) vectors.set(e.inputHash, e.embedding);
  const writes: FileWrite[] = job.files.map((f) => ({
    path: f.path,
    contentHash: f.contentHash,
    size: f.size,
    language: f.language,
    chunks: f.chunks.map((c, i) => storedChunk(c, vectors.get(f.inputHashes[i]!)!)),
  }));
  await store.session(async (st) => {
    const toCache = [...fresh, ...borrowed];
    if (toCache.length) await timed('cache', () => st.cacheEmbeddings(job.codebaseId, job.modelHash, toCache));
    await timed('store', () => st.replaceFiles(job.codebaseId, writes, { termStats: job.deltaStats }));
  });
  return {
    files: job.files.length,
    chunks: allHashes.length,
    embedded: missing.size,
    reused: allHashes.length - missing.size,
    seconds,
  };
}

/** A job made for another model would store vectors the index cannot be searched with. */
function checkJob(job: EmbedJob, model: JobModel): void {
  if (job.modelHash !== model.modelHash || job.dimension !== model.dimension) {
    throw new SemcodeError(
      'model_mismatch',
      `embed job for codebase ${job.codebaseId} needs model ${job.modelHash} (dim ${job.dimension}) ` +
        `but this worker has ${model.modelHash} (dim ${model.dimension})`,
    );
  }
  for (const f of job.files) {
    if (f.inputs.length !== f.chunks.length || f.inputHashes.length !== f.chunks.length) {
      throw new SemcodeError(
        'usage',
        `embed job for codebase ${job.codebaseId}: ${f.path} has ${f.chunks.length} chunks but ${f.inputs.length} inputs and ${f.inputHashes.length} hashes`,
      );
    }
  }
}

/** Embeds the cache misses (hash → input) and checks what the model returned. */
async function embedMissing(
  missing: Map<string, string>,
  { model, embedBatch }: JobContext,
  timed: (fn: () => Promise<Float32Array[]>) => Promise<Float32Array[]>,
): Promise<{ inputHash: string; embedding: string }[]> {
  const hashes = [...missing.keys()];
  const texts = [...missing.values()];
  const embedded: Float32Array[] = [];
  // Slices, not the whole job: the embedder runs one call at a time, and a search's query embedding
  // waits behind whatever is queued.
  for (let i = 0; i < texts.length; i += embedBatch) {
    embedded.push(...(await timed(() => model.embed(texts.slice(i, i + embedBatch)))));
  }
  if (embedded.length !== hashes.length) {
    throw new SemcodeError('model_output', `model returned ${embedded.length} vectors for ${hashes.length} inputs`);
  }
  return hashes.map((h, i) => {
    const v = embedded[i]!;
    if (v.length !== model.dimension) {
      throw new SemcodeError('model_output', `model returned a ${v.length}-dimensional vector, expected ${model.dimension}`);
    }
    return { inputHash: h, embedding: vectorLiteral(v) };
  });
}
