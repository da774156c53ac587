/**
 * The embedding engine: picks the backend for a model and a backend choice (makeRunner), checks it with a
 * probe text, then embeds in length-sorted batches and refuses any vector that is not a finite unit vector of
 * the model's dimension. The worker (embedWorker.ts) hosts it; embedder.ts also runs it in process.
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
import { join } from 'node:path';
import { SemcodeError, errorMessage, isSemcodeError } from '../errors';
import { cpuRunner, nativeLoadError } from './cpuRunner';
import { readJson } from './modelConfig';
import { checkModelFiles, hashModelFiles, type ResolvedModel } from './modelResolve';
import { pooled } from './pooling';
import type { Backend, EmbedBackend, Runner } from './runnerTypes';
import { isStaticConfig, staticRunner } from './staticRunner';
import { wasmRunner } from './wasmRunner';

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

const PROBE_TEXT = 'semcode probe: function getUserName(user) { return user.name; }';

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

/**
 * What will compute a local model folder's vectors with this backend choice, without loading it (for
 * `semcode status`): the rule loadEngine follows.
 */
export function vectorsComputedBy(dir: string, backend: Backend | undefined): EmbedBackend {
  if (backend === 'wasm') return 'wasm';
  return isStaticConfig(readJson(join(dir, 'config.json'), false)) ? 'static-js' : 'cpu';
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
      dimension: probe!.length, // a Runner returns one vector per text
      backend: runner.backend,
      dtype: runner.dtype,
    };
    const what = `model ${model.dir}`;
    return {
      info,
      async embed(texts, batchSize) {
        // Similar lengths share a batch so less of each batch is padding; results go back in input order.
        const order = texts.map((_, i) => i).sort((a, b) => texts[a]!.length - texts[b]!.length || a - b);
        const vectors = new Array<Float32Array>(texts.length);
        let batches = 0;
        for (let s = 0; s < order.length; s += batchSize) {
          const idx = order.slice(s, s + batchSize);
          const vs = await runValidated(
            runner,
            idx.map((i) => texts[i]!),
            what,
          );
          batches++;
          for (const [k, i] of idx.entries()) {
            const v = vs[k]!; // a Runner returns one vector per text
            if (v.length !== info.dimension) {
              throw new SemcodeError('model_output', `${what} changed dimension from ${info.dimension} to ${v.length}`);
            }
            vectors[i] = v;
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
