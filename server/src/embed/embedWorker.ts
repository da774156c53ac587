/**
 * The embedding engine, and the worker_threads entry that hosts it.
 *
 * Imported by embedder.ts for its types and for the in-process mode; when started as a worker (workerData
 * `{ semcodeEmbedWorker: true }`) it also serves the message protocol below. Inference libraries are loaded
 * lazily so that importing this file costs nothing on the language server's main thread.
 *
 * Backends:
 *   - static-js: Semcode's own static models (config.json semcode.kind = "static") with backend cpu or auto:
 *           the JS tokenizer and a table lookup (staticTable.ts), no ONNX runtime at all. `cpu` is the
 *           default everywhere (the editor setting always sends it), and for a table lookup the JS path is
 *           the fastest CPU implementation of the same vectors, so it takes this path too. `wasm` still
 *           runs the model's ONNX graph on onnxruntime-web when asked, and `staticTable: false` runs it
 *           through transformers.js (the reference the fast path is tested against). Needing no runtime,
 *           it also works where neither ONNX runtime loads.
 *   - cpu:  transformers.js (tokenizer, model loading, dtype files) on onnxruntime-node's native binary.
 *   - wasm: onnxruntime-web's WebAssembly runtime with the same tokenizer library (@huggingface/tokenizers).
 *           transformers.js 4.x refuses device 'wasm' in Node, and it loads onnxruntime-node at import time,
 *           so this path does not import transformers.js at all: that keeps it usable exactly when the native
 *           binary cannot load. Pooling is shared, so both backends give the same vectors (to ~1e-6).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { SemcodeError, errorMessage, isSemcodeError, type ErrorCode } from '../errors';
import { checkModelFiles, hashModelFiles, hubCacheDir, type ResolvedModel } from './modelResolve';

/** The ONNX runtime a user can choose (--backend, the editor setting). */
export type Backend = 'cpu' | 'wasm';
export const BACKENDS: readonly Backend[] = ['cpu', 'wasm'];
/** What computes the vectors: an ONNX runtime, or the JS table lookup of a Semcode static model. */
export type EmbedBackend = Backend | 'static-js';

export interface EmbedderInfo {
  modelId: string;
  modelDir: string;
  modelHash: string;
  dimension: number;
  backend: EmbedBackend;
  /** storage of the weights: the onnx file variant for ONNX runtimes, the table's dtype for static-js */
  dtype: string;
}

export interface EngineInit {
  model: ResolvedModel;
  /** 'auto' = cpu, or wasm when the native binary cannot load. */
  backend: Backend | 'auto';
  /** false: run a static model through ONNX runtime like any other model (default true: static-js) */
  staticTable?: boolean;
}

export interface BackendStatus {
  status: 'available' | 'unavailable';
  reason?: string;
}

/** Hidden states of one model call, row-major [batch, seq, dim], plus the attention mask used. */
interface RawOutput {
  data: Float32Array;
  dims: readonly number[];
  mask: ArrayLike<number | bigint>;
}

/** An ONNX runtime session: hidden states, pooled by pool() below. */
interface OrtRunner {
  backend: Backend;
  dtype: string;
  run(texts: string[]): Promise<RawOutput>;
  dispose(): Promise<void>;
}

/** Anything that turns texts into unit vectors (validated: finite, non-zero, one per text). */
interface Runner {
  backend: EmbedBackend;
  dtype: string;
  embed(texts: string[], what: string): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}

const PROBE_TEXT = 'semcode probe: function getUserName(user) { return user.name; }';

// Suffixes transformers.js uses for onnx/model<suffix>.onnx, in the order we prefer them when model.onnx
// (fp32, the exact weights) is absent.
const DTYPE_FILES: [string, string][] = [
  ['fp32', ''],
  ['q8', '_quantized'],
  ['int8', '_int8'],
  ['uint8', '_uint8'],
  ['fp16', '_fp16'],
  ['q4', '_q4'],
  ['q4f16', '_q4f16'],
  ['bnb4', '_bnb4'],
];

