/**
 * Reading a local model folder for the backends: which onnx/model*.onnx variant to run, its JSON config files
 * (a missing required one is model_not_found, an unparsable one model_corrupt), the longest input the model
 * takes, and the error code a failed model load deserves. Shared by the cpu, wasm and static-js backends.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SemcodeError, errorMessage, isSemcodeError } from '../errors';

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

export function readJson(path: string, required: boolean): Record<string, unknown> | null {
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

export function maxTokens(config: Record<string, unknown> | null, tokenizerConfig: Record<string, unknown> | null): number | null {
  // Position tables bound the usable length even when tokenizer_config forgets model_max_length.
  const limits = [tokenizerConfig?.model_max_length, config?.max_position_embeddings].filter(
    (v): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0,
  );
  return limits.length ? Math.min(...limits) : null;
}

export function corruptOrFailed(e: unknown, onnxFile: string, what: string): SemcodeError {
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
