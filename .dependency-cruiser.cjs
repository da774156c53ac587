/**
 * Layer rules for server/src and client/src, checked by `npm run lint:layers` (part of `npm test`): a
 * module may import from its own layer and the layers below it, never from one above. From the bottom:
 *
 *   errors.ts, chunk.ts,       typed errors; the chunk type; the LSP extensions shared with the client
 *   protocol/
 *   text/, identity/           words, stemming, BM25 vectors: what both the index and search compute alike;
 *                              a codebase's name from its repository (read by the migrations and the engine)
 *   model/                     Semcode's static model and its format: table, tokenizer, ONNX export/import
 *   store/                     the database seam, its drivers, migrations and every table's SQL
 *   embed/, index/, search/,   the model runtime; walking, chunking, indexing; search; the job queue
 *   jobs/
 *   train/                     fine-tuning and model export (uses the runtime, never the reverse)
 *   engine.ts                  the core the CLI and the language server share
 *   cli/, lsp/                 the two front ends; nothing imports them
 *   client/                    the VS Code extension: only protocol/ from the server
 *
 * Type-only imports count too: a type from a higher layer is a back-reference all the same. Cycles fail
 * as well. test/layers.test.ts runs these rules over the tree, and checks that a back-reference fails them.
 */
const layer = (name, path, mayNotImport) => ({
  name,
  severity: 'error',
  comment: `${path} may not import ${mayNotImport.join(', ')}`,
  from: { path },
  to: { path: mayNotImport.map((p) => `^${p}`) },
});

const SRC = 'server/src';
const ABOVE_TEXT = [
  `${SRC}/store/`,
  `${SRC}/embed/`,
  `${SRC}/index/`,
  `${SRC}/search/`,
  `${SRC}/train/`,
  `${SRC}/engine`,
  `${SRC}/cli/`,
  `${SRC}/lsp/`,
  `${SRC}/jobs/`,
];

module.exports = {
  forbidden: [
    layer('errors-and-protocol-are-the-bottom', `^${SRC}/(errors\\.ts|chunk\\.ts|protocol/)`, [`${SRC}/text/`, ...ABOVE_TEXT]),
    layer('text-is-below-everything-but-errors', `^${SRC}/text/`, [`${SRC}/model/`, `${SRC}/identity/`, ...ABOVE_TEXT]),
    layer('identity-is-below-everything-but-errors', `^${SRC}/identity/`, [`${SRC}/text/`, `${SRC}/model/`, ...ABOVE_TEXT]),
    layer('the-model-format-is-below-its-users', `^${SRC}/model/`, ABOVE_TEXT),
    layer(
      'store-is-below-the-engine-layers',
      `^${SRC}/store/`,
      ABOVE_TEXT.filter((p) => p !== `${SRC}/store/` && p !== `${SRC}/jobs/`),
    ),
    layer('runtime-does-not-use-training', `^${SRC}/(embed|index|search|jobs)/`, [`${SRC}/train/`, `${SRC}/engine`, `${SRC}/cli/`, `${SRC}/lsp/`]),
    layer('training-is-below-the-engine', `^${SRC}/train/`, [`${SRC}/engine`, `${SRC}/cli/`, `${SRC}/lsp/`]),
    layer('engine-is-below-the-front-ends', `^${SRC}/engine`, [`${SRC}/cli/`, `${SRC}/lsp/`]),
    layer('front-ends-are-apart', `^${SRC}/cli/`, [`${SRC}/lsp/`]),
    layer('front-ends-are-apart-too', `^${SRC}/lsp/`, [`${SRC}/cli/`]),
    {
      name: 'client-uses-only-the-protocol',
      severity: 'error',
      comment: 'the extension host only shows things: it may share the protocol types, nothing else of the server',
      from: { path: '^client/src/' },
      to: { path: `^${SRC}/`, pathNot: `^${SRC}/protocol/` },
    },
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'a cycle is a back-reference by another name',
      from: { path: '^(server|client)/src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
