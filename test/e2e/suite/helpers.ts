/** What the end-to-end specs share: the extension's API, waiting on server status, fixture paths. */
import * as vscode from 'vscode';
import type { SemcodeApi } from '../../../client/src/extension';
import type { ServerStatus } from '../../../server/src/protocol/lspExt';

export const EXTENSION_ID = 'semcode.semcode';

export async function semcode(): Promise<SemcodeApi> {
  const ext = vscode.extensions.getExtension<SemcodeApi>(EXTENSION_ID);
  if (!ext) throw new Error(`extension ${EXTENSION_ID} is not installed in this VS Code`);
  return ext.activate();
}

export function describeStatus(s: ServerStatus | undefined): string {
  return s ? JSON.stringify(s) : 'no status received yet';
}

/**
 * Resolves with the first status (the current one included) for which `done` holds. The bound is there so a
 * broken server fails the test with its last status instead of hanging the run; it is not a timing assertion.
 */
export function waitForStatus(api: SemcodeApi, done: (s: ServerStatus) => boolean, what: string, boundMs = 150_000): Promise<ServerStatus> {
  const now = api.status();
  if (now && done(now)) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`gave up waiting for ${what} after ${boundMs / 1000} s; last status: ${describeStatus(api.status())}`));
    }, boundMs);
    const sub = api.onDidChangeStatus((s) => {
      if (!done(s)) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(s);
    });
  });
}

export const indexed = (s: ServerStatus): boolean => s.quiescent && !s.paused && s.health === 'ok';

export function workspaceUri(rel: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('the tests need the fixture workspace open as a folder');
  return vscode.Uri.joinPath(folder.uri, ...rel.split('/'));
}

/** Posix path of a URI relative to the workspace folder. */
export function relativePath(uri: vscode.Uri): string {
  return vscode.workspace.asRelativePath(uri, false);
}

/** `p`, or a failure naming `what` after `boundMs` (a bound against hanging, not a timing assertion). */
export function bounded<T>(p: Promise<T>, boundMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up waiting for ${what} after ${boundMs / 1000} s`)), boundMs);
  });
  return Promise.race([p, gaveUp]).finally(() => clearTimeout(timer));
}
