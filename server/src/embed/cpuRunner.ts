/**
 * The cpu backend: transformers.js (tokenizer, model loading, dtype files) on onnxruntime-node's native
 * binary, for local folders and for hub ids the user named (the only path that may reach the network). Also
 * says whether the native binary loads at all, which decides `auto` and the backend probe.
 */
import { join } from 'node:path';
import { SemcodeError, errorMessage } from '../errors';
import { corruptOrFailed, maxTokens, pickDtype, readJson } from './modelConfig';
import { hubCacheDir, type ResolvedModel } from './modelResolve';
import type { OrtRunner } from './runnerTypes';

let nativeError: unknown;
let nativeChecked = false;

/** Loads onnxruntime-node's native binding once; returns why it cannot load, or null. */
export function nativeLoadError(): string | null {
  if (!nativeChecked) {
    nativeChecked = true;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loading the native binary is the check
      require('onnxruntime-node');
    } catch (e) {
      nativeError = e;
    }
  }
  return nativeError === undefined ? null : errorMessage(nativeError).split('\n')[0]!;
}

interface TfTensor {
  type: string;
  data: ArrayLike<number> | ArrayLike<bigint>;
  dims: number[];
  to?(type: string): TfTensor;
}

export async function cpuRunner(model: ResolvedModel): Promise<OrtRunner> {
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
    pipe = await tf.pipeline('feature-extraction', hub ? model.id : model.dir, {
      dtype: dtype as 'fp32',
      device: 'cpu',
      local_files_only: !hub,
    });
  } catch (e) {
    if (hub) {
      throw new SemcodeError(
        'model_not_found',
        `could not load hub model ${model.id} (is the machine offline? pass --model DIR for a local model): ${errorMessage(e)}`,
        { cause: e },
      );
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
