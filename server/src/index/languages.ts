/**
 * Which language a path is, which grammar parses it, and which syntax nodes are symbols. Node-type names come
 * from the grammars shipped by tree-sitter-wasms 0.1.13 (tree-sitter-typescript 0.20, -python 0.21, ...);
 * a grammar upgrade can rename nodes, so check test/chunker.test.ts after bumping it.
 */
import * as path from 'node:path';

/** Languages with a tree-sitter grammar; everything else is chunked as plain line windows. */
export type CodeLanguage = 'typescript' | 'tsx' | 'javascript' | 'python' | 'go' | 'rust' | 'java' | 'c' | 'cpp';

/** language → grammar file name, as found in tree-sitter-wasms/out/ (and copied to dist/grammars/). */
export const GRAMMAR_FILES: Record<CodeLanguage, string> = {
  typescript: 'tree-sitter-typescript.wasm',
  tsx: 'tree-sitter-tsx.wasm',
  javascript: 'tree-sitter-javascript.wasm',
  python: 'tree-sitter-python.wasm',
  go: 'tree-sitter-go.wasm',
  rust: 'tree-sitter-rust.wasm',
  java: 'tree-sitter-java.wasm',
  c: 'tree-sitter-c.wasm',
  cpp: 'tree-sitter-cpp.wasm',
};

export function isCodeLanguage(lang: string): lang is CodeLanguage {
  return Object.prototype.hasOwnProperty.call(GRAMMAR_FILES, lang);
}

// Grouped by hand (one language family a line), so Prettier leaves these tables as they are.
// prettier-ignore
const EXTENSIONS: Record<string, string> = {
  ts: 'typescript', mts: 'typescript', cts: 'typescript',
  tsx: 'tsx',
  js: 'javascript', mjs: 'javascript', cjs: 'javascript', jsx: 'javascript',
  py: 'python', pyi: 'python', pyw: 'python',
  go: 'go',
  rs: 'rust',
  java: 'java',
  // .h is C unless its content says C++ (see headerLanguage); the path alone cannot tell.
  c: 'c', h: 'c',
  cc: 'cpp', cpp: 'cpp', cxx: 'cpp', 'c++': 'cpp', hh: 'cpp', hpp: 'cpp', hxx: 'cpp', 'h++': 'cpp', ipp: 'cpp', inl: 'cpp', tpp: 'cpp',
  // plain text: only the id differs, they are all line windows
  md: 'markdown', markdown: 'markdown', mdx: 'markdown', rst: 'restructuredtext', adoc: 'asciidoc', txt: 'text',
  json: 'json', jsonc: 'json', json5: 'json', yaml: 'yaml', yml: 'yaml', toml: 'toml', ini: 'ini', cfg: 'ini', conf: 'ini',
  xml: 'xml', html: 'html', htm: 'html', vue: 'vue', svelte: 'svelte', css: 'css', scss: 'scss', sass: 'sass', less: 'less',
  sh: 'shell', bash: 'shell', zsh: 'shell', fish: 'shell', ps1: 'powershell', bat: 'bat', cmd: 'bat',
  sql: 'sql', graphql: 'graphql', gql: 'graphql', proto: 'proto',
  rb: 'ruby', php: 'php', cs: 'csharp', kt: 'kotlin', kts: 'kotlin', swift: 'swift', scala: 'scala', lua: 'lua',
  dart: 'dart', ex: 'elixir', exs: 'elixir', erl: 'erlang', hs: 'haskell', ml: 'ocaml', clj: 'clojure', r: 'r',
  m: 'objective-c', mm: 'objective-cpp', zig: 'zig', nim: 'nim', pl: 'perl', pm: 'perl', tf: 'terraform', cmake: 'cmake',
};

// prettier-ignore
const FILE_NAMES: Record<string, string> = {
  dockerfile: 'dockerfile', makefile: 'makefile', gnumakefile: 'makefile', 'cmakelists.txt': 'cmake',
  gemfile: 'ruby', rakefile: 'ruby', jenkinsfile: 'groovy',
};

