/**
 * Latency through the language server: semcode/search, workspace/symbol and textDocument/hover as an editor
 * sends them (JSON-RPC over stdio to dist/server.js), at 10k and 100k chunks, idle and while the file watcher
 * keeps the server re-indexing edited files; and what requests see during the server's first HNSW build.
 *
 *   npm run build && node --import tsx bench/lsp.ts [--sizes 10000,100000] [--backends pglite,postgres]
 *                                                   [--queries 200] [--warmup 20] [--seed 1]
 *
 * Per size: the real-code corpus of bench/search.ts (first N chunks of node_modules, then Debian's Python
 * standard library..., embedded with its generated model, cached under ~/.cache/semcode-bench) is written out as
 * a workspace (the corpus files, byte for byte, plus a .semcodeignore re-including node_modules/), and the
 * index is preloaded as the indexer leaves it (files, chunks, embedding cache, BM25 statistics) but without the
 * HNSW index. Then the server starts on it: its start-up run finds every file unchanged and builds the HNSW
 * index, the first build, while a probe sends semcode/search back to back (one in flight at a time).
 * Then, one request in flight at a time, interleaved per iteration:
 *   - search: semcode/search, hybrid, k 10, the natural-language queries of bench/queries.txt
 *   - symbol: workspace/symbol, alternately a 5-letter prefix of a real symbol name and a queries.txt query
 *   - hover:  textDocument/hover on the name of a random symbol at its definition
 *   - baseline: workspace/symbol with an empty query (answered without touching the index): the cost of the
 *     protocol round trip itself, measured in the same loop
 * first idle, then while an editor loop appends a function to 2 random .js/.py files every 250 ms and sends
 * workspace/didChangeWatchedFiles for them (each request is also classed by whether an index run was going on
 * while it was in flight). Goals: p50 <= 20 ms and p95 <= 50 ms idle; p95 <= 150 ms during incremental
 * indexing. Prints figures and ratios (against the baseline, and editing against idle); asserts nothing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { StreamMessageReader, StreamMessageWriter, createMessageConnection, type MessageConnection } from 'vscode-jsonrpc/node';
import { Engine } from '../server/src/engine';
import { modelInput, sha256 } from '../server/src/embed/input';
import { storedChunk } from '../server/src/index/indexer';
import { type IndexedParams, type ServerStatus, indexedNotification, searchRequest, statusNotification } from '../server/src/protocol/lspExt';
import { type FileWrite, vectorLiteral } from '../server/src/store/indexStore';
import { sharedBuffersMb } from '../server/src/store/pglite';
import { mulberry32 } from '../server/src/model/random';
import { createTestDatabase } from '../test/helpers/pg';
import { type BenchModel, type Corpus, type Dist, benchModel, buildCorpus, corpusSources, dbSettings, dist, prefixCorpus, readQueries } from './search';

const REPO = resolve(__dirname, '..');
const SERVER = join(REPO, 'dist', 'server.js');
const GOALS = { idleP50: 20, idleP95: 50, editingP95: 150 };
const EDIT_INTERVAL_MS = 250;
const EDIT_FILES = 2;
const LOAD_BATCH_CHUNKS = 256;

type BackendName = 'pglite' | 'postgres';
type Kind = 'search' | 'symbol' | 'hover' | 'baseline';
const KINDS: Kind[] = ['search', 'symbol', 'hover', 'baseline'];

interface Args {
  sizes: number[];
  backends: BackendName[];
  queries: number;
  warmup: number;
  seed: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { sizes: [10_000, 100_000], backends: ['pglite'], queries: 200, warmup: 20, seed: 1 };
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? '';
    const int = (v: string) => {
      const n = Number(v.replace(/_/g, '').replace(/k$/i, '000'));
      if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: expected a non-negative integer, got ${v}`);
      return n;
    };
    if (name === '--sizes') a.sizes = value().split(',').filter(Boolean).map(int);
    else if (name === '--backends') {
      a.backends = value()
        .split(',')
        .filter(Boolean)
        .map((b) => {
          if (b !== 'pglite' && b !== 'postgres') throw new Error(`--backends: unknown backend ${b}`);
          return b;
        });
    } else if (name === '--queries') a.queries = Math.max(1, int(value()));
    else if (name === '--warmup') a.warmup = int(value());
    else if (name === '--seed') a.seed = int(value());
    else if (name === '-h' || name === '--help') {
      console.log('usage: node --import tsx bench/lsp.ts [--sizes 10000,100000] [--backends pglite,postgres] [--queries 200] [--warmup 20] [--seed 1]');
      process.exit(0);
    } else throw new Error(`unknown argument ${argv[i]}`);
  }
  return a;
}

function log(msg: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const secs = (x: number) => (x / 1000).toFixed(1);

// ---------------------------------------------------------------------------------------------------------
// Workspace and preloaded index

/** Writes the corpus files byte for byte under `root` (checking their hashes) and re-includes node_modules/. */
function writeWorkspace(root: string, corpus: Corpus): void {
  const sources = corpusSources();
  for (const f of corpus.files) {
    const cut = f.path.indexOf('/');
    const src = sources.find((s) => s.prefix === f.path.slice(0, cut));
    if (!src) throw new Error(`no source directory for ${f.path}`);
    const from = join(src.dir, f.path.slice(cut + 1));
    const to = join(root, f.path);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(from, to);
    if (sha256(readFileSync(to)) !== f.contentHash) {
      throw new Error(`${from} changed since the corpus was cached; delete ~/.cache/semcode-bench/corpus-* and rerun`);
    }
  }
  writeFileSync(join(root, '.semcodeignore'), '!node_modules/\n');
}

