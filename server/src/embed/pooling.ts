/**
 * Pooling for the ONNX backends: the mean of the hidden states over unmasked tokens, L2-normalised, with
 * every shape or value surprise (wrong rank, empty, all-zero or non-finite vector) refused as model_output.
 * One copy for onnxruntime-node and onnxruntime-web, which is why both give the same vectors (to ~1e-6).
 */
import { SemcodeError } from '../errors';
import type { OrtRunner, RawOutput, Runner } from './runnerTypes';

/** Mean over unmasked tokens, then L2 normalisation; throws model_output on any shape or value surprise. */
function pool(out: RawOutput, batch: number, what: string): Float32Array[] {
  const { data, dims, mask } = out;
  if (dims.length !== 3 || dims[0] !== batch || dims[2]! < 1 || dims[1]! * batch !== mask.length) {
    throw new SemcodeError('model_output', `${what} has shape [${dims.join(', ')}]; expected [batch=${batch}, seq, dim] (rank 3)`);
  }
  // In range: the rank was checked above.
  const seq = dims[1]!;
  const dim = dims[2]!;
  const vectors: Float32Array[] = [];
  const acc = new Float64Array(dim);
  for (let i = 0; i < batch; i++) {
    acc.fill(0);
    let count = 0;
    for (let j = 0; j < seq; j++) {
      if (Number(mask[i * seq + j]) === 0) continue;
      count++;
      const off = (i * seq + j) * dim;
      for (let k = 0; k < dim; k++) acc[k]! += data[off + k]!;
    }
    let norm = 0;
    for (let k = 0; k < dim; k++) norm += (acc[k]! / count) ** 2;
    norm = Math.sqrt(norm);
    if (!count || !Number.isFinite(norm) || norm === 0) {
      throw new SemcodeError(
        'model_output',
        `${what} gave ${count ? (norm === 0 ? 'an all-zero' : 'a non-finite (NaN/Infinity)') : 'an empty'} vector; refusing to index it`,
      );
    }
    const v = new Float32Array(dim);
    for (let k = 0; k < dim; k++) v[k] = acc[k]! / count / norm;
    vectors.push(v);
  }
  return vectors;
}

/** An ONNX runtime session as a Runner: its hidden states pooled into unit vectors. */
export function pooled(r: OrtRunner): Runner {
  return {
    backend: r.backend,
    dtype: r.dtype,
    embed: async (texts, what) => pool(await r.run(texts), texts.length, `the output of ${what}`),
    dispose: () => r.dispose(),
  };
}
