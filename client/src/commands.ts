/**
 * The commands and the actions menu behind the status-bar item. Each one is a single request to the server;
 * a failure is shown to the user with the server's own message.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { cancelRequest, pauseRequest, rebuildRequest, reindexRequest, resumeRequest } from '../../server/src/protocol/lspExt';
import type { SearchPalette } from './searchPalette';
import type { StatusItem } from './statusItem';

export const COMMANDS = {
  search: 'semcode.search',
  reindex: 'semcode.reindex',
  rebuild: 'semcode.rebuild',
  pause: 'semcode.pause',
  resume: 'semcode.resume',
  cancel: 'semcode.cancel',
  showLog: 'semcode.showLog',
  showActions: 'semcode.showActions',
} as const;

export interface CommandDeps {
  client: LanguageClient;
  palette: SearchPalette;
  status: StatusItem;
  log: vscode.OutputChannel;
}

function fail(what: string, err: unknown): void {
  void vscode.window.showErrorMessage(`Semcode: ${what} failed: ${err instanceof Error ? err.message : String(err)}`);
}

export function registerCommands({ client, palette, status, log }: CommandDeps): vscode.Disposable[] {
  // Reindex and rebuild resolve when the run ends; progress shows in the status item meanwhile, so the command
  // returns at once and only a failure is reported.
  const request = (what: string, send: () => Promise<unknown>) => (): void => {
    send().catch((err: unknown) => fail(what, err));
  };
  const actions: Record<Exclude<keyof typeof COMMANDS, 'showActions'>, (...args: unknown[]) => void> = {
    search: (query?: unknown) => palette.show(typeof query === 'string' ? query : undefined),
    reindex: request('re-indexing', () => client.sendRequest(reindexRequest)),
    rebuild: request('rebuilding the index', () => client.sendRequest(rebuildRequest)),
    pause: request('pausing', () => client.sendRequest(pauseRequest)),
    resume: request('resuming', () => client.sendRequest(resumeRequest)),
    cancel: request('cancelling the index run', () => client.sendRequest(cancelRequest)),
    showLog: () => log.show(true),
  };

  const showActions = async (): Promise<void> => {
    const paused = status.status?.paused === true;
    const running = status.status !== undefined && !status.status.quiescent;
    const items: Array<vscode.QuickPickItem & { run: () => void }> = [
      { label: '$(search) Search code by meaning', run: () => actions.search() },
      { label: '$(refresh) Re-index changed files', run: () => actions.reindex() },
      { label: '$(trash) Rebuild the index from scratch', detail: "drops this workspace's index and embeds everything again", run: () => actions.rebuild() },
      paused
        ? { label: '$(debug-continue) Resume indexing', run: () => actions.resume() }
        : { label: '$(debug-pause) Pause indexing', detail: 'searches keep working on what is indexed', run: () => actions.pause() },
      { label: '$(output) Show log', run: () => actions.showLog() },
    ];
    if (running) items.splice(4, 0, { label: '$(stop-circle) Cancel this index run', run: () => actions.cancel() });
    const picked = await vscode.window.showQuickPick(items, { title: 'Semcode', placeHolder: status.status?.message ?? 'Semcode actions' });
    picked?.run();
  };

  return [
    ...Object.entries(actions).map(([name, run]) => vscode.commands.registerCommand(COMMANDS[name as keyof typeof actions], run)),
    vscode.commands.registerCommand(COMMANDS.showActions, showActions),
  ];
}
