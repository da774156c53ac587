#!/usr/bin/env node
// Packages the extension as a linux-x64 VSIX with `vsce package`: onnxruntime-node's native binary makes a
// VSIX platform-specific. .vscodeignore picks the files (bundles, default model, runtime node_modules).
// Run after `npm run build` (`npm run package` does both). Prints the VSIX path as the last line of stdout.
//   node scripts/package-vsix.mjs [--out FILE]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const target = 'linux-x64';
const i = process.argv.indexOf('--out');
const out = resolve(i > 0 ? process.argv[i + 1] : join(root, `${pkg.name}-${pkg.version}-${target}.vsix`));

for (const f of ['dist/client.js', 'dist/server.js', 'dist/embedWorker.js', 'dist/tree-sitter.wasm', 'models/default']) {
  if (!existsSync(join(root, f))) {
    console.error(`package-vsix: ${f} is missing: run npm run build first`);
    process.exit(1);
  }
}

const vsce = join(root, 'node_modules/@vscode/vsce/vsce');
const r = spawnSync(
  process.execPath,
  [
    vsce,
    'package',
    '--target',
    target,
    '--out',
    out,
    // No LICENSE file or repository URL in this repo yet; README links stay relative (the screenshot ships inside).
    '--skip-license',
    '--allow-missing-repository',
    '--no-rewrite-relative-links',
  ],
  // stdin closed: vsce asks y/N on warnings, and a question nobody answers must fail, not hang.
  { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] },
);
if (r.status !== 0) {
  console.error(`package-vsix: vsce package failed (exit ${r.status ?? r.signal})`);
  process.exit(1);
}
console.log(`package-vsix: ${(statSync(out).size / 2 ** 20).toFixed(1)} MiB`);
console.log(out);
