/**
 * A worker's loop: `concurrency` slots, each taking one job at a time from the pipeline's durable consumer,
 * handling it (embed, write in one transaction), publishing its result and acking after the commit. An
 * abort (SIGTERM) stops taking jobs; the ones in hand finish. A job is never pulled ahead of a free slot,
 * so a stopping worker leaves nothing unacked behind.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { EmbedJob, EmbedJobResult } from '../index/embedJob';
import { type Pipeline, ensurePipeline, pipeline, workOn } from './jetstreamQueue';

export interface WorkerOptions {
  nc: NatsConnection;
  handle: (job: EmbedJob) => Promise<EmbedJobResult>;
  concurrency?: number;
  signal: AbortSignal;
  pipeline?: Pipeline;
  /** each job as it is taken, and its outcome */
  onStart?: (delivery: number) => void;
  onJob?: (outcome: 'done' | 'retry' | 'failed', ms: number) => void;
}

export interface WorkerSummary {
  done: number;
  retried: number;
  failed: number;
}

export async function runWorker(opts: WorkerOptions): Promise<WorkerSummary> {
  const p = opts.pipeline ?? pipeline();
  await ensurePipeline(await jetstreamManager(opts.nc), p);
  const js = jetstream(opts.nc);
  const consumer = await js.consumers.get(p.jobs, p.workers);
  const summary: WorkerSummary = { done: 0, retried: 0, failed: 0 };
  const slot = async () => {
    while (!opts.signal.aborted) {
      // While the server is away (a restart), asking fails: ask again shortly; the client reconnects.
      const m = await consumer.next({ expires: 2_000 }).catch(async () => {
        await new Promise((r) => setTimeout(r, 500));
        return null;
      });
      if (!m) continue;
      const t = performance.now();
      opts.onStart?.(m.info.deliveryCount);
      const outcome = await workOn(m, js, p, opts.handle);
      if (outcome === 'done') summary.done++;
      else if (outcome === 'retry') summary.retried++;
      else summary.failed++;
      opts.onJob?.(outcome, performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 1) }, slot));
  return summary;
}
