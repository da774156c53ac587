// The workspace the end-to-end tests open: a fresh copy of test/fixtures/e2e-workspace (real semver,
// pg-protocol and gyp sources) whose Semcode database lives in the temp dir, never in the user's cache.
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export function makeWorkspace(tmp, name) {
  const ws = join(tmp, name);
  cpSync(join(repoRoot, 'test/fixtures/e2e-workspace'), ws, { recursive: true });
  mkdirSync(join(ws, '.vscode'), { recursive: true });
  writeFileSync(join(ws, '.vscode/settings.json'), JSON.stringify({ 'semcode.databaseDir': join(tmp, `db-${name}`) }, null, 2));
  return ws;
}