// Content that is never worth embedding even if the walker's NUL sniff lets it through.
// prettier-ignore
const BINARY_EXTENSIONS = new Set([
  'png', 'jpg', 'jpeg', 'gif', 'bmp', 'ico', 'icns', 'webp', 'avif', 'tif', 'tiff', 'psd',
  'mp3', 'mp4', 'm4a', 'wav', 'ogg', 'flac', 'mov', 'avi', 'mkv', 'webm',
  'zip', 'gz', 'tgz', 'bz2', 'xz', 'zst', '7z', 'rar', 'tar', 'jar', 'war', 'whl',
  'woff', 'woff2', 'ttf', 'otf', 'eot', 'pdf',
  'exe', 'dll', 'so', 'dylib', 'a', 'o', 'obj', 'lib', 'class', 'pyc', 'pyo', 'wasm', 'node', 'bin', 'dat',
  'db', 'sqlite', 'sqlite3', 'onnx', 'pt', 'safetensors', 'npy', 'npz', 'pkl',
]);

/**
 * Language id for a path. Every text file is indexable: unknown extensions are 'text' (line windows).
 * null only for extensions that are binary formats, which should not be indexed at all.
 */
export function languageForPath(relPath: string): string | null {
  const base = path.posix.basename(relPath.replace(/\\/g, '/')).toLowerCase();
  const byName = FILE_NAMES[base];
  if (byName) return byName;
  const dot = base.lastIndexOf('.');
  if (dot <= 0) return 'text';
  const ext = base.slice(dot + 1);
  if (BINARY_EXTENSIONS.has(ext)) return null;
  return EXTENSIONS[ext] ?? 'text';
}

