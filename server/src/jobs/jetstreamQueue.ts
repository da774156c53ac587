/**
 * The job queue on NATS JetStream: the indexer publishes its embed jobs to a work-queue stream, any number of
 * `semcode worker` processes take them from one durable consumer, and each job's result comes back on a
 * results stream, one subject per job. Jobs are plain JSON (index/embedJob.ts); a job's id is derived from
 * its content, so the stream's duplicate window drops a re-publish, and the handler is idempotent, so a
 * redelivered job changes nothing.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type PubAck,
  RetentionPolicy,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { type NatsConnection, nanos } from '@nats-io/transport-node';
import { type ErrorCode, SemcodeError, errorMessage, isSemcodeError } from '../errors';
import type { EmbedJob, EmbedJobResult } from '../index/embedJob';
import type { JobQueue } from './queue';

/** The streams and consumer of one pipeline; `name` (default SEMCODE) keeps separate pipelines apart on one server. */
export interface Pipeline {
  jobs: string;
  results: string;
  /** jobs given up, with their reasons */
  dead: string;
  workers: string;
  jobSubject(codebaseId: number): string;
  resultSubject(jobId: string): string;
  deadSubject(jobId: string): string;
  /** how long a worker may hold a job without a sign of life before it goes to another */
  ackWaitMs: number;
}

export function pipeline(name = process.env.SEMCODE_NATS_PIPELINE || 'SEMCODE'): Pipeline {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new SemcodeError('usage', `a pipeline name is letters, digits, _ and -: ${name}`);
  const subj = name.toLowerCase();
  const ackWaitMs = Number(process.env.SEMCODE_NATS_ACK_WAIT_MS) || ACK_WAIT_MS;
  return {
    jobs: `${name}_JOBS`,
    results: `${name}_RESULTS`,
    dead: `${name}_DEAD`,
    workers: 'workers',
    jobSubject: (cb) => `${subj}.jobs.${cb}`,
    resultSubject: (id) => `${subj}.results.${id}`,
    deadSubject: (id) => `${subj}.dead.${id}`,
    ackWaitMs,
  };
}

/** Deliveries of a job before it is given up as failed (its reason goes back to the run). */
export const MAX_DELIVER = 5;
/** How long a worker may hold a job without a sign of life before it is given to another. */
const ACK_WAIT_MS = 60_000;
const DUPLICATE_WINDOW_MS = 120_000;
const RESULTS_MAX_AGE_MS = 3_600_000;
const DEAD_MAX_AGE_MS = 7 * 24 * 3_600_000;

/** A job given up, as the dead-letter stream keeps it: the job, why, and after how many deliveries. */
export interface DeadJob extends JobMessage {
  reason: string;
  code: ErrorCode;
  deliveries: number;
}

/** A job as it travels: its id and the job. */
export interface JobMessage {
  id: string;
  job: EmbedJob;
}

/** A job's outcome as it travels back. */
export type ResultMessage = { id: string; ok: true; result: EmbedJobResult } | { id: string; ok: false; error: { code: ErrorCode; message: string } };

/**
 * The job's id: its run, codebase, model and files (paths and content hashes), so a re-publish of the same
 * work by the same run (a retry whose first try did land) is dropped by the duplicate window. Not the content
 * alone: a later run of the same files (a rebuild, or another database's codebase with the same id) is new
 * work, and taking an earlier run's result for it would leave its files unwritten.
 */
export function jobId(job: EmbedJob, runId: string): string {
  const h = createHash('sha256');
  h.update(`${runId}\n${job.codebaseId}\n${job.modelHash}\n${job.deltaStats ? 1 : 0}\n`);
  for (const f of job.files) h.update(`${f.path}\0${f.contentHash}\n`);
  return h.digest('hex').slice(0, 32);
}

/** Creates the pipeline's streams and the workers' consumer, or brings them to this configuration. */
export async function ensurePipeline(jsm: JetStreamManager, p: Pipeline): Promise<void> {
  const subj = p.jobSubject(0).replace(/\.0$/, '.>');
  await upsertStream(jsm, {
    name: p.jobs,
    subjects: [subj],
    retention: RetentionPolicy.Workqueue,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  });
  await upsertStream(jsm, { name: p.results, subjects: [p.resultSubject('>')], max_age: nanos(RESULTS_MAX_AGE_MS) });
  await upsertStream(jsm, { name: p.dead, subjects: [p.deadSubject('>')], max_age: nanos(DEAD_MAX_AGE_MS) });
  const consumer = { durable_name: p.workers, ack_policy: AckPolicy.Explicit, ack_wait: nanos(p.ackWaitMs), max_deliver: MAX_DELIVER };
  try {
    await jsm.consumers.info(p.jobs, p.workers);
    await jsm.consumers.update(p.jobs, p.workers, { ack_wait: consumer.ack_wait, max_deliver: consumer.max_deliver });
  } catch {
    await jsm.consumers.add(p.jobs, consumer);
  }
}

