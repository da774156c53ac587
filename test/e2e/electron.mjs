#!/usr/bin/env node
// The same end-to-end suite (dist/e2e/) on desktop VS Code through @vscode/test-electron, for developers
// with a network: it downloads VS Code on first use (into ${SEMCODE_E2E_CACHE:-~/.cache/semcode-e2e}/vscode-test,
// outside the repo), which fails on offline machines
// (use test/e2e/run.mjs, code-server, there). The UI-driving test is code-server only.
//   npm run test:electron            (VS Code stable; SEMCODE_VSCODE_VERSION=1.90.0 picks another)
//   SEMCODE_VSCODE_EXECUTABLE=/path/to/code npm run test:electron   (an installed VS Code, no download)
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTests } from '@vscode/test-electron';
import { makeWorkspace, repoRoot } from './workspace.mjs';

const cache = process.env.SEMCODE_E2E_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'semcode-e2e');
const tmp = mkdtempSync(join(tmpdir(), 'semcode-electron-'));
const ws = makeWorkspace(tmp, 'ws-suite');
let code = 1;
try {
  code = await runTests({
    extensionDevelopmentPath: repoRoot,
    extensionTestsPath: join(repoRoot, 'dist/e2e/index.js'),
    cachePath: join(cache, 'vscode-test'),
    version: process.env.SEMCODE_VSCODE_VERSION || 'stable',
    vscodeExecutablePath: process.env.SEMCODE_VSCODE_EXECUTABLE || undefined,
    extensionTestsEnv: { SEMCODE_E2E_GREP: process.env.SEMCODE_E2E_GREP ?? '' },
    launchArgs: [ws, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--user-data-dir', join(tmp, 'data')],
  });
} catch (err) {
  console.error(`test-electron: ${err instanceof Error ? err.message : err}`);
  console.error('(it downloads VS Code on first use: without a network, run the same suite on code-server: npm run test:e2e)');
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(code);
