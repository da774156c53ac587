// Bundles the CLI, the embedding worker, the language server and the extension client into dist/.
// Packages that load native binaries or their own .wasm/.data files next to their code stay external and
// are resolved from node_modules (the VSIX packaging step ships them).
import * as esbuild from 'esbuild';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const external = [
  'vscode',
  'onnxruntime-node',
  'onnxruntime-web',
  'sharp',
  '@huggingface/transformers',
  '@electric-sql/pglite',
  '@electric-sql/pglite-pgvector',
  'web-tree-sitter',
  'pg-native',
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
];

const contexts = await Promise.all(entries.map((e) => esbuild.context({ ...common, ...e })));
if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
}
