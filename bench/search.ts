/**
 * Search benchmark: index build time, query latency and HNSW recall on real code, for PGlite and PostgreSQL.
 *
 *   node --import tsx bench/search.ts [--sizes 10000,100000] [--backends pglite,postgres] [--queries 200]
 *                                     [--warmup 20] [--recall 100] [--seed 1] [--prepare-only]
 *
 *   --sizes     index sizes in chunks (default 10000,100000)
 *   --backends  pglite (temp dir, removed at the end) and/or postgres (temp database on SEMCODE_TEST_PG_URL or
 *               postgres://postgres@127.0.0.1:5432/postgres, dropped at the end)
 *   --queries   timed executions per search mode (default 200, at least 200 for the published figures)
 *   --warmup    untimed executions per mode before timing (default 20)
 *   --recall    query vectors for recall@10 (default 100): the embedded queries of bench/queries.txt, topped
 *               up with vectors of randomly chosen (seeded) indexed chunks
 *   --prepare-only  walk, chunk and embed the corpus into the cache, then exit
 *
 * Per size: the first N chunks (deterministic walk order) of real code files (files with a tree-sitter grammar,
 * minified bundles excluded) — this repo's node_modules, then Debian's Python standard library, then (to reach
 * 100k) Debian's dist-packages and /usr/include — chunked by the project's Walker + chunker, embedded through the
 * real embedder with a generated model (tinyModel: dim 256, 0 layers, fixed seed; cached under
 * ~/.cache/semcode-bench/), and loaded through IndexStore as the indexer does (ensureCodebase, setModel,
 * replaceFiles in batches of whole files, refreshTermStats, ensureHnsw). The corpus is chunked and embedded once,
 * for the largest size (smaller sizes are its prefix), and cached (corpus-*.jsonl + corpus-*.f32, keyed by N and
 * the model hash), so a rerun skips walking and embedding.
 * Per backend: load time, first HNSW build time, Engine.search latency per mode (p50/p95, goals p50 <= 20 ms,
 * p95 <= 50 ms) with a breakdown measured in the same loop (query embedding alone, Searcher SQL alone), and HNSW
 * recall@10 of the normal query (the store's session settings) against exact search in a transaction with
 * enable_indexscan off, both plans checked once with EXPLAIN (goal >= 0.95). Prints one table at the end.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { homedir, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Engine } from '../server/src/engine';
import { type Embedder, openEmbedder } from '../server/src/embed/embedder';
import { modelInput, sha256 } from '../server/src/embed/input';
import { hashModelFiles, resolveModel } from '../server/src/embed/modelResolve';
import { createChunker } from '../server/src/index/chunker';
import { isCodeLanguage, languageForPath } from '../server/src/index/languages';
import { Walker } from '../server/src/index/walker';
import { Searcher } from '../server/src/search/search';
import { storedChunk } from '../server/src/index/indexer';
import { mulberry32 } from '../server/src/model/random';
import { type Chunk, SEARCH_MODES, type SearchMode } from '../server/src/chunk';
import type { Db } from '../server/src/store/db';
import { type Codebase, type FileWrite, hnswIndexName, hnswScope, vectorLiteral } from '../server/src/store/indexStore';
import { writeBertModel } from '../test/fixtures/tinyModel';
import { createTestDatabase } from '../test/helpers/pg';

// ---------------------------------------------------------------------------------------------------------
// Settings

const REPO = resolve(__dirname, '..');
const CACHE_DIR = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'semcode-bench');
const MODEL = { dim: 256, layers: 0, seed: 1234 };
/** Bump when the chunk selection below changes: old corpus caches are then ignored. */
const CORPUS_VERSION = 2;
const K = 10;
const GOALS = { p50: 20, p95: 50, recall: 0.95 };
/** Chunks per replaceFiles call (whole files), like the indexer's jobs. */
const LOAD_BATCH_CHUNKS = 256;
const EMBED_BATCH = 256;

export type BackendName = 'pglite' | 'postgres';

