#!/usr/bin/env node
// End-to-end tests in a real VS Code: code-server + Debian's headless Chromium (scripts/e2e-setup.sh installs
// them once, into a cache outside the repo). Two parts, each on its own copy of test/fixtures/e2e-workspace:
//   1. the Mocha suite in dist/e2e/ through VS Code's own extension test runner (the `payload` query parameter
//      carries extensionDevelopmentPath and extensionTestsPath, as @vscode/test-web does);
//   2. a person at the keyboard (test/e2e/ui.mjs), which saves a screenshot of the search palette.
// By default the extension under test is the packaged VSIX, installed with `code-server --install-extension`;
// --dev loads the repo folder instead (faster, no packaging). Needs `npm run build` first.
//   node test/e2e/run.mjs [--dev] [--vsix FILE] [--grep PATTERN] [--no-ui] [--keep]
// Prints "e2e: N passed, M failed" last and exits non-zero on any failure.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { format } from 'node:util';
import { CodeServer, launchBrowser, toolPaths } from './codeServer.mjs';
import { searchLikeAPerson, statusItemLikeAPerson } from './ui.mjs';
import { makeWorkspace, repoRoot as root } from './workspace.mjs';

const argv = process.argv.slice(2);
const flag = (f) => argv.includes(f);
const option = (o) => (argv.includes(o) ? argv[argv.indexOf(o) + 1] : undefined);
const dev = flag('--dev');
const keep = flag('--keep');
const grep = option('--grep');
const SUITE_BOUND_MS = 10 * 60_000;
const START_MARK = 'SEMCODE_E2E_START'; // the same as test/e2e/suite/index.ts
const RESULT_PREFIX = 'SEMCODE_E2E_RESULT ';

/** What the person types and where they should land (the same fixture the suite searches). */
const UI_CASE = {
  query: 'bump the version number to the next release',
  symbol: 'SemVer.inc',
  file: 'semver/classes/semver.js',
  line: 208,
  screenshot: resolve(root, process.env.SEMCODE_E2E_SCREENSHOT || 'test-results/screenshot-search.png'),
};

const t0 = Date.now();
const secs = (t) => ((Date.now() - t) / 1000).toFixed(1);
const say = (msg) => console.log(`[e2e ${secs(t0)} s] ${msg}`);

function setup() {
  const r = spawnSync('bash', [join(root, 'scripts/e2e-setup.sh')], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error('scripts/e2e-setup.sh failed');
  return r.stdout.trim().split('\n').pop();
}

function packageVsix(out) {
  const r = spawnSync(process.execPath, [join(root, 'scripts/package-vsix.mjs'), '--out', out], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`packaging failed:\n${r.stdout}`);
  return r.stdout.trim().split('\n').slice(-2).join(' ');
}

/**
 * The packages esbuild.mjs leaves external must load from the installed extension alone (the suite only
 * exercises the default model, which needs neither onnxruntime): a missing file in .vscodeignore shows here.
 */
function checkRuntimeModules(extPath) {
  const script = `
    const { createRequire } = require('node:module');
    const req = createRequire(${JSON.stringify(join(extPath, 'dist/server.js'))});
    const mods = ['onnxruntime-node', 'onnxruntime-web', '@huggingface/transformers', '@electric-sql/pglite', '@electric-sql/pglite/nodefs', '@electric-sql/pglite-pgvector', 'sharp'];
    for (const m of mods) req(m);
    // the embedding worker import()s transformers.js: its ESM build must be there too
    import(req.resolve('@huggingface/transformers').replace(/\\.cjs$/, '.mjs')).then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['-e', script], { cwd: extPath, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the installed extension cannot load its runtime modules:\n${r.stderr}`);
}

/** Runs the Mocha suite in the extension host; resolves with its counts. */
async function runSuite(browser, cs, ws, extensionDevelopmentPath) {
  const page = await browser.newPage();
  let result;
  let exitCode;
  const exited = new Promise((res) => (exitCode = res));
  // The workbench logs a lot (gallery lookups that fail offline, ...): only the suite's own lines are shown,
  // everything goes to workbench.log.
  const wbLog = join(cs.tmp, 'workbench.log');
  let inSuite = false;
  await page.exposeFunction('codeAutomationLog', (type, args) => {
    const line = format(...(Array.isArray(args) ? args : [args]));
    appendFileSync(wbLog, `${line}\n`);
    if (line === START_MARK) inSuite = true;
    else if (line.startsWith(RESULT_PREFIX)) {
      result = JSON.parse(line.slice(RESULT_PREFIX.length));
      inSuite = false;
    } else if (inSuite) (type === 'error' ? console.error : console.log)(line);
  });
  await page.exposeFunction('codeAutomationExit', (code) => exitCode(code));
  if (grep) say(`--grep ${grep} (SEMCODE_E2E_GREP is read by the suite)`);
  await page.goto(cs.workbenchUrl(ws, { extensionDevelopmentPath, extensionTestsPath: join(root, 'dist/e2e/index.js') }));
  const bound = new Promise((_, rej) =>
    setTimeout(() => rej(new Error(`the suite did not finish within ${SUITE_BOUND_MS / 60000} min`)), SUITE_BOUND_MS).unref(),
  );
  const code = await Promise.race([exited, bound]);
  // The workbench as the suite left it (error notifications included) helps explain a failure.
  if (code !== 0) await page.screenshot({ path: join(cs.tmp, 'suite-end.png') }).catch(() => {});
  await page.close();
  if (!result) return { passed: 0, failed: 1, note: `the suite exited ${code} without reporting results; see ${wbLog}` };
  if (code !== 0 && result.failed === 0) return { ...result, failed: 1, note: `the test runner exited ${code}; see ${join(cs.tmp, 'suite-end.png')}` };
  return result;
}

