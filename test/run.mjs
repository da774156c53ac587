#!/usr/bin/env node
// Runs every *.test.ts under test/, server/src and client/src with node's own test runner, one file at a
// time: storage suites share one PostgreSQL server and the embedder suites load real models, so running
// files in parallel on a 2-core machine only makes them slower and noisier. Then the end-to-end tests in a
// real VS Code (test/e2e/run.mjs: code-server + headless Chromium), unless SEMCODE_SKIP_E2E=1.
//   node test/run.mjs                 everything
//   node test/run.mjs lsp store       only the node:test files whose path contains one of these
//   node test/run.mjs e2e             only the end-to-end tests (also: a filter list that includes e2e)
// The last line is the total, "all: N passed, M failed".
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv.slice(2);
const wantE2e = only.length ? only.includes('e2e') : process.env.SEMCODE_SKIP_E2E !== '1';
const filters = only.filter((o) => o !== 'e2e');

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'fixtures' || name === 'e2e') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) collect(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

/** node:test over the files, spec output on the terminal and TAP into a file for the counts. */
function runUnit(files) {
  const dir = mkdtempSync(join(tmpdir(), 'semcode-tap-'));
  const tap = join(dir, 'results.tap');
  try {
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        '--test-concurrency=1',
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        '--test-reporter=tap',
        `--test-reporter-destination=${tap}`,
        ...files,
      ],
      { cwd: root, stdio: 'inherit' },
    );
    const text = readFileSync(tap, 'utf8');
    const count = (k) => Number(text.match(new RegExp(`^# ${k} (\\d+)$`, 'm'))?.[1] ?? 0);
    const failed = count('fail') + count('cancelled');
    // A crash that leaves no failing test behind still fails the run.
    return { passed: count('pass'), failed: failed || (r.status === 0 ? 0 : 1) };
  } catch (err) {
    console.error(`unit tests: ${err instanceof Error ? err.message : err}`);
    return { passed: 0, failed: 1 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** test/e2e/run.mjs, streamed; its last line carries the counts. */
function runE2e() {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(root, 'test/e2e/run.mjs')], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let last = '';
    p.stdout.on('data', (d) => {
      process.stdout.write(d);
      last = (last + d).split('\n').slice(-3).join('\n');
    });
    p.on('exit', (code) => {
      const m = /e2e: (\d+) passed, (\d+) failed/.exec(last);
      const counts = m ? { passed: Number(m[1]), failed: Number(m[2]) } : { passed: 0, failed: 1 };
      if (code !== 0 && counts.failed === 0) counts.failed = 1;
      resolve(counts);
    });
  });
}

let files = [...collect(join(root, 'test'), []), ...collect(join(root, 'server/src'), []), ...collect(join(root, 'client/src'), [])].sort();
if (only.length) files = files.filter((f) => filters.some((o) => f.includes(o))); // `e2e` alone: no unit files
if (!files.length && !wantE2e) {
  console.error('no test files found');
  process.exit(1);
}

const total = { passed: 0, failed: 0 };
const lines = [];
if (files.length) {
  const u = runUnit(files);
  lines.push(`unit: ${u.passed} passed, ${u.failed} failed`);
  total.passed += u.passed;
  total.failed += u.failed;
}
if (wantE2e) {
  console.log('\n=== end-to-end tests in a real VS Code (test/e2e/run.mjs; SEMCODE_SKIP_E2E=1 skips them)');
  const e = await runE2e();
  lines.push(`e2e: ${e.passed} passed, ${e.failed} failed`);
  total.passed += e.passed;
  total.failed += e.failed;
}
console.log(`\n${lines.join('\n')}\nall: ${total.passed} passed, ${total.failed} failed`);
process.exit(total.failed ? 1 : 0);
