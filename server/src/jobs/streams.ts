/**
 * What JetStream reports about streams and consumers, as the plain shapes the CLI prints and the language
 * server sends (protocol/lspExt.ts): the same figures NATS gives, renamed, nothing computed.
 */
import { type ConsumerInfo, type JetStreamManager, type StreamInfo, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { SemcodeError, errorMessage } from '../errors';
import type { ConsumerStatus, DeadJobStatus, StreamDetail, StreamStatus } from '../protocol/lspExt';
import { type DeadJob, type Pipeline, pipeline } from './jetstreamQueue';

async function manager(nc: NatsConnection): Promise<JetStreamManager> {
  try {
    return await jetstreamManager(nc);
  } catch (e) {
    throw new SemcodeError('nats_error', `JetStream is not available on ${nc.getServer()}: ${errorMessage(e)}`, { cause: e });
  }
}

/** A JetStream time, or null for NATS's zero time (never). */
function isoOrNull(t: string | undefined): string | null {
  if (!t || t.startsWith('0001-01-01')) return null;
  return new Date(t).toISOString();
}

export function streamStatus(si: StreamInfo): StreamStatus {
  const st = si.state;
  return {
    name: si.config.name,
    subjects: si.config.subjects ?? [],
    messages: st.messages,
    bytes: st.bytes,
    firstSeq: st.first_seq,
    lastSeq: st.last_seq,
    firstTime: st.messages ? isoOrNull(st.first_ts) : null,
    lastTime: st.messages ? isoOrNull(st.last_ts) : null,
    consumers: st.consumer_count,
  };
}

export function consumerStatus(ci: ConsumerInfo): ConsumerStatus {
  // last_active is absent until the first delivery (and ack); the server sends a time, typed as nanoseconds
  const when = (s: { last_active?: unknown }) => {
    const t = s.last_active;
    if (typeof t === 'number') return t > 0 ? new Date(t / 1e6).toISOString() : null;
    return typeof t === 'string' ? isoOrNull(t) : null;
  };
  return {
    stream: ci.stream_name,
    name: ci.name,
    pending: ci.num_pending,
    ackPending: ci.num_ack_pending,
    redelivered: ci.num_redelivered,
    waiting: ci.num_waiting,
    delivered: { streamSeq: ci.delivered.stream_seq, time: when(ci.delivered) },
    ackFloor: { streamSeq: ci.ack_floor.stream_seq, time: when(ci.ack_floor) },
  };
}

function notFound(e: unknown, what: string): never {
  const code = (e as { api_error?: { err_code?: number }; code?: number }).api_error?.err_code;
  if (code === 10059 || code === 10014 || /not found/i.test(errorMessage(e))) throw new SemcodeError('nats_error', `${what} not found`, { cause: e });
  throw new SemcodeError('nats_error', `${what}: ${errorMessage(e)}`, { cause: e });
}

export async function listStreams(nc: NatsConnection): Promise<StreamStatus[]> {
  const jsm = await manager(nc);
  const out: StreamStatus[] = [];
  for await (const si of jsm.streams.list()) out.push(streamStatus(si));
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export async function streamDetail(nc: NatsConnection, name: string): Promise<StreamDetail> {
  const jsm = await manager(nc);
  let si: StreamInfo;
  try {
    si = await jsm.streams.info(name);
  } catch (e) {
    notFound(e, `stream ${name}`);
  }
  const consumerList: ConsumerStatus[] = [];
  for await (const ci of jsm.consumers.list(name)) consumerList.push(consumerStatus(ci));
  consumerList.sort((a, b) => a.name.localeCompare(b.name));
  return { ...streamStatus(si), consumerList };
}

export async function consumerDetail(nc: NatsConnection, stream: string, name: string): Promise<ConsumerStatus> {
  const jsm = await manager(nc);
  try {
    return consumerStatus(await jsm.consumers.info(stream, name));
  } catch (e) {
    notFound(e, `consumer ${name} of stream ${stream}`);
  }
}

/** The newest `limit` jobs of the pipeline's dead-letter stream, newest first (none before its first failure). */
export async function deadJobs(nc: NatsConnection, p: Pipeline = pipeline(), limit = 100): Promise<DeadJobStatus[]> {
  const jsm = await manager(nc);
  let si: StreamInfo;
  try {
    si = await jsm.streams.info(p.dead);
  } catch {
    return [];
  }
  const out: DeadJobStatus[] = [];
  for (let seq = si.state.last_seq; seq >= si.state.first_seq && seq > 0 && out.length < limit; seq--) {
    const m = await jsm.streams.getMessage(p.dead, { seq }).catch(() => null);
    if (!m) continue; // deleted
    const d = m.json<DeadJob>();
    out.push({
      id: d.id,
      codebaseId: d.job.codebaseId,
      files: d.job.files.map((f) => f.path),
      code: d.code,
      reason: d.reason,
      deliveries: d.deliveries,
      time: m.time.toISOString(),
    });
  }
  return out;
}