interface Args {
  sizes: number[];
  backends: BackendName[];
  queries: number;
  warmup: number;
  recall: number;
  seed: number;
  /** only build the corpus cache (walk, chunk, embed), then exit */
  prepareOnly: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { sizes: [10_000, 100_000], backends: ['pglite', 'postgres'], queries: 200, warmup: 20, recall: 100, seed: 1, prepareOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const eq = flag.indexOf('=');
    const name = eq >= 0 ? flag.slice(0, eq) : flag;
    const value = () => {
      if (eq >= 0) return flag.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    const int = (v: string, min: number) => {
      const n = Number(v.replace(/_/g, '').replace(/k$/i, '000'));
      if (!Number.isInteger(n) || n < min) throw new Error(`${name}: expected an integer >= ${min}, got ${v}`);
      return n;
    };
    switch (name) {
      case '--sizes':
        a.sizes = value()
          .split(',')
          .filter(Boolean)
          .map((s) => int(s, 1));
        break;
      case '--backends':
        a.backends = value()
          .split(',')
          .filter(Boolean)
          .map((b) => {
            if (b !== 'pglite' && b !== 'postgres') throw new Error(`--backends: unknown backend ${b} (pglite, postgres)`);
            return b;
          });
        break;
      case '--queries':
        a.queries = int(value(), 1);
        break;
      case '--warmup':
        a.warmup = int(value(), 0);
        break;
      case '--recall':
        a.recall = int(value(), 1);
        break;
      case '--seed':
        a.seed = int(value(), 0);
        break;
      case '--prepare-only':
        a.prepareOnly = true;
        break;
      case '-h':
      case '--help':
        console.log(
          'usage: node --import tsx bench/search.ts [--sizes 10000,100000] [--backends pglite,postgres] [--queries 200] [--warmup 20] [--recall 100] [--seed 1] [--prepare-only]',
        );
        process.exit(0);
      // falls through (unreachable)
      default:
        throw new Error(`unknown argument ${flag}`);
    }
  }
  if (!a.sizes.length || !a.backends.length) throw new Error('--sizes and --backends must not be empty');
  return a;
}

// ---------------------------------------------------------------------------------------------------------
// Small helpers

export function log(msg: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

export function secs(ms: number): string {
  return (ms / 1000).toFixed(1);
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  // nearest-rank
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export interface Dist {
  p50: number;
  p95: number;
  mean: number;
  max: number;
  n: number;
}

export function dist(samples: number[]): Dist {
  const s = [...samples].sort((x, y) => x - y);
  return {
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    mean: s.reduce((x, y) => x + y, 0) / Math.max(1, s.length),
    max: s[s.length - 1] ?? NaN,
    n: s.length,
  };
}

export function ms(x: number): string {
  return Number.isFinite(x) ? x.toFixed(1) : '-';
}

const rng = mulberry32;

export function nproc(): string {
  try {
    return execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export function loadAvg(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

// ---------------------------------------------------------------------------------------------------------
// Cleanup that also runs on Ctrl-C

const cleanups = new Set<() => Promise<void>>();

export function onCleanup(fn: () => void | Promise<void>): () => Promise<void> {
  let done = false;
  const run = async () => {
    if (done) return;
    done = true;
    cleanups.delete(run);
    await fn();
  };
  cleanups.add(run);
  return run;
}

export function cleanUpOnSignals(): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`${sig}: cleaning up`);
      void Promise.allSettled([...cleanups].map((c) => c())).finally(() => process.exit(130));
    });
  }
}

/** Runs what is still registered (temp databases and directories); for scripts that import this file. */
export async function cleanUpAll(): Promise<void> {
  await Promise.allSettled([...cleanups].map((c) => c()));
}

// ---------------------------------------------------------------------------------------------------------
// Model

export interface BenchModel {
  dir: string;
  id: string;
  hash: string;
  dim: number;
}

export async function benchModel(): Promise<BenchModel> {
  const dir = join(CACHE_DIR, `model-bert-d${MODEL.dim}-l${MODEL.layers}-s${MODEL.seed}`);
  if (!existsSync(join(dir, '.complete'))) {
    log(`writing the benchmark model to ${dir}`);
    rmSync(dir, { recursive: true, force: true });
    await writeBertModel(dir, MODEL);
    writeFileSync(join(dir, '.complete'), '');
  }
  const resolved = resolveModel(dir);
  return { dir: resolved.dir, id: resolved.id, hash: await hashModelFiles(resolved.dir), dim: MODEL.dim };
}

// ---------------------------------------------------------------------------------------------------------
// Corpus: the first N chunks of real code, embedded

interface CorpusFile {
  path: string;
  contentHash: string;
  size: number;
  language: string | null;
}

/** A chunk of the corpus cache: its file by index instead of its path. */
interface CorpusChunk extends Omit<Chunk, 'path'> {
  /** index into files */
  f: number;
}

export interface Corpus {
  files: CorpusFile[];
  chunks: CorpusChunk[];
  /** chunks.length × dim, row-major */
  vectors: Float32Array;
  dim: number;
}

interface CorpusHeader {
  version: number;
  n: number;
  modelHash: string;
  dim: number;
  /** over the model inputs of all chunks, in order: detects a cache that does not match its vectors */
  inputsHash: string;
  sources: string[];
  files: CorpusFile[];
}

/** Debian's Python standard library (/usr/lib/python3.N, newest), else the one python3 reports. */
function pythonStdlib(): string | null {
  const dirs = existsSync('/usr/lib')
    ? readdirSync('/usr/lib')
        .filter((d) => /^python3\.\d+$/.test(d) && existsSync(join('/usr/lib', d, 'os.py')))
        .sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]))
    : [];
  const last = dirs[dirs.length - 1];
  if (last) return join('/usr/lib', last);
  try {
    const p = execFileSync('python3', ['-c', "import sysconfig; print(sysconfig.get_paths()['stdlib'])"], { encoding: 'utf8' }).trim();
    if (p && existsSync(p)) return realpathSync(p);
  } catch {
    // no python3 either
  }
  return null;
}

