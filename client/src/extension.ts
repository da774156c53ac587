/**
 * The thin extension: starts the bundled language server and forwards the search command to it.
 * Nothing heavy runs here; the extension host must never stutter because of indexing.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LanguageClient, type LanguageClientOptions, type ServerOptions, TransportKind } from 'vscode-languageclient/node';
import { type SemcodeSettings, type ServerStatus, searchRequest, statusNotification } from '../../server/src/protocol/lspExt';

let client: LanguageClient | undefined;

function settings(): SemcodeSettings {
  const c = vscode.workspace.getConfiguration('semcode');
  return {
    model: c.get<string>('model') || undefined,
    databaseUrl: c.get<string>('databaseUrl') || undefined,
    databaseDir: c.get<string>('databaseDir') || undefined,
    ignore: c.get<string[]>('ignore'),
    maxFileSize: c.get<number>('maxFileSize'),
    backend: c.get<'cpu' | 'wasm'>('backend'),
  };
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const module = context.asAbsolutePath(path.join('dist', 'server.js'));
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6010'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file' }],
    initializationOptions: settings(),
  };
  client = new LanguageClient('semcode', 'Semcode', serverOptions, clientOptions);

  const item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 0);
  item.text = '$(sync~spin) Semcode';
  item.show();
  context.subscriptions.push(item);

  context.subscriptions.push(
    vscode.commands.registerCommand('semcode.search', async () => {
      const query = await vscode.window.showInputBox({ prompt: 'Search code by meaning' });
      if (!query || !client) return;
      try {
        const result = await client.sendRequest(searchRequest, { query, k: 20 });
        const picked = await vscode.window.showQuickPick(
          result.items.map((r) => ({
            label: r.symbol ?? r.path,
            description: `${r.path}:${r.startLine}  ${r.score.toFixed(3)}`,
            detail: r.snippet,
            r,
          })),
          { matchOnDescription: true, matchOnDetail: true },
        );
        if (picked) {
          const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(picked.r.uri));
          const range = new vscode.Range(picked.r.startLine - 1, 0, picked.r.endLine - 1, 0);
          await vscode.window.showTextDocument(doc, { selection: range });
        }
      } catch (e) {
        void vscode.window.showErrorMessage(`Semcode: ${e instanceof Error ? e.message : String(e)}`);
      }
    }),
  );

  await client.start();
  context.subscriptions.push(
    client.onNotification(statusNotification, (s: ServerStatus) => {
      const icon = s.health === 'ok' ? '$(check)' : s.health === 'error' ? '$(error)' : '$(sync~spin)';
      item.text = `${icon} Semcode${s.quiescent ? '' : ` ${s.files} files`}`;
      item.tooltip = `${s.message ?? s.health}\nmodel ${s.model ?? '-'} (${s.backend ?? '-'}, dim ${s.dimension ?? '-'})\n${s.files} files, ${s.chunks} chunks`;
    }),
  );
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
