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
    ignore: c.get<string[]>('ignore'),
    maxFileSize: c.get<number>('maxFileSize'),
    backend: c.get<'cpu' | 'wasm'>('backend'),
  };
}