const CPP_HEADER_HINT =
  /^\s*(?:template\s*<|namespace\s+\w+\s*\{|class\s+\w+[^;]*\{|(?:public|private|protected)\s*:)|\bstd::|#include\s*<(?:string|vector|memory|map|iostream|cstdint|cstddef)>/m;

/** .h files are shared by C and C++; parse them as C++ when the content shows C++-only syntax. */
export function headerLanguage(text: string): 'c' | 'cpp' {
  return CPP_HEADER_HINT.test(text.slice(0, 200_000)) ? 'cpp' : 'c';
}

export type SymbolKind = 'function' | 'method' | 'class' | 'interface' | 'type' | 'enum' | 'module';

/** How one grammar's syntax tree maps to chunks. */
export interface LanguageSpec {
  /** definition node → kind. function-kind nodes inside a class-like symbol become `method`. */
  symbols: Record<string, SymbolKind>;
  /** kinds whose body is searched for member symbols (methods, nested classes) */
  containerKinds: ReadonlySet<SymbolKind>;
  /** nodes that wrap a definition and belong to its chunk (export, decorators, templates) */
  wrappers: ReadonlySet<string>;
  /** nodes whose children are scanned like top-level code (namespaces, modules, #ifdef, extern "C") */
  transparent: ReadonlySet<string>;
  /** transparent nodes whose name qualifies the symbols inside (namespace a { class B } → a.B) */
  qualifying: ReadonlySet<string>;
  /** leading siblings (doc comments, decorators, attributes) that belong to the definition below them */
  attached: ReadonlySet<string>;
  /** variable declarations whose value may be a function (`const f = () => {}`) */
  variableDecls: ReadonlySet<string>;
  /** values that make such a declaration (or a class field) a function */
  functionValues: ReadonlySet<string>;
  /** class fields that are methods when their value is a function */
  fieldDecls: ReadonlySet<string>;
  /** replaces an elided method body inside a class chunk */
  elision: string;
}

const set = (...xs: string[]): ReadonlySet<string> => new Set(xs);
const CLASSLIKE: ReadonlySet<SymbolKind> = new Set<SymbolKind>(['class', 'interface', 'enum']);

const JS_SYMBOLS: Record<string, SymbolKind> = {
  function_declaration: 'function',
  generator_function_declaration: 'function',
  class_declaration: 'class',
  abstract_class_declaration: 'class',
  method_definition: 'function',
  interface_declaration: 'interface',
  type_alias_declaration: 'type',
  enum_declaration: 'enum',
};

const jsSpec: LanguageSpec = {
  symbols: JS_SYMBOLS,
  containerKinds: new Set<SymbolKind>(['class']),
  // `namespace X {}` parses as an expression_statement holding an internal_module in this grammar version
  wrappers: set('export_statement', 'ambient_declaration', 'expression_statement'),
  transparent: set('internal_module', 'module'),
  qualifying: set('internal_module', 'module'),
  attached: set('comment', 'decorator'),
  variableDecls: set('lexical_declaration', 'variable_declaration'),
  functionValues: set('arrow_function', 'function', 'function_expression', 'generator_function'),
  fieldDecls: set('public_field_definition', 'field_definition'),
  elision: '{ ... }',
};

const cSymbols: Record<string, SymbolKind> = {
  function_definition: 'function',
  struct_specifier: 'class',
  union_specifier: 'class',
  enum_specifier: 'enum',
  type_definition: 'type',
};

const cSpec: LanguageSpec = {
  symbols: cSymbols,
  containerKinds: new Set<SymbolKind>(),
  wrappers: set(),
  transparent: set('preproc_if', 'preproc_ifdef', 'preproc_else', 'preproc_elif', 'preproc_elifdef', 'linkage_specification', 'declaration_list'),
  qualifying: set(),
  attached: set('comment'),
  variableDecls: set(),
  functionValues: set(),
  fieldDecls: set(),
  elision: '{ ... }',
};

const NONE = set();

export const LANGUAGE_SPECS: Record<CodeLanguage, LanguageSpec> = {
  typescript: jsSpec,
  tsx: jsSpec,
  javascript: jsSpec,
  python: {
    symbols: { function_definition: 'function', class_definition: 'class' },
    containerKinds: CLASSLIKE,
    wrappers: set('decorated_definition'),
    transparent: NONE,
    qualifying: NONE,
    attached: set('comment'),
    variableDecls: NONE,
    functionValues: NONE,
    fieldDecls: NONE,
    elision: '...',
  },
  go: {
    // type_declaration is resolved per type_spec (struct → class, interface → interface, else type)
    symbols: { function_declaration: 'function', method_declaration: 'method', type_spec: 'type', type_alias: 'type' },
    containerKinds: new Set<SymbolKind>(),
    // `type X struct{}` is one symbol; a `type ( ... )` group is scanned spec by spec
    wrappers: set('type_declaration'),
    transparent: set('type_declaration'),
    qualifying: NONE,
    attached: set('comment'),
    variableDecls: NONE,
    functionValues: NONE,
    fieldDecls: NONE,
    elision: '{ ... }',
  },
  rust: {
    symbols: {
      function_item: 'function',
      struct_item: 'class',
      union_item: 'class',
      enum_item: 'enum',
      trait_item: 'interface',
      impl_item: 'class',
      type_item: 'type',
      macro_definition: 'function',
    },
    containerKinds: CLASSLIKE,
    wrappers: NONE,
    transparent: set('mod_item', 'foreign_mod_item'),
    qualifying: set('mod_item'),
    attached: set('line_comment', 'block_comment', 'attribute_item'),
    variableDecls: NONE,
    functionValues: NONE,
    fieldDecls: NONE,
    elision: '{ ... }',
  },
  java: {
    symbols: {
      class_declaration: 'class',
      interface_declaration: 'interface',
      enum_declaration: 'enum',
      record_declaration: 'class',
      annotation_type_declaration: 'interface',
      method_declaration: 'method',
      constructor_declaration: 'method',
      compact_constructor_declaration: 'method',
    },
    containerKinds: CLASSLIKE,
    wrappers: NONE,
    transparent: NONE,
    qualifying: NONE,
    attached: set('line_comment', 'block_comment', 'comment'),
    variableDecls: NONE,
    functionValues: NONE,
    fieldDecls: NONE,
    elision: '{ ... }',
  },
  c: cSpec,
  cpp: {
    ...cSpec,
    symbols: { ...cSymbols, class_specifier: 'class' },
    containerKinds: new Set<SymbolKind>(['class']),
    wrappers: set('template_declaration'),
    transparent: set(...cSpec.transparent, 'namespace_definition'),
    qualifying: set('namespace_definition'),
  },
};
