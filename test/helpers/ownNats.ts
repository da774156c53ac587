// A nats-server with JetStream of the test's own, on a free port with its own store, that the test may stop
// and start again (the shared one from scripts/ensure-nats.sh must not be restarted under other suites).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ownCluster';

export interface OwnNats {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** stops it and removes its store */
  remove(): Promise<void>;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ host: '127.0.0.1', port }, () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export async function ownNats(): Promise<OwnNats> {
  const port = await freePort();
  const store = mkdtempSync(join(tmpdir(), 'semcode-own-nats-'));
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], { stdio: 'ignore' });
    const end = Date.now() + 10_000;
    while (!(await answers(port))) {
      if (Date.now() > end) throw new Error(`nats-server did not answer on port ${port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
    child = null;
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    start,
    stop,
    remove: async () => {
      await stop();
      rmSync(store, { recursive: true, force: true });
    },
  };
}
