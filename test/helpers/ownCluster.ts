// A PostgreSQL cluster of a test's own, on a free port, that the test may stop and start (a fault test cannot
// restart the shared server every other suite uses). Same binaries as the machine's server, so pgvector as
// scripts/ensure-postgres.sh installed it is there. As root, the cluster runs as the postgres user.
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const PGBIN = process.env.SEMCODE_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface OwnCluster {
  url: string;
  start(): void;
  stop(): void;
  remove(): void;
}

/** A TCP port on loopback that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function ownCluster(): Promise<OwnCluster> {
  const root = process.getuid?.() === 0;
  // /var/tmp: the postgres user must reach it (root's home is private).
  const dir = mkdtempSync(join('/var/tmp', 'semcode-own-pg-'));
  const data = join(dir, 'data');
  const uid = root ? Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()) : null;
  if (uid !== null) chownSync(dir, uid, uid);
  const run = (cmd: string, args: string[]) =>
    execFileSync(root ? 'runuser' : join(PGBIN, cmd), root ? ['-u', 'postgres', '--', join(PGBIN, cmd), ...args] : args, { stdio: 'pipe' });
  const port = await freePort();
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
  const cluster: OwnCluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start: () =>
      run('pg_ctl', ['-D', data, '-l', join(dir, 'postgres.log'), '-w', '-t', '60', '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir}`, 'start']),
    stop: () => run('pg_ctl', ['-D', data, '-w', '-t', '60', '-m', 'fast', 'stop']),
    remove: () => {
      try {
        cluster.stop();
      } catch {
        // not running
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  cluster.start();
  return cluster;
}