/**
 * Walk roots, in order, with the path prefix their files get in the index: this repo's node_modules, Debian's
 * Python standard library, then (Debian's stdlib alone is ~50k chunks) Debian's packaged Python libraries and
 * the system C headers. All real code, installed by the OS or npm, walked in a fixed order.
 */
export function corpusSources(): { dir: string; prefix: string }[] {
  const out = [{ dir: join(REPO, 'node_modules'), prefix: 'node_modules' }];
  const py = pythonStdlib();
  if (py) out.push({ dir: py, prefix: py.split('/').pop()! });
  out.push({ dir: '/usr/lib/python3/dist-packages', prefix: 'dist-packages' });
  out.push({ dir: '/usr/include', prefix: 'include' });
  return out;
}

/** Real code only: files the chunker parses with a grammar; minified bundles are left out. */
function isBenchCode(relPath: string): boolean {
  const lang = languageForPath(relPath);
  if (!lang || !isCodeLanguage(lang)) return false;
  return !/[.-]min\.[cm]?js$/i.test(relPath);
}

async function collectChunks(n: number): Promise<{ files: CorpusFile[]; chunks: CorpusChunk[]; sources: string[] }> {
  const chunker = await createChunker();
  const files: CorpusFile[] = [];
  const chunks: CorpusChunk[] = [];
  const sources: string[] = [];
  const started = performance.now();
  for (const src of corpusSources()) {
    if (chunks.length >= n) break;
    if (!existsSync(src.dir)) continue;
    sources.push(src.dir);
    const walker = new Walker();
    for await (const file of walker.walk(src.dir)) {
      if (!isBenchCode(file.relPath)) continue;
      const path = `${src.prefix}/${file.relPath}`;
      const text = file.text.includes('\0') ? file.text.replace(/\0/g, '\uFFFD') : file.text;
      const cs = chunker.chunk(path, text);
      if (!cs.length) continue;
      const f = files.length;
      files.push({ path, contentHash: sha256(file.bytes), size: file.size, language: cs[0]!.language });
      for (const c of cs) {
        if (chunks.length >= n) break;
        chunks.push({ f, startLine: c.startLine, endLine: c.endLine, symbol: c.symbol, kind: c.kind, language: c.language, content: c.content, hash: c.hash });
      }
      if (chunks.length >= n) break;
    }
    log(`walked ${src.dir}: ${chunks.length} chunks so far (${secs(performance.now() - started)} s)`);
  }
  if (chunks.length < n) throw new Error(`only ${chunks.length} code chunks found in ${sources.join(', ')}; need ${n}`);
  return { files, chunks, sources };
}

function inputsOf(files: CorpusFile[], chunks: CorpusChunk[]): string[] {
  return chunks.map((c) => modelInput({ path: files[c.f]!.path, content: c.content }));
}

function inputsHash(inputs: string[]): string {
  return sha256(inputs.map((t) => sha256(t)).join('\n'));
}

function cacheName(n: number, modelHash: string): string {
  return join(CACHE_DIR, `corpus-v${CORPUS_VERSION}-n${n}-${modelHash.slice(0, 16)}`);
}

/** The cached corpus for n chunks, or the first n chunks of a larger cached one (the order is the same). */
/**
 * Cache files: `<base>.f32` (n × dim little-endian Float32) and `<base>.jsonl`: a header line (CorpusHeader,
 * with the files), then one CorpusChunk per line. Lines, not one JSON document: 100k chunks of code are
 * hundreds of MB, too close to V8's string length limit.
 */
