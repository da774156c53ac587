/**
 * Whether each ONNX runtime can create and run a session on this machine, by running a 60-byte model on it:
 * what `semcode status` and the editor report. It loads the runtimes, so callers run it off the main thread
 * (the worker's `probe` message).
 */
import { errorMessage } from '../errors';
import { nativeLoadError } from './cpuRunner';
import type { Backend } from './runnerTypes';
import { type OrtWeb, loadOrtWeb } from './wasmRunner';

export interface BackendStatus {
  status: 'available' | 'unavailable';
  reason?: string;
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
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on use: the native binary may not load
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