export function pickDtype(dir: string): { dtype: string; file: string } {
  const onnxDir = join(dir, 'onnx');
  const have = existsSync(onnxDir) ? new Set(readdirSync(onnxDir)) : new Set<string>();
  for (const [dtype, suffix] of DTYPE_FILES) {
    const name = `model${suffix}.onnx`;
    if (have.has(name)) return { dtype, file: join(onnxDir, name) };
  }
  throw new SemcodeError('model_not_found', `model file missing: ${join(onnxDir, 'model.onnx')} (no onnx/model*.onnx of a known dtype)`);
}

function readJson(path: string, required: boolean): Record<string, unknown> | null {
  if (!existsSync(path)) {
    if (required) throw new SemcodeError('model_not_found', `model file missing: ${path}`);
    return null;
  }
  try {
    const v: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new SemcodeError('model_corrupt', `model file is not valid JSON: ${path}: ${errorMessage(e)}`, { cause: e });
  }
}

function maxTokens(config: Record<string, unknown> | null, tokenizerConfig: Record<string, unknown> | null): number | null {
  // Position tables bound the usable length even when tokenizer_config forgets model_max_length.
  const limits = [tokenizerConfig?.model_max_length, config?.max_position_embeddings].filter(
    (v): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0,
  );
  return limits.length ? Math.min(...limits) : null;
}

function corruptOrFailed(e: unknown, onnxFile: string, what: string): SemcodeError {
  if (isSemcodeError(e)) return e;
  const msg = errorMessage(e);
  if (/protobuf|pars(e|ing)|invalid|corrupt|load model|ModelProto|opset|not a valid|unsupported|graph/i.test(msg)) {
    return new SemcodeError('model_corrupt', `model file is not a usable ONNX model: ${onnxFile}: ${msg}`, { cause: e });
  }
  if (/ENOENT|not found|could not locate|no such file/i.test(msg)) {
    return new SemcodeError('model_not_found', `${what}: ${msg}`, { cause: e });
  }
  return new SemcodeError('inference_failed', `${what}: ${msg}`, { cause: e });
}

// ---------------------------------------------------------------------------------------------------------
// cpu: transformers.js on onnxruntime-node

let nativeError: unknown;
let nativeChecked = false;

/** Loads onnxruntime-node's native binding once; returns why it cannot load, or null. */
function nativeLoadError(): string | null {
  if (!nativeChecked) {
    nativeChecked = true;
    try {
      require('onnxruntime-node');
    } catch (e) {
      nativeError = e;
    }
  }
  return nativeError === undefined ? null : errorMessage(nativeError).split('\n')[0];
}

interface TfTensor {
  type: string;
  data: ArrayLike<number> | ArrayLike<bigint>;
  dims: number[];
  to?(type: string): TfTensor;
}

async function cpuRunner(model: ResolvedModel): Promise<OrtRunner> {
  const hub = model.source === 'hub';
  let onnxFile = join(model.dir, 'onnx', 'model.onnx');
  let dtype = 'fp32';
  let limit: number | null = null;
  if (!hub) {
    ({ dtype, file: onnxFile } = pickDtype(model.dir));
    limit = maxTokens(readJson(join(model.dir, 'config.json'), true), readJson(join(model.dir, 'tokenizer_config.json'), false));
    readJson(join(model.dir, 'tokenizer.json'), true);
  }
  const tf = await import('@huggingface/transformers');
  // Remote loading only for a hub id the user named; a local folder must never reach the network.
  tf.env.allowLocalModels = true;
  tf.env.allowRemoteModels = hub;
  tf.env.useFSCache = hub;
  tf.env.cacheDir = hubCacheDir();
  tf.env.useBrowserCache = false;
  tf.env.logLevel = tf.LogLevel.ERROR;
  let pipe: { tokenizer: unknown; model: unknown; dispose(): Promise<void> };
  try {
    pipe = (await tf.pipeline('feature-extraction', hub ? model.id : model.dir, {
      dtype: dtype as 'fp32',
      device: 'cpu',
      local_files_only: !hub,
    })) as unknown as typeof pipe;
  } catch (e) {
    if (hub) {
      throw new SemcodeError('model_not_found', `could not load hub model ${model.id} (is the machine offline? pass --model DIR for a local model): ${errorMessage(e)}`, { cause: e });
    }
    throw corruptOrFailed(e, onnxFile, `loading model ${model.dir} failed`);
  }
  if (hub) {
    const cfg = readJson(join(model.dir, 'config.json'), false);
    limit = maxTokens(cfg, readJson(join(model.dir, 'tokenizer_config.json'), false));
  }
  const tokenizer = pipe.tokenizer as (texts: string[], o: object) => Record<string, TfTensor>;
  const forward = pipe.model as (inputs: Record<string, TfTensor>) => Promise<Record<string, TfTensor | undefined>>;
  return {
    backend: 'cpu',
    dtype,
    async run(texts) {
      const inputs = tokenizer(texts, { padding: true, truncation: true, max_length: limit });
      const out = await forward(inputs);
      let t = out.last_hidden_state ?? out.token_embeddings ?? out.logits;
      if (!t) throw new SemcodeError('model_output', `model ${model.dir} returned no last_hidden_state (outputs: ${Object.keys(out).join(', ')})`);
      if (t.type !== 'float32' && t.to) t = t.to('float32');
      if (!(t.data instanceof Float32Array)) throw new SemcodeError('model_output', `model output has type ${t.type}; expected float32`);
      return { data: t.data, dims: t.dims, mask: inputs.attention_mask!.data };
    },
    dispose: () => pipe.dispose(),
  };
}

