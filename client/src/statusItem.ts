/**
 * The status-bar item: the server's health at a glance, progress while indexing, details in the tooltip.
 * It only renders what `semcode/status` says; clicking it opens the actions menu (commands.ts).
 */
import * as vscode from 'vscode';
import type { ServerStatus } from '../../server/src/protocol/lspExt';
import { presentStatus } from './statusView';

export class StatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('semcode.status', vscode.StatusBarAlignment.Left, 0);
  private readonly changed = new vscode.EventEmitter<ServerStatus>();
  private last: ServerStatus | undefined;
  private stoppedReason: string | undefined;
  /** Fires for every status the server sends (the tests wait on it). */
  readonly onDidChange = this.changed.event;

  constructor(command: string) {
    this.item.name = 'Semcode';
    this.item.command = command;
    this.render();
    this.item.show();
  }

  get status(): ServerStatus | undefined {
    return this.last;
  }

  update(s: ServerStatus): void {
    this.last = s;
    this.stoppedReason = undefined;
    this.render();
    this.changed.fire(s);
  }

  /** The language server is gone (crashed, failed to start): say so instead of showing a stale state. */
  stopped(reason: string): void {
    this.stoppedReason = reason;
    this.render();
  }

  private render(): void {
    const v = presentStatus(this.last, this.stoppedReason);
    this.item.text = v.text;
    this.item.tooltip = v.tooltip;
    this.item.backgroundColor = v.background ? new vscode.ThemeColor(`statusBarItem.${v.background}Background`) : undefined;
  }

  dispose(): void {
    this.item.dispose();
    this.changed.dispose();
  }
}
