/**
 * One connection to NATS for the CLI, the language server and workers: the URL (credentials in it, or a
 * token, or a creds file; TLS when the URL says tls://), failures as typed errors that name the server.
 */
import { readFileSync } from 'node:fs';
import { type NatsConnection, connect, credsAuthenticator } from '@nats-io/transport-node';
import { SemcodeError, errorMessage } from '../errors';

export interface NatsOptions {
  /** nats://host:port, tls://host:port, optionally with user:password@ or token@ */
  url: string;
  /** a token (SEMCODE_NATS_TOKEN), when the URL carries none */
  token?: string;
  /** a .creds file (JWT and NKey seed), for NATS accounts */
  credsFile?: string;
  /** ms to wait for the server (default 5000) */
  timeoutMs?: number;
  /** keep reconnecting after a lost connection (a long-running process); a one-shot command fails instead */
  reconnect?: boolean;
}

/** The URL without its credentials, safe to print. */
export function natsLocation(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

export async function connectNats(opts: NatsOptions): Promise<NatsConnection> {
  const where = natsLocation(opts.url);
  let creds: Uint8Array | undefined;
  if (opts.credsFile) {
    try {
      creds = readFileSync(opts.credsFile);
    } catch (e) {
      throw new SemcodeError('usage', `cannot read the NATS creds file ${opts.credsFile}: ${errorMessage(e)}`);
    }
  }
  try {
    return await connect({
      servers: opts.url,
      token: opts.token,
      authenticator: creds ? credsAuthenticator(creds) : undefined,
      tls: opts.url.startsWith('tls://') ? {} : undefined,
      timeout: opts.timeoutMs ?? 5_000,
      reconnect: opts.reconnect ?? false,
      name: `semcode ${process.pid}`,
    });
  } catch (e) {
    throw new SemcodeError('nats_unreachable', `NATS unreachable at ${where}: ${errorMessage(e)}`, { cause: e });
  }
}
