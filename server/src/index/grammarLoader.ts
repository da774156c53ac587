/**
 * Loading web-tree-sitter and the grammars: where the runtime's .wasm and the grammar files are found (next
 * to the bundle, else in node_modules), and the one-at-a-time queue every grammar load joins. Apart from the
 * chunking because it is all about packaging and the wasm runtime's quirks, and runs once, before the first
 * file is chunked.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
// require() rather than `import {}`: a bundler resolving an import statement picks the package's ESM build,
// which relies on import.meta and breaks inside a CommonJS bundle (esbuild.mjs keeps it external today).
// eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
const TreeSitter = require('web-tree-sitter') as typeof import('web-tree-sitter');
import { GRAMMAR_FILES, type CodeLanguage } from './languages';

const { Language, Parser } = TreeSitter;
type Language = import('web-tree-sitter').Language;
type Parser = import('web-tree-sitter').Parser;

let runtimeReady: Promise<void> | undefined;
// Language.load must not run concurrently: parallel loads race in the wasm dynamic linker
// ("bad export type for 'tree_sitter_python_external_scanner_create'"), so every load joins one queue.
let loadQueue: Promise<unknown> = Promise.resolve();
const languageCache = new Map<string, Promise<Language>>();

function firstExisting(candidates: Array<() => string>): string | undefined {
  for (const candidate of candidates) {
    try {
      const p = candidate();
      if (fs.existsSync(p)) return p;
    } catch {
      // require.resolve throws when the package is absent (bundled build): try the next candidate
    }
  }
  return undefined;
}

function initRuntime(): Promise<void> {
  runtimeReady ??= Parser.init({
    // Bundled builds ship tree-sitter.wasm next to the bundle; from source it is in the package folder.
    locateFile(name: string, scriptDirectory: string): string {
      return (
        firstExisting([() => path.join(__dirname, name), () => path.join(path.dirname(require.resolve('web-tree-sitter/tree-sitter.wasm')), name)]) ??
        path.join(scriptDirectory, name)
      );
    },
  }).catch((err: unknown) => {
    runtimeReady = undefined;
    throw err;
  });
  return runtimeReady;
}

function resolveGrammarDir(grammarDir: string | undefined): string {
  if (grammarDir) return grammarDir;
  const probe = GRAMMAR_FILES.typescript;
  const found = firstExisting([() => path.join(__dirname, 'grammars', probe), () => require.resolve(`tree-sitter-wasms/out/${probe}`)]);
  if (!found) throw new Error(`tree-sitter grammars not found (looked in ${path.join(__dirname, 'grammars')} and tree-sitter-wasms/out)`);
  return path.dirname(found);
}

function loadLanguage(file: string): Promise<Language> {
  let p = languageCache.get(file);
  if (!p) {
    // bytes rather than a path: Language.load(path) goes through a dynamic import('fs/promises'), which
    // under a loader hook (tsx in tests) can take seconds on a busy machine
    p = loadQueue.then(async () => Language.load(new Uint8Array(await fs.promises.readFile(file))));
    loadQueue = p.catch(() => undefined);
    languageCache.set(file, p);
    p.catch(() => languageCache.delete(file));
  }
  return p;
}

/** A parser for every code language, its grammar loaded from `grammarDir` (default: see resolveGrammarDir). */
export async function loadParsers(grammarDir: string | undefined): Promise<Map<CodeLanguage, Parser>> {
  await initRuntime();
  const dir = resolveGrammarDir(grammarDir);
  const parsers = new Map<CodeLanguage, Parser>();
  for (const lang of Object.keys(GRAMMAR_FILES) as CodeLanguage[]) {
    const file = path.join(dir, GRAMMAR_FILES[lang]);
    let language: Language;
    try {
      language = await loadLanguage(file);
    } catch (err) {
      throw new Error(`cannot load the ${lang} grammar ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    parsers.set(lang, new Parser().setLanguage(language));
  }
  return parsers;
}
