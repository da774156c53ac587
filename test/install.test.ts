// The README's first command on a fresh, offline machine: `npm ci` with nothing set in the environment.
// onnxruntime-node's postinstall downloads CUDA binaries and failed it with ENOTFOUND (npm 11 still runs
// dependency install scripts unless package.json's allowScripts says otherwise). CI runs the plain command
// itself; these checks name the cause when someone undoes the fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };

test("onnxruntime-node's downloading install script is denied in package.json", () => {
  assert.equal(pkg.allowScripts?.['onnxruntime-node'], false);
});

test('every dependency install script is reviewed, so npm runs none it was not told to', () => {
  const r = spawnSync('npm', ['install-scripts', 'ls'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: undefined } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /No packages with unreviewed install scripts/, r.stdout);
});

test('CI installs exactly as the README says, without the environment variable that used to hide the failure', () => {
  const ci = readFileSync(join(ROOT, '.ci', 'run'), 'utf8');
  assert.doesNotMatch(ci, /ONNXRUNTIME_NODE_INSTALL/);
  assert.match(ci, /^npm ci$/m);
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  assert.match(readme, /npm ci && npm run build && npx semcode index/);
  assert.doesNotMatch(readme, /npm 11 does not run dependency install scripts/);
});

test('the CPU inference binary shipped inside onnxruntime-node is installed without its script', () => {
  const bin = join(ROOT, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', process.platform, process.arch, 'onnxruntime_binding.node');
  assert.ok(existsSync(bin), `missing ${bin}`);
});