// ---------------------------------------------------------------------------------------------------------
// wasm: onnxruntime-web + @huggingface/tokenizers

type OrtWeb = typeof import('onnxruntime-web');
let ortWeb: OrtWeb | undefined;

function loadOrtWeb(): OrtWeb {
  if (!ortWeb) {
    const ort = require('onnxruntime-web') as OrtWeb;
    // Point at the .wasm files shipped in the package, so the runtime never looks anywhere else.
    ort.env.wasm.wasmPaths = dirname(require.resolve('onnxruntime-web')) + sep;
    ort.env.wasm.numThreads = Math.max(1, Math.min(4, availableParallelism()));
    ort.env.wasm.proxy = false;
    ort.env.logLevel = 'error';
    ortWeb = ort;
  }
  return ortWeb;
}

function tokenName(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

async function wasmRunner(model: ResolvedModel): Promise<OrtRunner> {
  if (model.source === 'hub') {
    throw new SemcodeError('inference_failed', `wasm backend needs a local model folder; ${model.id} is a hub id (use --backend cpu, or download the model and pass --model DIR)`);
  }
  const { dtype, file: onnxFile } = pickDtype(model.dir);
  const config = readJson(join(model.dir, 'config.json'), true);
  const tokJson = readJson(join(model.dir, 'tokenizer.json'), true)!;
  const tokCfg = readJson(join(model.dir, 'tokenizer_config.json'), false) ?? {};
  const limit = maxTokens(config, tokCfg) ?? Infinity;
  let ort: OrtWeb;
  try {
    ort = loadOrtWeb();
  } catch (e) {
    throw new SemcodeError('inference_failed', `wasm: unavailable (onnxruntime-web failed to load: ${errorMessage(e)})`, { cause: e });
  }
  const { Tokenizer } = await import('@huggingface/tokenizers');
  let tokenizer: InstanceType<typeof Tokenizer>;
  try {
    tokenizer = new Tokenizer(tokJson, tokCfg);
  } catch (e) {
    throw new SemcodeError('model_corrupt', `tokenizer.json is not a usable tokenizer: ${join(model.dir, 'tokenizer.json')}: ${errorMessage(e)}`, { cause: e });
  }
  const padName = tokenName(tokCfg.pad_token) ?? tokenName(tokCfg.eos_token);
  const padId = (padName !== undefined ? tokenizer.token_to_id(padName) : undefined) ?? 0;
  const padLeft = tokCfg.padding_side === 'left';

  let session: Awaited<ReturnType<OrtWeb['InferenceSession']['create']>>;
  try {
    session = await ort.InferenceSession.create(readFileSync(onnxFile), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  } catch (e) {
    throw corruptOrFailed(e, onnxFile, `loading model ${model.dir} on wasm failed`);
  }
  const known = new Set(['input_ids', 'attention_mask', 'token_type_ids']);
  const unknown = session.inputNames.filter((n) => !known.has(n));
  if (unknown.length || !session.inputNames.includes('input_ids')) {
    await session.release();
    throw new SemcodeError('model_corrupt', `model ${onnxFile} has inputs [${session.inputNames.join(', ')}]; expected input_ids, attention_mask[, token_type_ids]`);
  }
  const outName = ['last_hidden_state', 'token_embeddings'].find((n) => session.outputNames.includes(n)) ?? session.outputNames[0];

  return {
    backend: 'wasm',
    dtype,
    async run(texts) {
      // Same rules as transformers.js's tokenizer call with padding: true, truncation: true.
      const enc = texts.map((t) => tokenizer.encode(t, { add_special_tokens: true }));
      const seq = Math.min(limit, Math.max(...enc.map((e) => e.ids.length)));
      const b = texts.length;
      const ids = new BigInt64Array(b * seq).fill(BigInt(padId));
      const mask = new BigInt64Array(b * seq);
      const types = new BigInt64Array(b * seq);
      enc.forEach((e, i) => {
        const n = Math.min(seq, e.ids.length);
        const off = i * seq + (padLeft ? seq - n : 0);
        for (let j = 0; j < n; j++) {
          ids[off + j] = BigInt(e.ids[j]);
          mask[off + j] = 1n;
          types[off + j] = BigInt(e.token_type_ids?.[j] ?? 0);
        }
      });
      const all: Record<string, BigInt64Array> = { input_ids: ids, attention_mask: mask, token_type_ids: types };
      const feeds: Record<string, InstanceType<OrtWeb['Tensor']>> = {};
      for (const name of session.inputNames) feeds[name] = new ort.Tensor('int64', all[name], [b, seq]);
      const out = (await session.run(feeds))[outName];
      if (!out) throw new SemcodeError('model_output', `model ${onnxFile} returned no ${outName}`);
      if (out.type !== 'float32') throw new SemcodeError('model_output', `model output has type ${out.type}; expected float32`);
      return { data: out.data as Float32Array, dims: out.dims, mask };
    },
    dispose: () => session.release(),
  };
}

// ---------------------------------------------------------------------------------------------------------
// The engine: validation, pooling, batching

/** Mean over unmasked tokens, then L2 normalisation; throws model_output on any shape or value surprise. */
function pool(out: RawOutput, batch: number, what: string): Float32Array[] {
  const { data, dims, mask } = out;
  if (dims.length !== 3 || dims[0] !== batch || dims[2] < 1 || dims[1] * batch !== mask.length) {
    throw new SemcodeError('model_output', `${what} has shape [${dims.join(', ')}]; expected [batch=${batch}, seq, dim] (rank 3)`);
  }
  const [, seq, dim] = dims;
  const vectors: Float32Array[] = [];
  const acc = new Float64Array(dim);
  for (let i = 0; i < batch; i++) {
    acc.fill(0);
    let count = 0;
    for (let j = 0; j < seq; j++) {
      if (Number(mask[i * seq + j]) === 0) continue;
      count++;
      const off = (i * seq + j) * dim;
      for (let k = 0; k < dim; k++) acc[k] += data[off + k];
    }
    let norm = 0;
    for (let k = 0; k < dim; k++) norm += (acc[k] / count) ** 2;
    norm = Math.sqrt(norm);
    if (!count || !Number.isFinite(norm) || norm === 0) {
      throw new SemcodeError('model_output', `${what} gave ${count ? (norm === 0 ? 'an all-zero' : 'a non-finite (NaN/Infinity)') : 'an empty'} vector; refusing to index it`);
    }
    const v = new Float32Array(dim);
    for (let k = 0; k < dim; k++) v[k] = acc[k] / count / norm;
    vectors.push(v);
  }
  return vectors;
}

export interface Engine {
  readonly info: EmbedderInfo;
  /** Vectors in input order and the number of model calls it took. */
  embed(texts: string[], batchSize: number): Promise<{ vectors: Float32Array[]; batches: number }>;
  dispose(): Promise<void>;
}

async function runValidated(runner: Runner, texts: string[], what: string): Promise<Float32Array[]> {
  try {
    return await runner.embed(texts, what);
  } catch (e) {
    if (isSemcodeError(e)) throw e;
    throw new SemcodeError('inference_failed', `${what}: inference failed: ${errorMessage(e)}`, { cause: e });
  }
}

function pooled(r: OrtRunner): Runner {
  return {
    backend: r.backend,
    dtype: r.dtype,
    embed: async (texts, what) => pool(await r.run(texts), texts.length, `the output of ${what}`),
    dispose: () => r.dispose(),
  };
}

/**
 * What will compute a local model folder's vectors with this backend choice, without loading it (for
 * `semcode status`): the rule loadEngine follows.
 */
export function vectorsComputedBy(dir: string, backend: Backend | undefined): EmbedBackend {
  if (backend === 'wasm') return 'wasm';
  return isStaticConfig(readJson(join(dir, 'config.json'), false)) ? 'static-js' : 'cpu';
}

/** config.json of a Semcode static model (server/src/model/export.ts configJSON). */
function isStaticConfig(config: Record<string, unknown> | null): boolean {
  const s = config?.semcode;
  return !!s && typeof s === 'object' && (s as { kind?: unknown }).kind === 'static';
}

async function staticRunner(model: ResolvedModel, config: Record<string, unknown>): Promise<Runner> {
  // The same truncation length the cpu runner gives transformers.js's tokenizer.
  const limit = maxTokens(config, readJson(join(model.dir, 'tokenizer_config.json'), false));
  // Loaded on use, like the runtimes: its ONNX reader costs ~30 ms to import. require, not import(): from
  // source the worker has only tsx's CommonJS hook.
  const { loadStaticTable } = require('./staticTable') as typeof import('./staticTable');
  const table = await loadStaticTable(model.dir, limit);
  return {
    backend: 'static-js',
    dtype: table.dtype,
    embed: async (texts) => texts.map((t) => table.embed(t)),
    dispose: async () => undefined,
  };
}

async function makeRunner(model: ResolvedModel, backend: Backend | 'auto', staticTable: boolean): Promise<Runner> {
  if (staticTable && backend !== 'wasm' && model.source !== 'hub') {
    const config = readJson(join(model.dir, 'config.json'), true);
    if (isStaticConfig(config)) return staticRunner(model, config!);
  }
  if (backend === 'wasm') return pooled(await wasmRunner(model));
  const nativeErr = nativeLoadError();
  if (!nativeErr) return pooled(await cpuRunner(model));
  if (backend === 'cpu') {
    throw new SemcodeError('inference_failed', `cpu: unavailable (onnxruntime-node native binary failed to load: ${nativeErr}); try --backend wasm`);
  }
  try {
    return pooled(await wasmRunner(model));
  } catch (e) {
    if (isSemcodeError(e) && e.code !== 'inference_failed') throw e;
    throw new SemcodeError('inference_failed', `no inference backend: cpu: unavailable (${nativeErr}); wasm: unavailable (${errorMessage(e)})`, { cause: e });
  }
}

export async function loadEngine(init: EngineInit): Promise<Engine> {
  const { model } = init;
  if (model.source !== 'hub') checkModelFiles(model.dir);
  const runner = await makeRunner(model, init.backend, init.staticTable ?? true);
  try {
    const [probe] = await runValidated(runner, [PROBE_TEXT], `model ${model.dir}`);
    const info: EmbedderInfo = {
      modelId: model.id,
      modelDir: model.dir,
      modelHash: await hashModelFiles(model.dir),
      dimension: probe.length,
      backend: runner.backend,
      dtype: runner.dtype,
    };
    const what = `model ${model.dir}`;
    return {
      info,
      async embed(texts, batchSize) {
        // Similar lengths share a batch so less of each batch is padding; results go back in input order.
        const order = texts.map((_, i) => i).sort((a, b) => texts[a].length - texts[b].length || a - b);
        const vectors = new Array<Float32Array>(texts.length);
        let batches = 0;
        for (let s = 0; s < order.length; s += batchSize) {
          const idx = order.slice(s, s + batchSize);
          const vs = await runValidated(runner, idx.map((i) => texts[i]), what);
          batches++;
          for (const [k, i] of idx.entries()) {
            if (vs[k].length !== info.dimension) {
              throw new SemcodeError('model_output', `${what} changed dimension from ${info.dimension} to ${vs[k].length}`);
            }
            vectors[i] = vs[k];
          }
        }
        return { vectors, batches };
      },
      dispose: () => runner.dispose(),
    };
  } catch (e) {
    await runner.dispose().catch(() => undefined);
    throw e;
  }
}

// A 60-byte ONNX model (y = -x, float[2]): enough to prove a runtime can create and run a session.
const PROBE_MODEL_B64 = 'CAg6MgoLCgF4EgF5IgNOZWcSAXBaDwoBeBIKCggIARIECgIIAmIPCgF5EgoKCAgBEgQKAggCQgQKABAN';

async function probeWith(ort: Pick<OrtWeb, 'InferenceSession' | 'Tensor'>, opts: object): Promise<void> {
  const s = await ort.InferenceSession.create(Buffer.from(PROBE_MODEL_B64, 'base64'), opts);
  const y = (await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, -2]), [2]) })).y;
  await s.release();
  if (!y || y.data[0] !== -1 || y.data[1] !== 2) throw new Error('probe model gave a wrong answer');
}

