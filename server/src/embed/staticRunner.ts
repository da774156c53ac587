/**
 * The static-js backend: a Semcode static model (config.json semcode.kind = "static") computed by the JS
 * tokenizer and a table lookup (staticTable.ts), without any ONNX runtime. Here too is the test for such a
 * model's config, which both the engine's backend choice and `semcode status` make.
 */
import { join } from 'node:path';
import { maxTokens, readJson } from './modelConfig';
import type { ResolvedModel } from './modelResolve';
import type { Runner } from './runnerTypes';

/** config.json of a Semcode static model (server/src/model/export.ts configJSON). */
export function isStaticConfig(config: Record<string, unknown> | null): boolean {
  const s = config?.semcode;
  return !!s && typeof s === 'object' && (s as { kind?: unknown }).kind === 'static';
}

export async function staticRunner(model: ResolvedModel, config: Record<string, unknown>): Promise<Runner> {
  // The same truncation length the cpu runner gives transformers.js's tokenizer.
  const limit = maxTokens(config, readJson(join(model.dir, 'tokenizer_config.json'), false));
  // Loaded on use, like the runtimes: its ONNX reader costs ~30 ms to import. require, not import(): from
  // source the worker has only tsx's CommonJS hook.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  const { loadStaticTable } = require('./staticTable') as typeof import('./staticTable');
  const table = await loadStaticTable(model.dir, limit);
  return {
    backend: 'static-js',
    dtype: table.dtype,
    // eslint-disable-next-line @typescript-eslint/require-await -- async so that a throw from embed() is a rejection, as from the other runners
    embed: async (texts) => texts.map((t) => table.embed(t)),
    dispose: () => Promise.resolve(),
  };
}