/**
 * What the indexer leaves after a cold run, except the HNSW index: files, chunks, the embedding cache (so an
 * edited file re-embeds only its new chunks, as in real use) and BM25 statistics.
 */
async function preload(engine: Engine, root: string, corpus: Corpus, model: BenchModel): Promise<void> {
  const store = engine.store;
  let cb = await store.ensureCodebase(root);
  await store.setModel(cb.id, model.id, model.hash, model.dim);
  cb = (await store.codebase(root))!;
  let batch: FileWrite[] = [];
  let cache: { inputHash: string; embedding: string }[] = [];
  let n = 0;
  const flush = async () => {
    await store.replaceFiles(cb.id, batch);
    await store.cacheEmbeddings(cb.id, model.hash, cache);
    batch = [];
    cache = [];
    n = 0;
  };
  let current = null as FileWrite | null;
  for (let i = 0; i < corpus.chunks.length; i++) {
    const c = corpus.chunks[i]!;
    const f = corpus.files[c.f]!;
    if (current?.path !== f.path) {
      if (n >= LOAD_BATCH_CHUNKS) await flush();
      current = { path: f.path, contentHash: f.contentHash, size: f.size, language: f.language, chunks: [] };
      batch.push(current);
    }
    const literal = vectorLiteral(corpus.vectors.subarray(i * corpus.dim, (i + 1) * corpus.dim));
    current.chunks.push(storedChunk({ ...c, path: f.path }, literal));
    cache.push({ inputHash: sha256(modelInput({ path: f.path, content: c.content })), embedding: literal });
    n++;
  }
  if (batch.length) await flush();
  await store.refreshTermStats(cb.id);
}

// ---------------------------------------------------------------------------------------------------------
// The server, as an editor drives it

interface Server {
  child: ChildProcess;
  conn: MessageConnection;
  statuses: { t: number; s: ServerStatus }[];
  indexed: { t: number; p: IndexedParams }[];
  logs: { t: number; m: string }[];
  /** an index run is going on, as the last status said */
  busy(): boolean;
  /** index-run activity (a non-quiescent status) was seen since `t` */
  busySince(t: number): boolean;
  ready(since: number): Promise<void>;
  stop(): Promise<void>;
}

