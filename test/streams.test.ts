// `semcode streams` against a real nats-server with JetStream: the figures the CLI prints are the ones the
// server reports for the same stream and consumer; failures are one clear line.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { AckPolicy, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type NatsConnection, connect, nanos } from '@nats-io/transport-node';
import { consumerStatus, streamStatus } from '../server/src/jobs/streams';
import { natsUrl } from './helpers/nats';
import { tempDir } from './helpers/workspace';

const cli = (...args: string[]) => {
  const env = { ...process.env };
  delete env.SEMCODE_NATS_URL;
  const r = spawnSync(process.execPath, [join(__dirname, '..', 'bin', 'semcode.js'), 'streams', ...args], { encoding: 'utf8', env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('semcode streams on a real NATS JetStream server', () => {
  const tag = randomBytes(4).toString('hex');
  const stream = `SCTEST_${tag}`;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  before(async () => {
    nc = await connect({ servers: natsUrl() });
    jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`sctest.${tag}.>`], duplicate_window: nanos(60_000) });
    const js = jetstream(nc);
    for (let i = 0; i < 5; i++) await js.publish(`sctest.${tag}.jobs`, JSON.stringify({ job: i }), { msgID: `job-${i}` });
    const again = await js.publish(`sctest.${tag}.jobs`, JSON.stringify({ job: 0 }), { msgID: 'job-0' });
    assert.equal(again.duplicate, true, 'the duplicate window drops a re-publish');
    // long ack wait: nothing is redelivered by the clock while the test compares figures
    await jsm.consumers.add(stream, { durable_name: 'workers', ack_policy: AckPolicy.Explicit, ack_wait: nanos(120_000) });
    const c = await js.consumers.get(stream, 'workers');
    const first = await c.fetch({ max_messages: 3, expires: 2_000 });
    let i = 0;
    for await (const m of first) {
      if (i === 0) m.ack(); // done
      if (i === 2) m.nak(); // handed back: given out again below, and not acked
      if (++i === 3) break;
    }
    const second = await c.fetch({ max_messages: 1, expires: 2_000 });
    for await (const m of second) {
      assert.equal(m.info.deliveryCount, 2);
      break;
    }
  });
  after(async () => {
    await jsm?.streams.delete(stream).catch(() => {});
    await nc?.close();
  });

  test('the list, a stream and a consumer: the figures the server reports, in --json and in words', async () => {
    const list = cli('--nats', natsUrl(), '--json');
    assert.equal(list.code, 0, list.stderr);
    const listed = (JSON.parse(list.stdout) as { streams: { name: string }[] }).streams.find((s) => s.name === stream);
    assert.deepEqual(listed, streamStatus(await jsm.streams.info(stream)));
    assert.equal((listed as { messages: number }).messages, 5);

    const info = cli('info', stream, '--nats', natsUrl(), '--json');
    assert.equal(info.code, 0, info.stderr);
    const detail = JSON.parse(info.stdout) as { consumerList: unknown[] };
    assert.deepEqual(detail, { ...streamStatus(await jsm.streams.info(stream)), consumerList: [consumerStatus(await jsm.consumers.info(stream, 'workers'))] });

    const one = cli('consumer', stream, 'workers', '--nats', natsUrl(), '--json');
    assert.equal(one.code, 0, one.stderr);
    const c = JSON.parse(one.stdout) as Record<string, unknown>;
    assert.deepEqual(c, consumerStatus(await jsm.consumers.info(stream, 'workers')));
    // 5 stored, 3 given out: 2 never given; 2 given and unacked, one of them a second time
    assert.deepEqual([c.pending, c.ackPending, c.redelivered, c.waiting], [2, 2, 1, 0]);

    const words = cli('consumer', stream, 'workers', '--nats', natsUrl());
    assert.match(
      words.stdout,
      new RegExp(`^${stream}/workers  pending 2, ack pending 2, redelivered 1, waiting 0, last delivered seq 3 at \\S+, acked up to 1\\n$`),
    );
  });

  test('an unreachable server, a missing stream or consumer: exit 2 with one line; usage mistakes: exit 1', () => {
    const down = cli('--nats', 'nats://127.0.0.1:1');
    assert.equal(down.code, 2);
    assert.match(down.stderr, /^semcode: NATS unreachable at nats:\/\/127\.0\.0\.1:1/);
    assert.equal(down.stderr.trim().split('\n').length, 1, down.stderr);
    const missing = cli('info', `NOPE_${tag}`, '--nats', natsUrl());
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, new RegExp(`^semcode: stream NOPE_${tag} not found\\n$`));
    const noConsumer = cli('consumer', stream, 'nobody', '--nats', natsUrl());
    assert.equal(noConsumer.code, 2);
    assert.match(noConsumer.stderr, new RegExp(`^semcode: consumer nobody of stream ${stream} not found\\n$`));
    for (const args of [[], ['bogus', '--nats', natsUrl()], ['info', '--nats', natsUrl()], ['consumer', stream, '--nats', natsUrl()]]) {
      assert.equal(cli(...args).code, 1, args.join(' '));
    }
  });

  test('worker and index --nats: a missing URL, a bad --concurrency or an embedded database are usage errors (exit 1) that say so', () => {
    const work = tempDir('streams-usage');
    after(() => work.cleanup());
    const run = (...args: string[]) => {
      const env = { ...process.env };
      delete env.SEMCODE_NATS_URL;
      const r = spawnSync(process.execPath, [join(__dirname, '..', 'bin', 'semcode.js'), ...args], { encoding: 'utf8', env });
      return { code: r.status, stderr: r.stderr };
    };
    const cases: [string[], RegExp][] = [
      [['worker', '--db', 'postgres://127.0.0.1:1/x'], /worker needs --nats/],
      [['worker', '--nats', natsUrl(), '--db', 'postgres://127.0.0.1:1/x', '--concurrency', '0'], /--concurrency/],
      [['worker', '--nats', natsUrl(), '--db', 'postgres://127.0.0.1:1/x', '--concurrency', 'many'], /--concurrency/],
      [['worker', '--nats', natsUrl(), '--db', 'postgres://127.0.0.1:1/x', 'extra'], /worker takes no positional arguments/],
      [['worker', '--nats', natsUrl(), '--db-dir', join(work.dir, 'db')], /a worker needs --db postgres:/],
      [['index', '--nats', natsUrl(), '--db-dir', join(work.dir, 'db'), '--root', work.dir], /--nats needs --db postgres:/],
    ];
    for (const [args, want] of cases) {
      const r = run(...args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, want, args.join(' '));
    }
  });
});