/** Whether each backend can create and run a session here (loads the runtimes: call it off the main thread). */
export async function probeBackends(): Promise<Record<Backend, BackendStatus>> {
  const report = {} as Record<Backend, BackendStatus>;
  const nativeErr = nativeLoadError();
  if (nativeErr) report.cpu = { status: 'unavailable', reason: `onnxruntime-node native binary failed to load: ${nativeErr}` };
  else {
    try {
      await probeWith(require('onnxruntime-node') as OrtWeb, {});
      report.cpu = { status: 'available' };
    } catch (e) {
      report.cpu = { status: 'unavailable', reason: errorMessage(e) };
    }
  }
  try {
    await probeWith(loadOrtWeb(), { executionProviders: ['wasm'] });
    report.wasm = { status: 'available' };
  } catch (e) {
    report.wasm = { status: 'unavailable', reason: errorMessage(e) };
  }
  return report;
}

// ---------------------------------------------------------------------------------------------------------
// Worker protocol

export interface WireError {
  code: ErrorCode;
  message: string;
}
export type ToWorker =
  | { type: 'init'; init: EngineInit }
  | { type: 'embed'; id: number; texts: string[]; batchSize: number }
  | { type: 'probe' }
  | { type: 'close' };
export type FromWorker =
  | { type: 'ready'; info: EmbedderInfo }
  | { type: 'initError'; error: WireError }
  | { type: 'result'; id: number; vectors: Float32Array[]; batches: number }
  | { type: 'error'; id: number; error: WireError }
  | { type: 'probe'; report: Record<Backend, BackendStatus> }
  | { type: 'closed' };