async function upsertStream(jsm: JetStreamManager, cfg: Parameters<JetStreamManager['streams']['add']>[0] & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(cfg.name);
  } catch {
    await jsm.streams.add(cfg);
    return;
  }
  const { retention: _r, ...changeable } = cfg; // a stream's retention cannot change
  await jsm.streams.update(cfg.name, changeable);
}

/** The error a failed result stands for. */
function resultError(r: Extract<ResultMessage, { ok: false }>): SemcodeError {
  return new SemcodeError(r.error.code, r.error.message);
}

/**
 * The producer's side: publishes jobs, hears their results. At most `capacity` jobs are out at once, so
 * a large tree is not all queued before the first result comes back (and a cancelled run withdraws little).
 */
export class JetStreamQueue implements JobQueue<EmbedJob, EmbedJobResult> {
  private readonly out = new Map<string, EmbedJob>();
  private readonly listeners: ((result: EmbedJobResult, job: EmbedJob) => void)[] = [];
  private failure: { error: unknown } | null = null;
  private wake: (() => void)[] = [];
  private stopped = false;
  private readonly runId = randomUUID();
  /** the publish in progress, if any */
  private publishing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly p: Pipeline,
    private readonly capacity: number,
    private readonly stop: () => Promise<void>,
  ) {}

  /** `signal`: a cancelled run withdraws its jobs no worker has started, and fails as cancelled. */
  static async open(nc: NatsConnection, opts: { pipeline?: Pipeline; capacity?: number; signal?: AbortSignal } = {}): Promise<JetStreamQueue> {
    const p = opts.pipeline ?? pipeline();
    const jsm = await jetstreamManager(nc);
    await ensurePipeline(jsm, p);
    const js = jetstream(nc);
    // Results from now on, ordered: subscribed before the first job is published, so none is missed.
    const consumer = await js.consumers.get(p.results, { deliver_policy: DeliverPolicy.New });
    const messages = await consumer.consume();
    const holder: { q?: JetStreamQueue } = {};
    const done = (async () => {
      for await (const m of messages) holder.q?.heard(m.json<ResultMessage>());
    })();
    holder.q = new JetStreamQueue(js, jsm, p, opts.capacity ?? 8, async () => {
      await messages.close();
      await done.catch(() => {});
    });
    const q = holder.q;
    opts.signal?.addEventListener('abort', () => {
      // Failed first, so no further job is published; then the jobs out are taken back.
      q.failure ??= { error: new SemcodeError('usage', 'indexing cancelled') };
      void q.withdraw().finally(() => q.changed());
    });
    return q;
  }

  onResult(listener: (result: EmbedJobResult, job: EmbedJob) => void): void {
    this.listeners.push(listener);
  }

  async push(job: EmbedJob): Promise<void> {
    while (!this.failure && this.out.size >= this.capacity) await this.waitForChange();
    if (this.failure) throw this.failure.error;
    const id = jobId(job, this.runId);
    if (this.out.has(id)) return; // the same work is already out
    this.out.set(id, job);
    const msg: JobMessage = { id, job };
    const publishing = publishRetrying(this.js, this.p.jobSubject(job.codebaseId), JSON.stringify(msg), id);
    this.publishing = publishing.then(
      () => {},
      () => {},
    );
    const ack = await publishing;
    if (ack.duplicate) {
      // An earlier try of this publish did land: its result may be in already.
      const last = await this.jsm.streams.getMessage(this.p.results, { last_by_subj: this.p.resultSubject(id) }).catch(() => null);
      if (last) this.heard(last.json<ResultMessage>());
    }
  }

  async drain(): Promise<void> {
    while (!this.failure && this.out.size) await this.waitForChange();
    if (this.failure) throw this.failure.error;
  }

  /** Stops listening for results; jobs still queued stay in the stream for the workers. */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.stop();
    this.failure ??= { error: new SemcodeError('nats_error', 'the job queue was closed') };
    this.changed();
  }

  /**
   * Takes back the jobs of this run that no worker has started (Ctrl-C, a cancel in VS Code); a job in a
   * worker's hands finishes. Returns how many were withdrawn.
   */
  async withdraw(): Promise<number> {
    await this.publishing; // a job on its way lands first, so it is taken back too
    let n = 0;
    for (const [id, job] of this.out) {
      const purged = await this.jsm.streams
        .purge(this.p.jobs, { filter: this.p.jobSubject(job.codebaseId), keep: 0 })
        .then((r) => r.purged)
        .catch(() => 0);
      n += purged;
      this.out.delete(id);
    }
    this.changed();
    return n;
  }

  private heard(r: ResultMessage): void {
    const job = this.out.get(r.id);
    if (!job) return; // another run's job
    this.out.delete(r.id);
    if (!r.ok) this.failure ??= { error: resultError(r) };
    else {
      try {
        for (const l of this.listeners) l(r.result, job);
      } catch (e) {
        this.failure ??= { error: e };
      }
    }
    this.changed();
  }

  private waitForChange(): Promise<void> {
    return new Promise((r) => this.wake.push(r));
  }

  private changed(): void {
    const w = this.wake;
    this.wake = [];
    for (const r of w) r();
  }
}

