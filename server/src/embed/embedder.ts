/**
 * Main-thread facade over the embedding engine. By default the model runs in a worker thread, so tokenizing
 * and inference never block the language server's request loop; `inWorker: false` runs it in-process (CLI
 * tools that have nothing else to do, and debugging).
 */
import { existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SemcodeError, errorMessage } from '../errors';
import {
  BACKENDS,
  loadEngine,
  type Backend,
  type BackendStatus,
  type EmbedderInfo,
  type Engine,
  type FromWorker,
  type ToWorker,
  type WireError,
} from './embedWorker';
import { resolveModel } from './modelResolve';

export type { Backend, BackendStatus, EmbedBackend, EmbedderInfo } from './embedWorker';

export interface Embedder extends EmbedderInfo {
  /** L2-normalised mean-pooled vectors, one per text, in input order. Throws SemcodeError on failure. */
  embed(texts: string[]): Promise<Float32Array[]>;
  /** calls = model invocations (batches) made by embed(); texts = texts embedded. The load probe is not counted. */
  readonly stats: { calls: number; texts: number };
  close(): Promise<void>;
}

export interface EmbedderOptions {
  /** --model: a folder, or a hub id (org/name) */
  model?: string;
  /** the editor setting, used when `model` is not given */
  setting?: string;
  /** where `model` came from, for messages: the user's --model (default) or the model an index recorded */
  modelSource?: 'flag' | 'index';
  /**
   * Default: cpu (onnxruntime-node), falling back to wasm only when the native binary cannot load. A
   * Semcode static model runs as static-js (a JS table lookup, same vectors, no ONNX runtime) unless
   * wasm is asked for or `staticTable` is false.
   */
  backend?: Backend;
  /** false: run a static model's ONNX graph through transformers.js like any other model (reference, bench). */
  staticTable?: boolean;
  batchSize?: number;
  inWorker?: boolean;
}

const DEFAULT_BATCH = 32;

function fromWire(e: WireError): SemcodeError {
  return new SemcodeError(e.code, e.message);
}

/**
 * Bundled, esbuild emits dist/embedWorker.js beside the bundle that contains this code. From source (this
 * file is .ts, run by tsx) the worker must load tsx itself: `--import tsx` in a worker's execArgv does not
 * reach the worker's own entry on Node 20, so a one-line CommonJS bootstrap registers tsx's require hook.
 */
function spawnWorker(): Worker {
  const isTs = extname(__filename) === '.ts';
  const file = join(__dirname, isTs ? 'embedWorker.ts' : 'embedWorker.js');
  if (!existsSync(file)) {
    throw new SemcodeError('inference_failed', `embedding worker script not found: ${file} (the package is incomplete)`);
  }
  const tsxHook = ['tsx', 'cjs'].join('/'); // only needed from source; kept out of the bundle's view
  const entry = isTs ? `require(${JSON.stringify(require.resolve(tsxHook))}); require(${JSON.stringify(file)});` : file;
  // stdout is captured and sent to stderr: a language server talks over stdout, and a stray log line from a
  // library in the worker would corrupt the protocol.
  const w = new Worker(entry, { eval: isTs, workerData: { semcodeEmbedWorker: true }, execArgv: [], stdout: true, stderr: true });
  w.stdout.on('data', (d: Buffer) => process.stderr.write(d));
  w.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  return w;
}

class WorkerEmbedder {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (m: FromWorker) => void; reject: (e: SemcodeError) => void }>();
  private dead: SemcodeError | undefined;
  private onInit: ((m: FromWorker) => void) | undefined;
  private onInitFail: ((e: SemcodeError) => void) | undefined;

  constructor(private readonly worker: Worker) {
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (e) => this.fail(new SemcodeError('inference_failed', `embedding worker crashed: ${errorMessage(e)}`, { cause: e })));
    worker.on('messageerror', (e) => this.fail(new SemcodeError('inference_failed', `embedding worker sent an unreadable message: ${errorMessage(e)}`)));
    worker.on('exit', (code) => this.fail(new SemcodeError('inference_failed', `embedding worker exited (code ${code})`)));
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'result' || m.type === 'error') {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      this.refresh();
      if (m.type === 'error') p.reject(fromWire(m.error));
      else p.resolve(m);
    } else if (this.onInit) {
      this.onInit(m);
    }
  }

  /** Never silent: every waiting caller and every later call gets the reason. */
  private fail(e: SemcodeError): void {
    if (!this.dead) this.dead = e;
    for (const p of this.pending.values()) p.reject(this.dead);
    this.pending.clear();
    this.onInitFail?.(this.dead);
  }

  /** Keep the process alive only while work is outstanding, so a forgotten close() cannot hang a CLI. */
  private refresh(): void {
    if (this.pending.size || this.onInit) this.worker.ref();
    else this.worker.unref();
  }

  /** One request/response exchange outside the id-keyed embed flow (init, probe, close). */
  request<T extends FromWorker['type']>(msg: ToWorker, expect: T[]): Promise<Extract<FromWorker, { type: T }>> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.onInit = (m) => {
        if (!expect.includes(m.type as T)) return;
        this.onInit = this.onInitFail = undefined;
        this.refresh();
        resolve(m as Extract<FromWorker, { type: T }>);
      };
      this.onInitFail = (e) => {
        this.onInit = this.onInitFail = undefined;
        reject(e);
      };
      this.refresh();
      this.worker.postMessage(msg);
    });
  }

  embed(texts: string[], batchSize: number): Promise<{ vectors: Float32Array[]; batches: number }> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        resolve: (m) => {
          const r = m as Extract<FromWorker, { type: 'result' }>;
          resolve({ vectors: r.vectors, batches: r.batches });
        },
        reject,
      });
      this.refresh();
      this.worker.postMessage({ type: 'embed', id, texts, batchSize } satisfies ToWorker);
    });
  }

  async close(): Promise<void> {
    if (!this.dead) {
      // The worker must release its session and go idle before terminate(): terminating a worker inside an
      // onnxruntime-node run aborts the whole process. The timeout only covers a worker that is wedged.
      await Promise.race([this.request({ type: 'close' }, ['closed']).catch(() => undefined), new Promise((r) => setTimeout(r, 60_000).unref())]);
    }
    this.fail(new SemcodeError('inference_failed', 'the embedder is closed'));
    await this.worker.terminate();
  }
}