async function main() {
  if (grep) process.env.SEMCODE_E2E_GREP = grep;
  for (const f of ['dist/client.js', 'dist/server.js', 'dist/e2e/index.js']) {
    if (!existsSync(join(root, f))) throw new Error(`${f} is missing: run npm run build first`);
  }
  let t = Date.now();
  const cache = setup();
  say(`setup checked in ${secs(t)} s (cache ${cache})`);

  const tmp = mkdtempSync(join(tmpdir(), 'semcode-e2e-'));
  const cs = new CodeServer(toolPaths(cache), tmp);
  let browser;
  let ok = false;
  const counts = { passed: 0, failed: 0 };
  try {
    let extPath = root;
    if (!dev) {
      t = Date.now();
      const vsix = option('--vsix') ? resolve(option('--vsix')) : join(tmp, 'semcode.vsix');
      if (!option('--vsix')) say(`packaged ${packageVsix(vsix)} in ${secs(t)} s`);
      t = Date.now();
      await cs.installExtension(vsix);
      const installed = readdirSync(cs.extDir).find((d) => d.startsWith('semcode.semcode-'));
      if (!installed) throw new Error(`the VSIX did not install into ${cs.extDir}: ${readdirSync(cs.extDir).join(', ')}`);
      extPath = join(cs.extDir, installed);
      checkRuntimeModules(extPath);
      say(`installed the VSIX into code-server as ${installed} in ${secs(t)} s; its runtime modules load`);
    }

    const wsSuite = makeWorkspace(tmp, 'ws-suite');
    const wsUi = makeWorkspace(tmp, 'ws-ui');
    t = Date.now();
    await cs.start(wsSuite);
    browser = await launchBrowser(join(tmp, 'chromium'));
    say(`code-server ${cs.url} and chromium up in ${secs(t)} s`);

    t = Date.now();
    const suite = await runSuite(browser, cs, wsSuite, extPath);
    counts.passed += suite.passed;
    counts.failed += suite.failed;
    say(`suite: ${suite.passed} passed, ${suite.failed} failed${suite.note ? ` (${suite.note})` : ''} in ${secs(t)} s`);

    if (!flag('--no-ui')) {
      const page = await browser.newPage();
      // Each UI test counts on its own; a failure leaves a screenshot of what the person would have seen.
      const uiTest = async (name, body) => {
        const started = Date.now();
        try {
          say(`UI: ${name}: ${await body()} (${secs(started)} s)`);
          counts.passed++;
        } catch (err) {
          counts.failed++;
          const shot = join(tmp, `ui-failure-${counts.failed}.png`);
          await page.screenshot({ path: shot }).catch(() => {});
          console.error(`UI test "${name}" failed: ${err instanceof Error ? err.message : err}\n  screenshot of the failure: ${shot}`);
        }
      };
      try {
        mkdirSync(dirname(UI_CASE.screenshot), { recursive: true });
        // --dev has nothing installed: load the repo folder as the development extension, without tests.
        await page.goto(cs.workbenchUrl(wsUi, dev ? { extensionDevelopmentPath: extPath } : {}));
        await uiTest('F1, search by meaning, Enter opens the right file at the right line', async () => {
          const pos = await searchLikeAPerson(page, UI_CASE);
          return `"${UI_CASE.query}" opened ${UI_CASE.file} at ${pos}; screenshot ${UI_CASE.screenshot}`;
        });
        await uiTest('the status item tells the model and offers the actions', () => statusItemLikeAPerson(page));
      } finally {
        await page.close().catch(() => {});
      }
    }
    ok = counts.failed === 0;
  } finally {
    await browser?.close().catch(() => {});
    await cs.stop();
    if (!ok) console.error(`code-server log: ${cs.logFile}`);
    if (ok && !keep) rmSync(tmp, { recursive: true, force: true });
    else console.error(`kept ${tmp}`);
  }
  say(`done in ${secs(t0)} s`);
  console.log(`e2e: ${counts.passed} passed, ${counts.failed} failed`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`e2e: ${err instanceof Error ? err.stack : err}`);
    console.log('e2e: 0 passed, 1 failed');
    process.exit(1);
  },
);