async function startServer(root: string, init: Record<string, unknown>): Promise<Server> {
  const child = spawn(process.execPath, [SERVER, '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  const statuses: Server['statuses'] = [];
  const indexed: Server['indexed'] = [];
  const logs: Server['logs'] = [];
  let readyWaiters: { since: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  conn.onNotification(statusNotification, (s) => {
    const t = performance.now();
    statuses.push({ t, s });
    if (s.health === 'error') for (const w of readyWaiters.splice(0)) w.reject(new Error(`server: ${s.lastError ?? s.message}`));
    if (s.quiescent && s.health === 'ok') {
      const [now, later] = [readyWaiters.filter((w) => w.since <= t), readyWaiters.filter((w) => w.since > t)];
      readyWaiters = later;
      for (const w of now) w.resolve();
    }
  });
  conn.onNotification(indexedNotification, (p) => indexed.push({ t: performance.now(), p }));
  conn.onNotification('window/logMessage', (p: { message: string }) => logs.push({ t: performance.now(), m: p.message }));
  conn.onRequest('client/registerCapability', () => null);
  conn.onRequest('window/workDoneProgress/create', () => null);
  conn.listen();
  await conn.sendRequest('initialize', {
    processId: process.pid,
    rootUri: null,
    capabilities: { workspace: { didChangeWatchedFiles: { dynamicRegistration: true } }, window: { workDoneProgress: true } },
    workspaceFolders: [{ uri: pathToFileURL(root).toString(), name: 'bench' }],
    initializationOptions: init,
  });
  await conn.sendNotification('initialized', {});
  const last = () => statuses[statuses.length - 1]?.s;
  return {
    child,
    conn,
    statuses,
    indexed,
    logs,
    busy: () => !(last()?.quiescent ?? false),
    busySince: (t) => statuses.some((x) => x.t >= t && !x.s.quiescent),
    ready: (since) =>
      new Promise<void>((resolve, reject) => {
        const done = statuses.find((x) => x.t >= since && x.s.quiescent && x.s.health === 'ok');
        if (done) resolve();
        else readyWaiters.push({ since, resolve, reject });
      }),
    async stop() {
      await conn.sendRequest('shutdown').catch(() => {});
      await conn.sendNotification('exit').catch(() => {});
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      conn.dispose();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Request mix

interface HoverTarget {
  uri: string;
  line: number;
  character: number;
}

function requestMix(root: string, corpus: Corpus, queries: string[], seed: number) {
  const rand = mulberry32(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const names: string[] = [];
  const hovers: HoverTarget[] = [];
  for (const c of corpus.chunks) {
    if (!c.symbol) continue;
    const name = c.symbol.slice(c.symbol.lastIndexOf('.') + 1);
    if (!/^[A-Za-z_][\w]*$/.test(name)) continue;
    if (name.length >= 5) names.push(name);
    // The definition line: the first line of the chunk that names the symbol.
    const lines = c.content.split('\n');
    const word = new RegExp(`\\b${name}\\b`);
    const i = lines.findIndex((l) => word.test(l));
    if (i >= 0) {
      const character = word.exec(lines[i]!)!.index + 1;
      hovers.push({ uri: pathToFileURL(join(root, corpus.files[c.f]!.path)).toString(), line: c.startLine - 1 + i, character });
    }
  }
  if (!names.length || !hovers.length) throw new Error('the corpus has no symbols to ask about');
  let n = 0;
  return {
    search: () => ({ method: searchRequest.method, params: { query: pick(queries), k: 10 } }),
    symbol: () => ({ method: 'workspace/symbol', params: { query: n++ % 2 ? pick(queries) : pick(names).slice(0, 5) } }),
    hover: () => {
      const h = pick(hovers);
      return { method: 'textDocument/hover', params: { textDocument: { uri: h.uri }, position: { line: h.line, character: h.character } } };
    },
    baseline: () => ({ method: 'workspace/symbol', params: { query: '' } }),
  } satisfies Record<Kind, () => { method: string; params: unknown }>;
}

interface Sample {
  kind: Kind;
  ms: number;
  /** an index run was going on while the request was in flight */
  duringRun: boolean;
  empty: boolean;
}

async function timed(server: Server, kind: Kind, req: { method: string; params: unknown }): Promise<Sample> {
  const wasBusy = server.busy();
  const t = performance.now();
  const r = await server.conn.sendRequest<unknown>(req.method, req.params);
  const elapsed = performance.now() - t;
  const empty =
    r === null || (Array.isArray(r) && r.length === 0) || (typeof r === 'object' && r !== null && 'items' in r && !(r as { items: unknown[] }).items.length);
  return { kind, ms: elapsed, duringRun: wasBusy || server.busySince(t), empty };
}

// ---------------------------------------------------------------------------------------------------------
// Phases

interface StartupResult {
  /** from `initialized` to the first ok + quiescent status */
  readyMs: number;
  hnswSeconds: number | null;
  termStatsNote: string;
  probes: Dist;
  probeCount: number;
  /** the longest wait of a probe, and whether it overlapped the HNSW build */
  longestMs: number;
  longestOverlapsHnsw: boolean;
  answeredDuringHnsw: number;
  /** how long before the run ended the "building the vector index" status arrived (null: never seen) */
  hnswNoticeMs: number | null;
}

async function startup(server: Server, mix: ReturnType<typeof requestMix>, started: number): Promise<StartupResult> {
  const probes: { t0: number; t1: number }[] = [];
  let done = false;
  const ready = server.ready(started).then(() => (done = true));
  while (!done) {
    const t0 = performance.now();
    await server.conn.sendRequest<unknown>(searchRequest.method, mix.search().params).catch(() => undefined);
    probes.push({ t0, t1: performance.now() });
  }
  await ready;
  const end = server.statuses.find((x) => x.s.quiescent && x.s.health === 'ok' && x.t >= started)!.t;
  const line = server.logs.find((l) => /vector index built in/.test(l.m));
  const hnswSeconds = line ? Number(/built in ([\d.]+) s/.exec(line.m)![1]) : null;
  // The build is the last step of the run: the window ends when the run's result arrives.
  const runEnd = server.indexed.find((x) => x.t >= started)?.t ?? end;
  const hnswFrom = hnswSeconds === null ? Infinity : runEnd - hnswSeconds * 1000;
  const notice = server.statuses.find((x) => x.t >= started && x.s.message === 'building the vector index');
  const waits = probes.map((p) => p.t1 - p.t0);
  const longest = probes.reduce((a, b) => (b.t1 - b.t0 > a.t1 - a.t0 ? b : a), probes[0] ?? { t0: 0, t1: 0 });
  return {
    readyMs: end - started,
    hnswSeconds,
    termStatsNote: server.logs.find((l) => /indexed /.test(l.m))?.m ?? '',
    probes: dist(waits),
    probeCount: probes.length,
    longestMs: longest.t1 - longest.t0,
    longestOverlapsHnsw: longest.t1 > hnswFrom && longest.t0 < runEnd,
    answeredDuringHnsw: probes.filter((p) => p.t1 > hnswFrom && p.t1 < runEnd).length,
    hnswNoticeMs: notice ? runEnd - notice.t : null,
  };
}

async function measure(server: Server, mix: ReturnType<typeof requestMix>, n: number): Promise<Sample[]> {
  const out: Sample[] = [];
  for (let i = 0; i < n; i++) for (const k of KINDS) out.push(await timed(server, k, mix[k]()));
  return out;
}

/** Appends a small function to random .js/.py files and reports them as changed, until stopped. */
function editor(server: Server, root: string, corpus: Corpus, seed: number): { stop(): Promise<{ edits: number }> } {
  const rand = mulberry32(seed + 7);
  const candidates = corpus.files.filter((f) => /\.(js|py)$/.test(f.path) && f.size < 20_000);
  let edits = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const changes = [];
      for (let i = 0; i < EDIT_FILES; i++) {
        const f = candidates[Math.floor(rand() * candidates.length)]!;
        const n = edits++;
        const text = f.path.endsWith('.py')
          ? `\n\ndef semcode_bench_edit_${n}(value):\n    """Bench edit ${n}: doubles the value."""\n    return value * 2\n`
          : `\n\nfunction semcodeBenchEdit${n}(value) {\n  // bench edit ${n}: doubles the value\n  return value * 2;\n}\n`;
        appendFileSync(join(root, f.path), text);
        changes.push({ uri: pathToFileURL(join(root, f.path)).toString(), type: 2 });
      }
      await server.conn.sendNotification('workspace/didChangeWatchedFiles', { changes });
      await new Promise((r) => setTimeout(r, EDIT_INTERVAL_MS));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { edits };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Main

interface Row {
  size: number;
  backend: BackendName;
  settings: string;
  preloadMs: number;
  startup: StartupResult;
  idle: Sample[];
  editing: Sample[];
  edits: number;
  runs: IndexedParams[];
}

function byKind(samples: Sample[], kind: Kind, filter: (s: Sample) => boolean = () => true): Dist {
  return dist(samples.filter((s) => s.kind === kind && filter(s)).map((s) => s.ms));
}

function printReport(rows: Row[], args: Args, machine: { load0: string; load1: string }): void {
  const out: string[] = [];
  const mark = (ok: boolean) => (ok ? ' ' : '!');
  out.push('');
  out.push(`== Semcode LSP latency: dist/server.js over stdio, one request in flight; ${args.queries} timed iterations per phase after ${args.warmup} warm-up`);
  out.push(
    `   goals: idle p50 <= ${GOALS.idleP50} ms, p95 <= ${GOALS.idleP95} ms; during incremental indexing p95 <= ${GOALS.editingP95} ms ('!' marks a miss)`,
  );
  out.push(`   machine: ${machine.load0} load average at start, ${machine.load1} at end (1/5/15 min)`);
  for (const r of rows) {
    out.push('');
    out.push(`-- ${r.size} chunks, ${r.backend}: ${r.settings}`);
    out.push(`   preload (files, chunks, embedding cache, BM25 stats; no HNSW) ${secs(r.preloadMs)} s`);
    const s = r.startup;
    out.push(
      `   start-up run (walk, hash, first HNSW build${s.hnswSeconds === null ? ' [not built]' : ` ${s.hnswSeconds.toFixed(1)} s`}): ready after ${secs(s.readyMs)} s; ` +
        `${s.probeCount} searches sent back to back meanwhile: p50 ${ms(s.probes.p50)}, p95 ${ms(s.probes.p95)}, longest wait ${ms(s.longestMs)} ms` +
        `${s.longestOverlapsHnsw ? ' (during the HNSW build)' : ''}; ${s.answeredDuringHnsw} answered during the build; ` +
        `the "building the vector index" status arrived ${s.hnswNoticeMs === null ? 'never' : `${secs(s.hnswNoticeMs)} s before the run ended`}`,
    );
    const idleBase = byKind(r.idle, 'baseline');
    out.push(
      `   ${'request'.padEnd(9)} ${'idle p50/p95/max ms'.padStart(24)} ${'x baseline p50'.padStart(15)} ${'editing p50/p95/max ms'.padStart(26)} ${'in a run p95 (n)'.padStart(18)} ${'editing/idle p95'.padStart(17)}`,
    );
    for (const k of KINDS) {
      const idle = byKind(r.idle, k);
      const ed = byKind(r.editing, k);
      const inRun = byKind(r.editing, k, (x) => x.duringRun);
      const goalIdle = k === 'baseline' || (idle.p50 <= GOALS.idleP50 && idle.p95 <= GOALS.idleP95);
      const goalEd = k === 'baseline' || ed.p95 <= GOALS.editingP95;
      out.push(
        `   ${k.padEnd(9)} ${`${ms(idle.p50)}/${ms(idle.p95)}/${ms(idle.max)}${mark(goalIdle)}`.padStart(24)} ${(idle.p50 / idleBase.p50).toFixed(1).padStart(15)} ` +
          `${`${ms(ed.p50)}/${ms(ed.p95)}/${ms(ed.max)}${mark(goalEd)}`.padStart(26)} ${`${ms(inRun.p95)} (${inRun.n})`.padStart(18)} ${(ed.p95 / idle.p95).toFixed(2).padStart(17)}`,
      );
    }
    const empty = KINDS.filter((k) => k !== 'baseline').map((k) => `${k} ${r.idle.filter((x) => x.kind === k && x.empty).length}`);
    out.push(`   empty answers (idle): ${empty.join(', ')}`);
    const secsRuns = dist(r.runs.map((p) => p.seconds * 1000));
    const files = r.runs.reduce((a, p) => a + p.changedCount, 0);
    const embedded = r.runs.reduce((a, p) => a + p.embedded, 0);
    out.push(
      `   editing: ${r.edits} edits, ${r.runs.length} watcher runs re-indexed ${files} files (${embedded} chunks embedded); ` +
        `run time p50 ${ms(secsRuns.p50)} ms, p95 ${ms(secsRuns.p95)} ms; ${r.editing.filter((x) => x.duringRun).length}/${r.editing.length} requests overlapped a run`,
    );
  }
  console.log(out.join('\n'));
}

async function runOne(size: number, backend: BackendName, corpus: Corpus, model: BenchModel, queries: string[], args: Args): Promise<Row> {
  const work = mkdtempSync(join(tmpdir(), 'semcode-bench-lsp-'));
  mkdirSync(join(work, 'ws'));
  const root = realpathSync(join(work, 'ws'));
  let dropDb: (() => Promise<void>) | null = null;
  let server: Server | null = null;
  try {
    const mix = requestMix(root, corpus, queries, args.seed);
    log(`size ${size} / ${backend}: writing ${corpus.files.length} files to ${root}`);
    writeWorkspace(root, corpus);
    let init: Record<string, unknown>;
    let engine: Engine;
    if (backend === 'pglite') {
      const dir = join(work, 'db');
      init = { model: model.dir, databaseDir: dir };
      engine = await Engine.open({ db: { dir }, model: model.dir });
    } else {
      const db = await createTestDatabase('semcode_bench_lsp');
      dropDb = () => db.drop();
      init = { model: model.dir, databaseUrl: db.url };
      engine = await Engine.open({ db: { url: db.url, pool: { statementTimeoutMs: 0 } }, model: model.dir });
    }
    let settings: string;
    const t0 = performance.now();
    try {
      settings = await dbSettings(engine.db);
      await preload(engine, root, corpus, model);
    } finally {
      await engine.close();
    }
    const preloadMs = performance.now() - t0;
    log(`  preloaded in ${secs(preloadMs)} s; starting the server`);
    // The settings above are the preloading connection's; the server sizes PGlite's buffer cache when it opens.
    if (backend === 'pglite')
      settings = settings.replace(/shared_buffers=\S+/, `shared_buffers=${sharedBuffersMb(join(work, 'db', 'pgdata', 'base'))}MB (server)`);

    const started = performance.now();
    server = await startServer(root, init);
    const start = await startup(server, mix, started);
    log(`  ready after ${secs(start.readyMs)} s (HNSW ${start.hnswSeconds ?? '-'} s); longest search wait meanwhile ${ms(start.longestMs)} ms`);

    await measure(server, mix, args.warmup);
    const idle = await measure(server, mix, args.queries);
    log(`  idle: search p50/p95 ${ms(byKind(idle, 'search').p50)}/${ms(byKind(idle, 'search').p95)} ms`);

    const runsBefore = server.indexed.length;
    const ed = editor(server, root, corpus, args.seed);
    // Measure from the first watcher run on.
    while (!server.busySince(performance.now() - 50) && server.indexed.length === runsBefore) await new Promise((r) => setTimeout(r, 20));
    const editing = await measure(server, mix, args.queries);
    const { edits } = await ed.stop();
    await server.ready(performance.now());
    const runs = server.indexed.slice(runsBefore).map((x) => x.p);
    log(`  editing: search p50/p95 ${ms(byKind(editing, 'search').p50)}/${ms(byKind(editing, 'search').p95)} ms over ${runs.length} watcher runs`);
    return { size, backend, settings, preloadMs, startup: start, idle, editing, edits, runs };
  } finally {
    await server?.stop().catch(() => {});
    await dropDb?.().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(SERVER)) throw new Error(`${SERVER} is missing: run npm run build first`);
  log(`server bundle ${SERVER} built ${statSync(SERVER).mtime.toISOString()}`);
  const load0 = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  const model = await benchModel();
  const full = await buildCorpus(Math.max(...args.sizes), model);
  const queries = readQueries();
  const rows: Row[] = [];
  for (const size of args.sizes) {
    const corpus = prefixCorpus(full, size);
    for (const backend of args.backends) rows.push(await runOne(size, backend, corpus, model, queries, args));
  }
  printReport(rows, args, {
    load0,
    load1: loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
  });
}

main().catch((e: unknown) => {
  console.error(`bench/lsp: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