/**
 * Publishes, retrying while the server is away (a restart, a lost connection: the client reconnects): the
 * message id makes a retry that did reach the stream a duplicate the stream drops, never a second job.
 */
export async function publishRetrying(js: JetStreamClient, subject: string, data: string, msgID: string, tries = 8): Promise<PubAck> {
  for (let i = 1; ; i++) {
    try {
      return await js.publish(subject, data, { msgID, timeout: 5_000 });
    } catch (e) {
      if (i >= tries) throw new SemcodeError('nats_unreachable', `could not publish to ${subject} after ${tries} tries: ${errorMessage(e)}`, { cause: e });
      await new Promise((r) => setTimeout(r, Math.min(4_000, 250 * 2 ** (i - 1))));
    }
  }
}

/** What a worker does with one delivered job: handle it, publish its result, then ack. */
export async function workOn(
  m: JsMsg,
  js: JetStreamClient,
  p: Pipeline,
  handle: (job: EmbedJob) => Promise<EmbedJobResult>,
): Promise<'done' | 'retry' | 'failed'> {
  let msg: JobMessage;
  try {
    msg = m.json<JobMessage>();
  } catch (e) {
    m.term(); // (a reason with +TERM needs nats-server 2.10)
    return 'failed';
  }
  // A long job tells the server it is alive, so it is not given to another worker meanwhile.
  const alive = setInterval(() => m.working(), p.ackWaitMs / 3);
  try {
    const result = await handle(msg.job);
    await publishRetrying(
      js,
      p.resultSubject(msg.id),
      JSON.stringify({ id: msg.id, ok: true, result } satisfies ResultMessage),
      `r-${msg.id}-${m.info.deliveryCount}`,
    );
    m.ack(); // after the job's transaction committed and its result is stored
    return 'done';
  } catch (e) {
    const permanent = isSemcodeError(e) && PERMANENT.has(e.code);
    if (!permanent && m.info.deliveryCount < MAX_DELIVER) {
      m.nak(Math.min(30_000, 1_000 * 2 ** (m.info.deliveryCount - 1))); // backoff: 1 s, 2 s, 4 s...
      return 'retry';
    }
    const code: ErrorCode = isSemcodeError(e) ? e.code : 'inference_failed';
    const reason = errorMessage(e);
    const message = `job ${msg.id} (${msg.job.files.map((f) => f.path).join(', ')}) failed after ${m.info.deliveryCount} deliveries: ${reason}`;
    const dead: DeadJob = { ...msg, reason, code, deliveries: m.info.deliveryCount };
    await js.publish(p.deadSubject(msg.id), JSON.stringify(dead)).catch(() => {});
    await js.publish(p.resultSubject(msg.id), JSON.stringify({ id: msg.id, ok: false, error: { code, message } } satisfies ResultMessage)).catch(() => {});
    m.term();
    return 'failed';
  } finally {
    clearInterval(alive);
  }
}

/** Failures a retry cannot fix: the job is for another model, or its data is refused. */
const PERMANENT = new Set<ErrorCode>(['model_mismatch', 'permission_denied', 'usage']);