function writeCorpusCache(base: string, header: CorpusHeader, chunks: CorpusChunk[], vectors: Float32Array): void {
  writeAtomic(`${base}.f32`, new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength));
  const tmp = `${base}.jsonl.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, JSON.stringify(header) + '\n');
    for (let i = 0; i < chunks.length; i += 1000) {
      writeSync(
        fd,
        chunks
          .slice(i, i + 1000)
          .map((c) => JSON.stringify(c) + '\n')
          .join(''),
      );
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, `${base}.jsonl`);
}

function readCorpusCache(base: string): { header: CorpusHeader; chunks: CorpusChunk[]; vectors: Float32Array } {
  const buf = readFileSync(`${base}.jsonl`);
  const lines: string[] = [];
  for (let start = 0; start < buf.length;) {
    let end = buf.indexOf(0x0a, start);
    if (end < 0) end = buf.length;
    if (end > start) lines.push(buf.toString('utf8', start, end));
    start = end + 1;
  }
  const header = JSON.parse(lines[0] ?? 'null') as CorpusHeader;
  const chunks = lines.slice(1).map((l) => JSON.parse(l) as CorpusChunk);
  const raw = readFileSync(`${base}.f32`);
  const vectors = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  return { header, chunks, vectors };
}

/** The cached corpus for n chunks, or the first n chunks of a larger cached one (the order is the same). */
function readCachedCorpus(n: number, model: BenchModel): Corpus | null {
  if (!existsSync(CACHE_DIR)) return null;
  const prefix = `corpus-v${CORPUS_VERSION}-n`;
  const suffix = `-${model.hash.slice(0, 16)}.jsonl`;
  const candidates = readdirSync(CACHE_DIR)
    .filter((f) => f.startsWith(prefix) && f.endsWith(suffix))
    .map((f) => ({ f, n: Number(f.slice(prefix.length, -suffix.length)) }))
    .filter((c) => Number.isInteger(c.n) && c.n >= n)
    .sort((x, y) => x.n - y.n);
  for (const c of candidates) {
    const base = join(CACHE_DIR, c.f.slice(0, -'.jsonl'.length));
    try {
      const { header, chunks, vectors } = readCorpusCache(base);
      const ok =
        header.version === CORPUS_VERSION &&
        header.modelHash === model.hash &&
        header.dim === model.dim &&
        header.n === c.n &&
        chunks.length === header.n &&
        vectors.length === header.n * header.dim &&
        inputsHash(inputsOf(header.files, chunks)) === header.inputsHash;
      if (!ok) {
        log(`ignoring inconsistent corpus cache ${base}`);
        continue;
      }
      log(`corpus for ${n} chunks: from cache ${base}.{jsonl,f32} (${header.n} chunks from ${header.sources.join(', ')})`);
      return prefixCorpus({ files: header.files, chunks, vectors, dim: header.dim }, n);
    } catch (e) {
      log(`ignoring unreadable corpus cache ${base}: ${(e as Error).message}`);
    }
  }
  return null;
}

export async function buildCorpus(n: number, model: BenchModel): Promise<Corpus> {
  const cached = readCachedCorpus(n, model);
  if (cached) return cached;
  const t0 = performance.now();
  const { files, chunks, sources } = await collectChunks(n);
  const tChunk = performance.now() - t0;
  log(`chunked ${chunks.length} chunks from ${files.length} files in ${secs(tChunk)} s; embedding...`);
  const inputs = inputsOf(files, chunks);
  const vectors = new Float32Array(n * model.dim);
  const embedder = await openEmbedder({ model: model.dir });
  const t1 = performance.now();
  try {
    if (embedder.dimension !== model.dim) throw new Error(`the benchmark model has dimension ${embedder.dimension}, expected ${model.dim}`);
    let lastLog = t1;
    for (let i = 0; i < n; i += EMBED_BATCH) {
      const out = await embedder.embed(inputs.slice(i, i + EMBED_BATCH));
      out.forEach((v, j) => vectors.set(v, (i + j) * model.dim));
      if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        log(`  embedded ${Math.min(n, i + EMBED_BATCH)}/${n} (${Math.round((i + EMBED_BATCH) / ((lastLog - t1) / 1000))}/s)`);
      }
    }
  } finally {
    await embedder.close();
  }
  log(`embedded ${n} chunks in ${secs(performance.now() - t1)} s`);
  mkdirSync(CACHE_DIR, { recursive: true });
  const base = cacheName(n, model.hash);
  const header: CorpusHeader = { version: CORPUS_VERSION, n, modelHash: model.hash, dim: model.dim, inputsHash: inputsHash(inputs), sources, files };
  writeCorpusCache(base, header, chunks, vectors);
  log(`cached the corpus in ${base}.{jsonl,f32}`);
  return { files, chunks, vectors, dim: model.dim };
}

/** The first n chunks of a corpus (the corpus order is the walk order, so this is the corpus of size n). */
export function prefixCorpus(c: Corpus, n: number): Corpus {
  if (n === c.chunks.length) return c;
  if (n > c.chunks.length) throw new Error(`corpus has ${c.chunks.length} chunks, asked for ${n}`);
  const chunks = c.chunks.slice(0, n);
  return { files: c.files.slice(0, chunks[n - 1]!.f + 1), chunks, vectors: c.vectors.subarray(0, n * c.dim), dim: c.dim };
}

export function vectorOf(c: Corpus, i: number): Float32Array {
  return c.vectors.subarray(i * c.dim, (i + 1) * c.dim);
}

// ---------------------------------------------------------------------------------------------------------
// Backends

export interface OpenBackend {
  engine: Engine;
  close(): Promise<void>;
}

export async function openBackend(name: BackendName, model: BenchModel): Promise<OpenBackend> {
  if (name === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'semcode-bench-pglite-'));
    const removeDir = onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    let engine: Engine;
    try {
      engine = await Engine.open({ db: { dir }, model: model.dir });
    } catch (e) {
      await removeDir();
      throw e;
    }
    const close = onCleanup(async () => {
      try {
        await engine.close();
      } finally {
        await removeDir();
      }
    });
    return { engine, close };
  }
  const tdb = await createTestDatabase('semcode_bench');
  const drop = onCleanup(() => tdb.drop());
  let engine: Engine;
  try {
    engine = await Engine.open({ db: { url: tdb.url, pool: { statementTimeoutMs: 0 } }, model: model.dir });
  } catch (e) {
    await drop();
    throw e;
  }
  const close = onCleanup(async () => {
    try {
      await engine.close();
    } finally {
      await drop();
    }
  });
  return { engine, close };
}

// ---------------------------------------------------------------------------------------------------------
// Load

export interface LoadResult {
  codebase: Codebase;
  insertMs: number;
  termStatsMs: number;
  hnswMs: number;
}

/** FileWrite batches of whole files, about LOAD_BATCH_CHUNKS chunks each, built as the indexer builds them. */
function* fileBatches(corpus: Corpus): Generator<FileWrite[]> {
  let batch: FileWrite[] = [];
  let batchChunks = 0;
  let current = null as FileWrite | null;
  for (let i = 0; i < corpus.chunks.length; i++) {
    const c = corpus.chunks[i]!;
    const f = corpus.files[c.f]!;
    if (current?.path !== f.path) {
      // A file is never split across batches: flush only between files.
      if (batchChunks >= LOAD_BATCH_CHUNKS) {
        yield batch;
        batch = [];
        batchChunks = 0;
      }
      current = { path: f.path, contentHash: f.contentHash, size: f.size, language: f.language, chunks: [] };
      batch.push(current);
    }
    current.chunks.push(storedChunk({ ...c, path: f.path }, vectorLiteral(vectorOf(corpus, i))));
    batchChunks++;
  }
  if (batch.length) yield batch;
}

export async function load(engine: Engine, root: string, corpus: Corpus, model: BenchModel, name = root): Promise<LoadResult> {
  const store = engine.store;
  let cb = await store.ensureCodebase(root, name);
  await store.setModel(cb.id, model.id, model.hash, model.dim);
  cb = (await store.codebase(root))!;
  let insertMs = 0;
  for (const batch of fileBatches(corpus)) {
    const t = performance.now();
    await store.replaceFiles(cb.id, batch);
    insertMs += performance.now() - t;
  }
  let t = performance.now();
  await store.refreshTermStats(cb.id);
  const termStatsMs = performance.now() - t;
  cb = (await store.codebase(root))!;
  t = performance.now();
  const built = await store.ensureHnsw(cb, model.dim);
  const hnswMs = performance.now() - t;
  if (!built) throw new Error('ensureHnsw did not build an index on a fresh database');
  const counts = await store.counts(cb.id);
  if (counts.chunks !== corpus.chunks.length) throw new Error(`loaded ${counts.chunks} chunks, expected ${corpus.chunks.length}`);
  return { codebase: (await store.codebase(root))!, insertMs, termStatsMs, hnswMs };
}

// ---------------------------------------------------------------------------------------------------------
// Latency

interface LatencyResult {
  modes: Record<SearchMode, Dist>;
  emptyResults: Record<SearchMode, number>;
  /** where the time goes: query embedding alone, and the SQL of each mode with a precomputed query vector */
  breakdown: { embed: Dist; sql: Record<SearchMode, Dist> };
}

async function measureLatency(engine: Engine, root: string, codebase: Codebase, queries: string[], args: Args): Promise<LatencyResult> {
  const modes = [...SEARCH_MODES];
  const byMode = <T>(f: (m: SearchMode) => T) => Object.fromEntries(modes.map((m) => [m, f(m)])) as Record<SearchMode, T>;
  // Warm-up: loads the model, fills caches, settles the planner.
  for (let i = 0; i < args.warmup; i++) {
    for (const mode of modes) await engine.search([root], queries[i % queries.length]!, { mode, k: K });
  }
  // For the breakdown: each mode's SQL alone (Searcher with vectors embedded beforehand), and the embedding alone.
  const embedder = engine.activeEmbedder;
  if (!embedder) throw new Error('no embedder loaded after vector searches');
  const vecs = new Map<string, Float32Array>();
  for (const q of queries) vecs.set(q, (await embedder.embed([q]))[0]!);
  const searcher = new Searcher(engine.db, (q) => Promise.resolve(vecs.get(q)!));

  const samples = byMode(() => [] as number[]);
  const sql = byMode(() => [] as number[]);
  const embedSamples: number[] = [];
  const empty = byMode(() => 0);
  // Everything interleaved per query, so that noise from the rest of the machine (and cache warmth) falls on
  // the end-to-end figures and their breakdown alike.
  for (let i = 0; i < args.queries; i++) {
    const q = queries[i % queries.length]!;
    for (const mode of modes) {
      const t = performance.now();
      const hits = await engine.search([root], q, { mode, k: K });
      samples[mode].push(performance.now() - t);
      if (!hits.length) empty[mode]++;
    }
    for (const mode of modes) {
      const t = performance.now();
      await searcher.search([codebase], q, { mode, k: K });
      sql[mode].push(performance.now() - t);
    }
    const t = performance.now();
    await embedder.embed([q]);
    embedSamples.push(performance.now() - t);
  }
  return {
    modes: byMode((m) => dist(samples[m])),
    emptyResults: empty,
    breakdown: { embed: dist(embedSamples), sql: byMode((m) => dist(sql[m])) },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Recall

interface RecallResult {
  /** tie-aware: a returned row counts if it is as close as the exact 10th neighbour */
  recall: number;
  /** plain id overlap with the exact top-10 */
  idRecall: number;
  queries: number;
  annMs: Dist;
  exactMs: Dist;
  shortResults: number;
  /** false when the planner did not use the HNSW index for the normal query (then recall is trivially 1) */
  annUsesIndex: boolean;
}

export function knnSql(cb: Codebase): string {
  const dim = Math.trunc(cb.dimension!);
  const id = Math.trunc(cb.id);
  // The form Searcher.vectorSearch uses: literal codebase id and dimension, so the partial HNSW index matches.
  return `SELECT c.id::text AS id, (c.embedding::vector(${dim}) <=> $1::vector(${dim}))::float8 AS d
            FROM chunks c
           WHERE ${hnswScope(id, dim)}
           ORDER BY c.embedding::vector(${dim}) <=> $1::vector(${dim})
           LIMIT ${K}`;
}

async function explain(db: Db, sql: string, param: string, exact: boolean): Promise<string> {
  const run = async (q: Db | Parameters<Parameters<Db['transaction']>[0]>[0]) => {
    const r = await q.query<Record<string, string>>(`EXPLAIN ${sql}`, [param]);
    return r.rows.map((row) => Object.values(row)[0]).join('\n');
  };
  if (!exact) return run(db);
  return db.transaction(async (tx) => {
    await tx.query('SET LOCAL enable_indexscan = off');
    return run(tx);
  });
}

async function measureRecall(engine: Engine, codebase: Codebase, corpus: Corpus, queryVectors: Float32Array[], args: Args): Promise<RecallResult> {
  const db = engine.db;
  const sql = knnSql(codebase);
  const indexName = hnswIndexName(codebase.id);
  // Extra query vectors: randomly chosen indexed chunks (seeded).
  const vectors = queryVectors.slice(0, args.recall);
  const rand = rng(args.seed);
  while (vectors.length < args.recall) vectors.push(vectorOf(corpus, Math.floor(rand() * corpus.chunks.length)));
  const literals = vectors.map((v) => vectorLiteral(v));

  const annPlan = await explain(db, sql, literals[0]!, false);
  const exactPlan = await explain(db, sql, literals[0]!, true);
  // The planner may rightly prefer a plain scan on a small table; then the "normal" figures are exact search.
  const annUsesIndex = annPlan.includes(indexName);
  if (!annUsesIndex) log(`  WARNING: the normal query does not use ${indexName} at this size (the planner chose an exact scan)`);
  if (exactPlan.includes(indexName) || /hnsw/i.test(exactPlan)) throw new Error(`the exact query still uses the HNSW index:\n${exactPlan}`);
  const oneLine = (plan: string) =>
    plan
      .split('\n')
      .map((l) => l.trim())
      .join(' | ')
      .replace(/'\[[^\]]*\]'/g, "'[...]'");
  log(`  EXPLAIN normal: ${oneLine(annPlan)}`);
  log(`  EXPLAIN exact:  ${oneLine(exactPlan)}`);

  let hits = 0;
  let idHits = 0;
  let short = 0;
  const annMs: number[] = [];
  const exactMs: number[] = [];
  for (const lit of literals) {
    let t = performance.now();
    const ann = (await db.query<{ id: string; d: number }>(sql, [lit])).rows;
    annMs.push(performance.now() - t);
    t = performance.now();
    const exact = await db.transaction(async (tx) => {
      await tx.query('SET LOCAL enable_indexscan = off');
      return (await tx.query<{ id: string; d: number }>(sql, [lit])).rows;
    });
    exactMs.push(performance.now() - t);
    if (ann.length < K) short++;
    const kth = Number(exact[exact.length - 1]?.d ?? Infinity);
    const exactIds = new Set(exact.map((r) => r.id));
    let h = 0;
    for (const r of ann) {
      if (exactIds.has(r.id)) idHits++;
      if (Number(r.d) <= kth + 1e-6) h++;
    }
    hits += Math.min(h, K);
  }
  return {
    recall: hits / (K * literals.length),
    idRecall: idHits / (K * literals.length),
    queries: literals.length,
    annMs: dist(annMs),
    exactMs: dist(exactMs),
    shortResults: short,
    annUsesIndex,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Main

interface Row {
  size: number;
  backend: BackendName;
  /** the database's settings that matter here, as the store's sessions see them */
  settings: string;
  load: LoadResult;
  latency: LatencyResult;
  recall: RecallResult;
}

export async function dbSettings(db: Db): Promise<string> {
  const r = await db.query<Record<string, string>>(
    `SELECT current_setting('server_version') AS version,
            (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgvector,
            current_setting('hnsw.ef_search') AS ef_search, current_setting('hnsw.iterative_scan') AS iterative_scan,
            current_setting('maintenance_work_mem') AS maintenance_work_mem,
            current_setting('max_parallel_maintenance_workers') AS parallel_maintenance_workers,
            current_setting('shared_buffers') AS shared_buffers, current_setting('work_mem') AS work_mem`,
  );
  return Object.entries(r.rows[0] ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/** The code under test: commit and whether server/ has uncommitted changes (read-only git). */
export function codeVersion(): string {
  try {
    const head = execFileSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', REPO, 'status', '--porcelain', '--', 'server'], { encoding: 'utf8' }).trim();
    return dirty ? `${head} + uncommitted changes in server/` : head;
  } catch {
    return 'unknown';
  }
}

export function readQueries(): string[] {
  const file = join(__dirname, 'queries.txt');
  const qs = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  if (!qs.length) throw new Error(`no queries in ${file}`);
  return qs;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function lpad(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}

function printTable(rows: Row[], machine: { nproc: string; loadStart: string; loadEnd: string; code: string }, args: Args): void {
  const mark = (ok: boolean) => (ok ? ' ' : '!');
  const lat = (d: Dist) => `${ms(d.p50)}${mark(d.p50 <= GOALS.p50)}/${ms(d.p95)}${mark(d.p95 <= GOALS.p95)}`;
  const head = ['size', 'backend', 'load s', 'hnsw s', 'hybrid p50/p95 ms', 'vector p50/p95 ms', 'text p50/p95 ms', 'recall@10'];
  const widths = [8, 9, 8, 8, 19, 19, 19, 10];
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? pad(c, widths[i]!) : lpad(c, widths[i]!))).join('  ');
  const out: string[] = [];
  out.push('');
  out.push(
    `== Semcode search benchmark: model tinyBERT dim ${MODEL.dim} layers ${MODEL.layers} seed ${MODEL.seed}; k=${K}; ${args.queries} timed runs per mode after ${args.warmup} warm-up; ${rows[0]?.recall.queries ?? 0} recall queries`,
  );
  out.push(
    `   goals: p50 <= ${GOALS.p50} ms, p95 <= ${GOALS.p95} ms, recall@10 >= ${GOALS.recall}   ('!' marks a missed goal; 'no-idx': the planner did not use HNSW)`,
  );
  out.push(`   machine: nproc ${machine.nproc}; load average (1/5/15 min) at start ${machine.loadStart}, at end ${machine.loadEnd}`);
  out.push(`   code: ${machine.code}`);
  out.push('');
  out.push(line(head));
  out.push(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) {
    out.push(
      line([
        String(r.size),
        r.backend,
        secs(r.load.insertMs + r.load.termStatsMs),
        secs(r.load.hnswMs),
        lat(r.latency.modes.hybrid),
        lat(r.latency.modes.vector),
        lat(r.latency.modes.text),
        `${r.recall.annUsesIndex ? '' : 'no-idx '}${r.recall.recall.toFixed(3)}${mark(r.recall.recall >= GOALS.recall)}`,
      ]),
    );
  }
  out.push('');
  out.push('Details (ms unless noted):');
  for (const r of rows) {
    const b = r.latency.breakdown;
    out.push(`  ${r.size} ${r.backend}: ${r.settings}`);
    out.push(`    load = insert ${secs(r.load.insertMs)} s + term stats/ANALYZE ${secs(r.load.termStatsMs)} s; ` + `first HNSW build ${secs(r.load.hnswMs)} s`);
    out.push(
      `    query embedding p50/p95 ${ms(b.embed.p50)}/${ms(b.embed.p95)}; SQL only (Searcher, vector precomputed) p50/p95: ` +
        SEARCH_MODES.map((m) => `${m} ${ms(b.sql[m].p50)}/${ms(b.sql[m].p95)}`).join(', '),
    );
    out.push(
      `    Engine.search max: ` +
        SEARCH_MODES.map((m) => `${m} ${ms(r.latency.modes[m].max)}`).join(', ') +
        `; empty results: ` +
        SEARCH_MODES.map((m) => `${m} ${r.latency.emptyResults[m]}`).join(', '),
    );
    out.push(
      `    recall@10 ${r.recall.recall.toFixed(4)} (tie-aware; plain id overlap ${r.recall.idRecall.toFixed(4)}) over ${r.recall.queries} queries; ` +
        `${r.recall.annUsesIndex ? 'ANN' : 'normal query (NOT using the HNSW index)'} p50 ${ms(r.recall.annMs.p50)}, exact p50 ${ms(r.recall.exactMs.p50)}; results shorter than ${K}: ${r.recall.shortResults}`,
    );
  }
  console.log(out.join('\n'));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const machine = { nproc: nproc(), loadStart: loadAvg(), loadEnd: '', code: codeVersion() };
  log(`nproc ${machine.nproc}, load average ${machine.loadStart}; sizes ${args.sizes.join(',')}, backends ${args.backends.join(',')}`);
  const queries = readQueries();
  const model = await benchModel();
  log(`model ${model.id} (hash ${model.hash.slice(0, 12)})`);
  mkdirSync(CACHE_DIR, { recursive: true });
  // Any existing directory works as the codebase root: search only realpath()s it and looks it up.
  const root = realpathSync(CACHE_DIR);

  // Query vectors for recall: the queries themselves, embedded once.
  let queryVectors: Float32Array[];
  {
    const e: Embedder = await openEmbedder({ model: model.dir });
    try {
      queryVectors = await e.embed(queries);
    } finally {
      await e.close();
    }
  }

  // Chunked and embedded once, for the largest size: smaller sizes are its first N chunks.
  const full = await buildCorpus(Math.max(...args.sizes), model);
  if (args.prepareOnly) {
    log('corpus ready (--prepare-only)');
    return;
  }
  const rows: Row[] = [];
  for (const size of args.sizes) {
    const corpus = prefixCorpus(full, size);
    const langs = new Map<string, number>();
    for (const c of corpus.chunks) langs.set(c.language, (langs.get(c.language) ?? 0) + 1);
    log(
      `size ${size}: ${corpus.chunks.length} chunks from ${corpus.files.length} files (` +
        [...langs]
          .sort((a, b) => b[1] - a[1])
          .map(([l, n]) => `${l} ${n}`)
          .join(', ') +
        `), last: ${corpus.files[corpus.files.length - 1]!.path}`,
    );
    for (const backend of args.backends) {
      log(`size ${size} / ${backend}: opening (load average ${loadAvg()})`);
      const b = await openBackend(backend, model);
      try {
        const settings = await dbSettings(b.engine.db);
        log(`  ${settings}`);
        const loaded = await load(b.engine, root, corpus, model);
        log(
          `  loaded in ${secs(loaded.insertMs + loaded.termStatsMs)} s (insert ${secs(loaded.insertMs)} s, term stats ${secs(loaded.termStatsMs)} s); ` +
            `first HNSW build ${secs(loaded.hnswMs)} s`,
        );
        const latency = await measureLatency(b.engine, root, loaded.codebase, queries, args);
        log(
          '  latency p50/p95 ms: ' +
            SEARCH_MODES.map((m) => `${m} ${ms(latency.modes[m].p50)}/${ms(latency.modes[m].p95)}`).join(', ') +
            `; query embedding ${ms(latency.breakdown.embed.p50)}/${ms(latency.breakdown.embed.p95)}`,
        );
        const recall = await measureRecall(b.engine, loaded.codebase, corpus, queryVectors, args);
        log(`  recall@10 ${recall.recall.toFixed(4)} (id overlap ${recall.idRecall.toFixed(4)}) over ${recall.queries} queries`);
        rows.push({ size, backend, settings, load: loaded, latency, recall });
      } finally {
        await b.close();
      }
    }
  }
  machine.loadEnd = loadAvg();
  printTable(rows, machine, args);
}

// Importable (for ad-hoc investigations) without running the benchmark.
if (require.main === module) {
  cleanUpOnSignals();
  main()
    .catch((e: unknown) => {
      console.error(`bench/search: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      process.exitCode = 1;
    })
    // Anything left open by a failure: temp databases and directories go in every case.
    .finally(cleanUpAll);
}
