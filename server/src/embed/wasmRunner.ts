/**
 * The wasm backend: onnxruntime-web's WebAssembly runtime with @huggingface/tokenizers, tokenizing, padding
 * and truncating the way transformers.js does. It never imports transformers.js (which refuses device 'wasm'
 * in Node and loads onnxruntime-node at import time), so it stays usable exactly when the native binary
 * cannot load. Local model folders only.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { SemcodeError, errorMessage } from '../errors';
import { corruptOrFailed, maxTokens, pickDtype, readJson } from './modelConfig';
import type { ResolvedModel } from './modelResolve';
import type { OrtRunner } from './runnerTypes';

export type OrtWeb = typeof import('onnxruntime-web');
let ortWeb: OrtWeb | undefined;

export function loadOrtWeb(): OrtWeb {
  if (!ortWeb) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on use, like onnxruntime-node
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

export async function wasmRunner(model: ResolvedModel): Promise<OrtRunner> {
  if (model.source === 'hub') {
    throw new SemcodeError(
      'inference_failed',
      `wasm backend needs a local model folder; ${model.id} is a hub id (use --backend cpu, or download the model and pass --model DIR)`,
    );
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
    throw new SemcodeError(
      'model_corrupt',
      `model ${onnxFile} has inputs [${session.inputNames.join(', ')}]; expected input_ids, attention_mask[, token_type_ids]`,
    );
  }
  const outName = ['last_hidden_state', 'token_embeddings'].find((n) => session.outputNames.includes(n)) ?? session.outputNames[0];
  if (outName === undefined) {
    await session.release();
    throw new SemcodeError('model_corrupt', `model ${onnxFile} has no outputs`);
  }

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
          ids[off + j] = BigInt(e.ids[j]!);
          mask[off + j] = 1n;
          types[off + j] = BigInt(e.token_type_ids?.[j] ?? 0);
        }
      });
      const all: Record<string, BigInt64Array> = { input_ids: ids, attention_mask: mask, token_type_ids: types };
      const feeds: Record<string, InstanceType<OrtWeb['Tensor']>> = {};
      // Every input name is a key of `all` (checked at load).
      for (const name of session.inputNames) feeds[name] = new ort.Tensor('int64', all[name]!, [b, seq]);
      const out = (await session.run(feeds))[outName];
      if (!out) throw new SemcodeError('model_output', `model ${onnxFile} returned no ${outName}`);
      if (out.type !== 'float32') throw new SemcodeError('model_output', `model output has type ${out.type}; expected float32`);
      return { data: out.data as Float32Array, dims: out.dims, mask };
    },
    dispose: () => session.release(),
  };
}
