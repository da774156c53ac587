/** The `semcode` configuration section, as the server receives it in initializationOptions. */
import * as vscode from 'vscode';
import type { SemcodeSettings } from '../../server/src/protocol/lspExt';

export const SECTION = 'semcode';

export function readSettings(): SemcodeSettings {
  const c = vscode.workspace.getConfiguration(SECTION);
  return {
    // Empty strings mean "the default": the server must not see them as a path or URL.
    model: c.get<string>('model') || undefined,
    databaseUrl: c.get<string>('databaseUrl') || undefined,
    databaseDir: c.get<string>('databaseDir') || undefined,
    databasePoolSize: c.get<number>('databasePoolSize'),
    ignore: c.get<string[]>('ignore'),
    maxFileSize: c.get<number>('maxFileSize'),
    backend: c.get<'cpu' | 'wasm'>('backend'),
    codebases: codebaseNames(),
  };
}

/** semcode.codebase per workspace folder (a resource setting), by the folder's path; unset ones left out. */
function codebaseNames(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const name = vscode.workspace.getConfiguration(SECTION, folder.uri).get<string>('codebase')?.trim();
    if (name && folder.uri.scheme === 'file') out[folder.uri.fsPath] = name;
  }
  return out;
}
