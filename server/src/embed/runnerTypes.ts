/**
 * The seams between the embedding engine (embedEngine.ts) and its backends: the backend names a user can
 * choose, what an ONNX runtime session returns (hidden states, pooled by pooling.ts) and what every backend
 * finally is, a Runner that turns texts into unit vectors. A module of its own so the backends and the engine
 * can share these without importing each other.
 */
/** The ONNX runtime a user can choose (--backend, the editor setting). */
export type Backend = 'cpu' | 'wasm';
export const BACKENDS: readonly Backend[] = ['cpu', 'wasm'];
/** What computes the vectors: an ONNX runtime, or the JS table lookup of a Semcode static model. */
export type EmbedBackend = Backend | 'static-js';

/** Hidden states of one model call, row-major [batch, seq, dim], plus the attention mask used. */
export interface RawOutput {
  data: Float32Array;
  dims: readonly number[];
  mask: ArrayLike<number | bigint>;
}

/** An ONNX runtime session: hidden states, pooled by pool() (pooling.ts). */
export interface OrtRunner {
  backend: Backend;
  dtype: string;
  run(texts: string[]): Promise<RawOutput>;
  dispose(): Promise<void>;
}

/** Anything that turns texts into unit vectors (validated: finite, non-zero, one per text). */
export interface Runner {
  backend: EmbedBackend;
  dtype: string;
  embed(texts: string[], what: string): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}
