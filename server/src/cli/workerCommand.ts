/**
 * `semcode worker`: takes embed jobs from the JetStream pipeline and does them (embed with its model, write
 * to the shared PostgreSQL database), until SIGTERM or SIGINT, which let the jobs in hand finish.
 */
import type { Engine } from '../engine';
import { handleEmbedJob } from '../index/embedJob';
import { assertSameModel } from '../index/indexer';
import { natsLocation, type NatsOptions, connectNats } from '../jobs/natsConnect';
import { pipeline } from '../jobs/jetstreamQueue';
import { runWorker } from '../jobs/worker';

/** `codebase`: the codebase the worker serves; a model other than the one its index records is refused at start. */
export async function workerCommand(engine: Engine, nats: NatsOptions, concurrency: number, codebase?: string): Promise<number> {
  const model = await engine.configuredEmbedder();
  if (codebase !== undefined) for (const cb of await engine.codebasesNamed([codebase])) assertSameModel(cb, model, engine.db);
  const nc = await connectNats({ ...nats, reconnect: true });
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const p = pipeline();
  process.stderr.write(
    `semcode worker: jobs from ${p.jobs} on ${natsLocation(nats.url)}, model ${model.modelId} (dim ${model.dimension}), ${concurrency} at a time\n`,
  );
  try {
    const summary = await runWorker({
      nc,
      concurrency,
      signal: stop.signal,
      pipeline: p,
      handle: (job) => handleEmbedJob(job, { store: engine.store, model, embedBatch: 64 }),
      onStart: (delivery) => process.stderr.write(`semcode worker: job taken${delivery > 1 ? ` (delivery ${delivery})` : ''}\n`),
      onJob: (outcome, ms) => process.stderr.write(`semcode worker: job ${outcome} in ${ms.toFixed(0)} ms\n`),
    });
    process.stderr.write(`semcode worker: stopped; ${summary.done} jobs done, ${summary.retried} retried, ${summary.failed} failed\n`);
    return 0;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await nc.drain().catch(() => {});
  }
}