function checkTexts(texts: unknown): asserts texts is string[] {
  if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) {
    throw new SemcodeError('usage', 'embed() takes an array of strings');
  }
}

export async function openEmbedder(opts: EmbedderOptions = {}): Promise<Embedder> {
  const model = resolveModel(opts.model, opts.setting, { explicitSource: opts.modelSource });
  const batchSize = opts.batchSize ?? DEFAULT_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new SemcodeError('usage', `batch size must be a positive integer, got ${batchSize}`);
  if (opts.backend !== undefined && !BACKENDS.includes(opts.backend)) {
    throw new SemcodeError('usage', `unknown backend '${String(opts.backend)}' (expected ${BACKENDS.join(' or ')})`);
  }
  const init = { model, backend: opts.backend ?? ('auto' as const), staticTable: opts.staticTable ?? true };

  let run: (texts: string[]) => Promise<{ vectors: Float32Array[]; batches: number }>;
  let shutdown: () => Promise<void>;
  let info: EmbedderInfo;
  let worker: Worker | undefined;
  if (opts.inWorker === false) {
    const engine: Engine = await loadEngine(init);
    info = engine.info;
    run = (texts) => engine.embed(texts, batchSize);
    shutdown = () => engine.dispose();
  } else {
    const w = new WorkerEmbedder((worker = spawnWorker()));
    try {
      const ready = await w.request({ type: 'init', init }, ['ready', 'initError']);
      if (ready.type === 'initError') throw fromWire(ready.error);
      info = ready.info;
    } catch (e) {
      await w.close().catch(() => undefined);
      throw e;
    }
    run = (texts) => w.embed(texts, batchSize);
    shutdown = () => w.close();
  }

  const stats = { calls: 0, texts: 0 };
  let closed = false;
  // Serialised so stats and the single worker see one request at a time, in order.
  let chain: Promise<unknown> = Promise.resolve();
  const embedder: Embedder = {
    ...info,
    stats,
    embed(texts: string[]): Promise<Float32Array[]> {
      try {
        checkTexts(texts);
      } catch (e) {
        return Promise.reject(e);
      }
      if (closed) return Promise.reject(new SemcodeError('inference_failed', 'the embedder is closed'));
      if (!texts.length) return Promise.resolve([]);
      const p = chain.then(async () => {
        const { vectors, batches } = await run(texts);
        stats.calls += batches;
        stats.texts += texts.length;
        if (vectors.length !== texts.length) {
          throw new SemcodeError('model_output', `embedder returned ${vectors.length} vectors for ${texts.length} texts`);
        }
        return vectors;
      });
      chain = p.catch(() => undefined);
      return p;
    },
    async close() {
      if (closed) return;
      closed = true;
      await chain;
      await shutdown();
    },
  };
  if (worker) workers.set(embedder, worker);
  return embedder;
}

const workers = new WeakMap<Embedder, Worker>();

/** The worker thread behind an embedder (undefined in-process): for diagnostics and crash tests. */
export function workerOf(e: Embedder): Worker | undefined {
  return workers.get(e);
}

let backendReport: Promise<Record<Backend, BackendStatus>> | undefined;

/** Per backend, whether it can run here and why not; probed once per process, in a throwaway worker. */
export function probeBackendsDetailed(): Promise<Record<Backend, BackendStatus>> {
  backendReport ??= (async () => {
    const w = new WorkerEmbedder(spawnWorker());
    try {
      return (await w.request({ type: 'probe' }, ['probe'])).report;
    } finally {
      await w.close();
    }
  })();
  backendReport.catch(() => (backendReport = undefined));
  return backendReport;
}

/** For `semcode status`: 'available' or 'unavailable' per backend. */
export async function availableBackends(): Promise<Record<Backend, 'available' | 'unavailable'>> {
  const r = await probeBackendsDetailed();
  return { cpu: r.cpu.status, wasm: r.wasm.status };
}
