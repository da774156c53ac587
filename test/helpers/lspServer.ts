// Drives the bundled language server (dist/server.js) over stdio as an editor would, recording every
// notification in arrival order so tests can check what happened before what.
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { StreamMessageReader, StreamMessageWriter, createMessageConnection, type MessageConnection } from 'vscode-jsonrpc/node';
import { type IndexedParams, type ServerStatus, indexedNotification, statusNotification } from '../../server/src/protocol/lspExt';

export const SERVER = join(__dirname, '..', '..', 'dist', 'server.js');
export const DEFAULT_MODEL = join(__dirname, '..', '..', 'models', 'default');
const NODE_MODULES = join(__dirname, '..', '..', 'node_modules');

/** Real code from installed packages (pinned by package-lock.json), copied under lib/<package>/. */
export const REAL_FILES = [
  'camelcase/index.js',
  'decamelize/index.js',
  'balanced-match/index.js',
  'brace-expansion/index.js',
  'escape-string-regexp/index.js',
  'fast-deep-equal/index.js',
  'flat/index.js',
  'fastq/queue.js',
  'pg/lib/utils.js',
  'ignore/index.js',
];

export function copyRealCode(root: string, files = REAL_FILES): string {
  for (const f of files) {
    const to = join(root, 'lib', f);
    mkdirSync(dirname(to), { recursive: true });
    cpSync(join(NODE_MODULES, f), to);
  }
  return root;
}

export type Event =
  | { seq: number; kind: 'status'; status: ServerStatus }
  | { seq: number; kind: 'indexed'; indexed: IndexedParams }
  | { seq: number; kind: 'progress'; token: string | number; value: { kind: string; cancellable?: boolean; message?: string; percentage?: number } }
  | { seq: number; kind: 'log'; type: number; message: string };

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface StartOptions {
  roots: string[];
  initializationOptions: Record<string, unknown>;
  capabilities?: Record<string, unknown>;
  /** runs after `initialize` and before `initialized` (e.g. to pause indexing before it starts) */
  beforeInitialized?: (s: LspServer) => Promise<void>;
  /** answers workspace/configuration, one value per item (needs capabilities.workspace.configuration) */
  onConfiguration?: (items: { scopeUri?: string; section?: string }[]) => unknown[];
  /** answers window/showMessageRequest; default: no choice */
  onShowMessage?: (params: { message: string; actions?: { title: string }[] }) => { title: string } | null;
}

export class LspServer {
  readonly events: Event[] = [];
  private seq = 0;
  private waiters: { pred: (e: Event) => boolean; resolve: (e: Event) => void }[] = [];
  readonly shownMessages: string[] = [];
  readonly registrations: { method: string; registerOptions?: unknown }[] = [];

  private constructor(
    readonly child: ChildProcess,
    readonly conn: MessageConnection,
  ) {}

  static async start(opts: StartOptions): Promise<LspServer> {
    const child = spawn(process.execPath, [SERVER, '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    const s = new LspServer(child, conn);
    conn.onNotification(statusNotification, (status) => s.push({ kind: 'status', status }));
    conn.onNotification(indexedNotification, (indexed) => s.push({ kind: 'indexed', indexed }));
    conn.onNotification('$/progress', (p: { token: string | number; value: Extract<Event, { kind: 'progress' }>['value'] }) =>
      s.push({ kind: 'progress', token: p.token, value: p.value }),
    );
    conn.onNotification('window/logMessage', (p: { type: number; message: string }) => s.push({ kind: 'log', type: p.type, message: p.message }));
    conn.onRequest('window/workDoneProgress/create', () => null);
    conn.onRequest('workspace/configuration', (p: { items: { scopeUri?: string; section?: string }[] }) =>
      opts.onConfiguration ? opts.onConfiguration(p.items) : p.items.map(() => null),
    );
    conn.onRequest('client/registerCapability', (p: { registrations: { method: string; registerOptions?: unknown }[] }) => {
      s.registrations.push(...p.registrations);
      return null;
    });
    conn.onRequest('window/showMessageRequest', (p: { message: string; actions?: { title: string }[] }) => {
      s.shownMessages.push(p.message);
      return opts.onShowMessage?.(p) ?? null;
    });
    conn.listen();
    await conn.sendRequest('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: opts.capabilities ?? {},
      workspaceFolders: opts.roots.map((r, i) => ({ uri: pathToFileURL(r).toString(), name: `folder${i}` })),
      initializationOptions: opts.initializationOptions,
    });
    await opts.beforeInitialized?.(s);
    await conn.sendNotification('initialized', {});
    return s;
  }

  /** The sequence number the next event will get: events at or after it happened after now. */
  get now(): number {
    return this.seq;
  }

  private push(e: DistributiveOmit<Event, 'seq'>): void {
    const ev = { ...e, seq: this.seq++ };
    this.events.push(ev);
    for (const w of [...this.waiters]) {
      if (w.pred(ev)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(ev);
      }
    }
  }

  /** The first event from `since` on matching `pred` (already received or still to come). */
  waitFor<E extends Event>(pred: (e: Event) => e is E, since = 0, timeoutMs = 120_000): Promise<E> {
    const found = this.events.find((e) => e.seq >= since && pred(e));
    if (found) return Promise.resolve(found as E);
    return new Promise<E>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting; last events: ${JSON.stringify(this.events.slice(-5))}`)), timeoutMs);
      this.waiters.push({ pred: (e) => e.seq >= since && pred(e), resolve: (e) => (clearTimeout(t), resolve(e as E)) });
    });
  }

  waitStatus(pred: (s: ServerStatus) => boolean, since = 0): Promise<ServerStatus> {
    return this.waitFor((e): e is Extract<Event, { kind: 'status' }> => e.kind === 'status' && pred(e.status), since).then((e) => e.status);
  }

  /** The next status saying everything is indexed (quiescent and ok). */
  ready(since = 0): Promise<ServerStatus> {
    return this.waitStatus((s) => s.quiescent && s.health === 'ok', since);
  }

  waitIndexed(pred: (p: IndexedParams) => boolean = () => true, since = 0): Promise<IndexedParams> {
    return this.waitFor((e): e is Extract<Event, { kind: 'indexed' }> => e.kind === 'indexed' && pred(e.indexed), since).then((e) => e.indexed);
  }

  statuses(since = 0): ServerStatus[] {
    return this.events.filter((e): e is Extract<Event, { kind: 'status' }> => e.kind === 'status' && e.seq >= since).map((e) => e.status);
  }

  async stop(): Promise<void> {
    await this.conn.sendRequest('shutdown').catch(() => {});
    await this.conn.sendNotification('exit').catch(() => {});
    const exited = new Promise((r) => (this.child.exitCode !== null ? r(null) : this.child.once('exit', r)));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
    this.conn.dispose();
  }
}
