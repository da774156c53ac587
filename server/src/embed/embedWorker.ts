/**
 * The embedding worker: the worker_threads entry that hosts the embedding engine, and the module callers
 * reach the engine through.
 *
 * Imported by embedder.ts for its types and for the in-process mode; when started as a worker (workerData
 * `{ semcodeEmbedWorker: true }`) it also serves the message protocol below. Inference libraries are loaded
 * lazily so that importing this file costs nothing on the language server's main thread.
 *
 * The engine itself is embedEngine.ts; its backends are cpuRunner.ts (onnxruntime-node), wasmRunner.ts
 * (onnxruntime-web) and staticRunner.ts (Semcode's static models, no runtime), the ONNX ones pooled by
 * pooling.ts; backendProbe.ts checks which runtimes work here. Everything the callers used to import from
 * this module is still exported from it.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { SemcodeError, errorMessage, isSemcodeError, type ErrorCode } from '../errors';
import { type BackendStatus, probeBackends } from './backendProbe';
import { type EmbedderInfo, type Engine, type EngineInit, loadEngine } from './embedEngine';
import type { Backend } from './runnerTypes';

export { BACKENDS, type Backend, type EmbedBackend } from './runnerTypes';
export { loadEngine, vectorsComputedBy, type EmbedderInfo, type Engine, type EngineInit } from './embedEngine';
export { probeBackends, type BackendStatus } from './backendProbe';
export { pickDtype } from './modelConfig';

export interface WireError {
  code: ErrorCode;
  message: string;
}
export type ToWorker =
  { type: 'init'; init: EngineInit } | { type: 'embed'; id: number; texts: string[]; batchSize: number } | { type: 'probe' } | { type: 'close' };
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
            send(
              { type: 'result', id: m.id, vectors, batches },
              vectors.map((v) => v.buffer as ArrayBuffer),
            );
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
