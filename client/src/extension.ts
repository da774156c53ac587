/**
 * The thin extension: starts the bundled language server, shows its status and forwards commands to it.
 * Indexing, embedding and search all run in the server process (and its worker thread), never in the
 * extension host, so the editor never stutters because of Semcode.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LanguageClient, type LanguageClientOptions, type ServerOptions, State, TransportKind } from 'vscode-languageclient/node';
import {
  type IndexedParams,
  type SearchParams,
  type SearchResult,
  type ServerStatus,
  indexedNotification,
  searchRequest,
  statusNotification,
} from '../../server/src/protocol/lspExt';
import { COMMANDS, registerCommands } from './commands';
import { SearchPalette } from './searchPalette';
import { SECTION, readSettings } from './settings';
import { StatusItem } from './statusItem';

/** What activate() returns: lets other extensions and the integration tests talk to the same server. */
export interface SemcodeApi {
  readonly client: LanguageClient;
  /** `semcode/search` (protocol objects built by another bundle would not match this client's, hence a function) */
  search(params: SearchParams, token?: vscode.CancellationToken): Promise<SearchResult>;
  /** the last `semcode/status` the server sent, if any */
  status(): ServerStatus | undefined;
  readonly onDidChangeStatus: vscode.Event<ServerStatus>;
  /** `semcode/indexed`: which files an index run wrote or removed */
  readonly onDidIndex: vscode.Event<IndexedParams>;
}

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<SemcodeApi> {
  const module = context.asAbsolutePath(path.join('dist', 'server.js'));
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6010'] } },
  };
  const log = vscode.window.createOutputChannel('Semcode');
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file' }],
    // Read at every (re)start; later changes reach the server through workspace/didChangeConfiguration,
    // and the server decides what they need (another database, a re-walk, a rebuild it asks about).
    initializationOptions: readSettings,
    synchronize: { configurationSection: SECTION },
    outputChannel: log,
  };
  const c = new LanguageClient('semcode', 'Semcode', serverOptions, clientOptions);
  client = c;

  const status = new StatusItem(COMMANDS.showActions);
  const palette = new SearchPalette(c, () => {
    const s = status.status;
    if (!s || (!s.quiescent && !s.paused)) return 'indexing: results may be incomplete';
    return s.paused ? 'indexing paused' : undefined;
  });
  context.subscriptions.push(log, status, ...registerCommands({ client: c, palette, status, log }));

  // Registered before start so the first status is not missed.
  const indexedEmitter = new vscode.EventEmitter<IndexedParams>();
  context.subscriptions.push(
    indexedEmitter,
    c.onNotification(statusNotification, (s) => status.update(s)),
    c.onNotification(indexedNotification, (p) => indexedEmitter.fire(p)),
  );
  context.subscriptions.push(
    c.onDidChangeState((e) => {
      if (e.newState === State.Stopped) status.stopped('the language server stopped (see Show Log)');
    }),
  );

  try {
    await c.start();
  } catch (err) {
    // Honest failure: the commands stay registered and report the error; the status item says why.
    const msg = err instanceof Error ? err.message : String(err);
    status.stopped(`the language server failed to start: ${msg}`);
    void vscode.window.showErrorMessage(`Semcode: the language server failed to start: ${msg}`, 'Show Log').then((a) => a && log.show());
  }

  return {
    client: c,
    search: (params, token) => c.sendRequest(searchRequest, params, token),
    status: () => status.status,
    onDidChangeStatus: status.onDidChange,
    onDidIndex: indexedEmitter.event,
  };
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