export function toWire(e: unknown): WireError {
  return isSemcodeError(e) ? { code: e.code, message: e.message } : { code: 'inference_failed', message: errorMessage(e) };
}

function serve(port: NonNullable<typeof parentPort>): void {
  let engine: Engine | undefined;
  // One model call at a time: onnxruntime-web rejects overlapping runs, and on 2 cores overlap only adds
  // contention.
  let chain: Promise<unknown> = Promise.resolve();
  const send = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  port.on('message', (m: ToWorker) => {
    chain = chain.then(async () => {
      switch (m.type) {
        case 'init':
          try {
            engine = await loadEngine(m.init);
            send({ type: 'ready', info: engine.info });
          } catch (e) {
            send({ type: 'initError', error: toWire(e) });
          }
          break;
        case 'embed':
          try {
            if (!engine) throw new SemcodeError('inference_failed', 'embedding worker has no model loaded');
            const { vectors, batches } = await engine.embed(m.texts, m.batchSize);
            send({ type: 'result', id: m.id, vectors, batches }, vectors.map((v) => v.buffer as ArrayBuffer));
          } catch (e) {
            send({ type: 'error', id: m.id, error: toWire(e) });
          }
          break;
        case 'probe':
          send({ type: 'probe', report: await probeBackends() });
          break;
        case 'close':
          await engine?.dispose().catch(() => undefined);
          engine = undefined;
          send({ type: 'closed' });
          port.close();
          break;
      }
    });
  });
}

if (!isMainThread && parentPort && (workerData as { semcodeEmbedWorker?: boolean } | null)?.semcodeEmbedWorker) {
  serve(parentPort);
}
