// Bundles the CLI, the embedding worker, the language server and the extension client into dist/, plus the
// end-to-end test suite (dist/e2e/, run inside VS Code's extension host; never shipped).
// Packages that load native binaries or their own .wasm/.data files next to their code stay external and
// are resolved from node_modules (scripts/package-vsix.mjs ships exactly those). web-tree-sitter is bundled:
// its runtime and the grammars it loads are copied into dist/ (the chunker looks there first).
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');
const require = createRequire(import.meta.url);

const external = [
  'vscode',
  'onnxruntime-node',
  'onnxruntime-web',
  'sharp',
  '@huggingface/transformers',
  '@electric-sql/pglite',
  '@electric-sql/pglite-pgvector',
  'pg-native',
  // resolved at run time only as a fallback (dist/tree-sitter.wasm comes first)
  'web-tree-sitter/tree-sitter.wasm',
];

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  external,
  logLevel: 'warning',
};

const entries = [
  { entryPoints: ['server/src/cli/cli.ts'], outfile: 'dist/cli.js' },
  { entryPoints: ['server/src/embed/embedWorker.ts'], outfile: 'dist/embedWorker.js' },
  { entryPoints: ['server/src/lsp/server.ts'], outfile: 'dist/server.js' },
  { entryPoints: ['client/src/extension.ts'], outfile: 'dist/client.js' },
  {
    // mocha stays external: the runner and the spec files must share one mocha instance (its bdd globals).
    entryPoints: readdirSync('test/e2e/suite')
      .filter((f) => f === 'index.ts' || f.endsWith('.e2e.ts'))
      .map((f) => `test/e2e/suite/${f}`),
    outdir: 'dist/e2e',
    external: [...external, 'mocha'],
  },
];

// The tree-sitter runtime and the grammars the chunker loads (server/src/index/languages.ts names them).
function copyWasm() {
  mkdirSync('dist/grammars', { recursive: true });
  copyFileSync(require.resolve('web-tree-sitter/tree-sitter.wasm'), 'dist/tree-sitter.wasm');
  const grammars = dirname(require.resolve('tree-sitter-wasms/out/tree-sitter-typescript.wasm'));
  for (const lang of ['typescript', 'tsx', 'javascript', 'python', 'go', 'rust', 'java', 'c', 'cpp']) {
    copyFileSync(join(grammars, `tree-sitter-${lang}.wasm`), join('dist/grammars', `tree-sitter-${lang}.wasm`));
  }
}

copyWasm();
const contexts = await Promise.all(entries.map((e) => esbuild.context({ ...common, ...e })));
if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
}
