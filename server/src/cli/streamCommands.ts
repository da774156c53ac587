/**
 * `semcode streams`: what JetStream reports about the indexing pipeline's streams and consumers (or any
 * stream on the server), for scripts (--json) and people. Only NATS is contacted: no database, no model.
 */
import type { ConsumerStatus, StreamDetail, StreamStatus } from '../protocol/lspExt';
import { connectNats, natsLocation } from '../jobs/natsConnect';
import { consumerDetail, deadJobs, listStreams, streamDetail } from '../jobs/streams';
import type { Usage } from './teamCommands';

export interface StreamArgs {
  nats?: string;
  'nats-creds'?: string;
  json?: boolean;
}

/** Runs `semcode streams [info NAME | consumer STREAM NAME]`; returns the exit status. */
export async function streamsCommand(rest: string[], a: StreamArgs, usage: Usage, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const url = a.nats ?? env.SEMCODE_NATS_URL;
  if (!url) throw usage('streams needs --nats nats://HOST:PORT (or SEMCODE_NATS_URL)');
  const [sub, ...args] = rest;
  const want = (n: number, form: string) => {
    if (args.length !== n) throw usage(`usage: semcode streams ${form}`);
  };
  if (sub === undefined) want(0, '');
  else if (sub === 'info') want(1, 'info NAME');
  else if (sub === 'consumer') want(2, 'consumer STREAM NAME');
  else if (sub === 'dead') want(0, 'dead');
  else throw usage(`streams takes info NAME, consumer STREAM NAME or dead, not '${sub}'`);
  const nc = await connectNats({ url, credsFile: a['nats-creds'], token: env.SEMCODE_NATS_TOKEN });
  try {
    let result: unknown;
    let text: string;
    if (sub === undefined) {
      const streams = await listStreams(nc);
      result = { streams };
      text = streams.length ? streams.map(streamLine).join('\n') : `no streams on ${natsLocation(url)}`;
    } else if (sub === 'info') {
      const s = await streamDetail(nc, args[0]!);
      result = s;
      text = [streamLine(s), `  subjects ${s.subjects.join(' ')}`, ...s.consumerList.map((c) => `  ${consumerLine(c)}`)].join('\n');
    } else if (sub === 'dead') {
      const dead = await deadJobs(nc);
      result = { dead };
      text = dead.length
        ? dead
            .map((d) => `${d.time}  job ${d.id} (codebase ${d.codebaseId}: ${d.files.join(', ')}) after ${d.deliveries} deliveries: ${d.code}: ${d.reason}`)
            .join('\n')
        : 'no dead-lettered jobs';
    } else {
      const c = await consumerDetail(nc, args[0]!, args[1]!);
      result = c;
      text = consumerLine(c);
    }
    process.stdout.write(`${a.json ? JSON.stringify(result) : text}\n`);
    return 0;
  } finally {
    await nc.close().catch(() => {});
  }
}

function streamLine(s: StreamStatus | StreamDetail): string {
  return `${s.name}  ${s.messages} messages, ${s.bytes} bytes, seq ${s.firstSeq}..${s.lastSeq}, ${s.consumers} consumers`;
}

function consumerLine(c: ConsumerStatus): string {
  return (
    `${c.stream}/${c.name}  pending ${c.pending}, ack pending ${c.ackPending}, redelivered ${c.redelivered}, waiting ${c.waiting}, ` +
    `last delivered seq ${c.delivered.streamSeq}${c.delivered.time ? ` at ${c.delivered.time}` : ''}, acked up to ${c.ackFloor.streamSeq}`
  );
}
