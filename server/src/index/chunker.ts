/**
 * Symbol-aware chunking: one chunk per function, method and class (plus interfaces, enums, type aliases,
 * structs, impls, traits), the code between them grouped into `block` chunks, and everything that has no
 * grammar cut into `lines` windows.
 *
 * Decisions worth knowing:
 * - A class chunk is the class text with every method body replaced by an elision marker (`{ ... }`, or
 *   `...` in Python). The method's signature stays so the class chunk still reads as an outline of its API;
 *   the body lives only in the method's own chunk, so no body is embedded twice. Doc comments and
 *   decorators of a method move to the method chunk. Nested classes longer than a few lines are treated
 *   like methods (own chunk, elided in the parent).
 * - Doc comments, decorators and attributes directly above a symbol (no blank line between) belong to it.
 * - Content lines are joined with '\n' whatever the file used (CRLF/CR), so a checkout's line-ending
 *   setting does not change chunk hashes; line numbers count CRLF, LF and lone CR alike.
 * - No chunk exceeds maxLines lines or MAX_CHUNK_CHARS characters; one longer line (minified code) is cut
 *   into character slices that all report that line.
 * - Tree-sitter is error tolerant, so broken syntax still gives symbols (also those inside ERROR nodes);
 *   only a parse that times out, or a mostly-ERROR tree without a single symbol, falls back to line windows.
 * - Kinds produced: function, method, class (also structs, Rust impls), interface (also traits), type, enum,
 *   block, lines. Namespaces/modules are not chunks of their own: their members are, qualified by them.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
// require() rather than `import {}`: a bundler resolving an import statement picks the package's ESM build,
// which relies on import.meta and breaks inside a CommonJS bundle (esbuild.mjs keeps it external today).
const TreeSitter: typeof import('web-tree-sitter') = require('web-tree-sitter');
import type { Chunk } from '../chunk';
import {
  GRAMMAR_FILES,
  LANGUAGE_SPECS,
  headerLanguage,
  isCodeLanguage,
  languageForPath,
  type CodeLanguage,
  type LanguageSpec,
  type SymbolKind,
} from './languages';

export { GRAMMAR_FILES, languageForPath };

const { Language, Parser } = TreeSitter;
type Language = import('web-tree-sitter').Language;
type Parser = import('web-tree-sitter').Parser;
type Node = import('web-tree-sitter').Node;

export interface ChunkerOptions {
  /** longest chunk in lines (default 120); longer symbols are split into overlapping windows */
  maxLines?: number;
  /** lines shared by consecutive windows of one symbol (default 10) */
  overlapLines?: number;
  /** longest block of grouped top-level code, and the size of plain-text windows (default 40) */
  groupLines?: number;
  /** folder holding the grammar .wasm files (default: <this file's dir>/grammars, else tree-sitter-wasms/out) */
  grammarDir?: string;
}

export interface Chunker {
  chunk(relPath: string, text: string): Chunk[];
}

/** Character cap per chunk: keeps minified or generated one-liners from becoming one giant chunk. */
export const MAX_CHUNK_CHARS = 8000;
/** Files larger than this are not parsed (time and memory), only windowed. */
const MAX_PARSE_CHARS = 1_500_000;
/**
 * A parse taking longer than this is abandoned for line windows. Only a safety net: the same content must
 * give the same chunks on a busy machine, so minified code is recognised by its shape (below), not by time.
 */
const PARSE_BUDGET_MS = 20_000;
/** Average characters per line above which a file is minified or generated: windowed, not parsed. */
const MINIFIED_CHARS_PER_LINE = 400;
/** Nested classes up to this many lines stay inline in their parent's chunk. */
const NESTED_CLASS_INLINE_LINES = 3;

// ---------------------------------------------------------------------------------------------------------
// Loading

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
        firstExisting([
          () => path.join(__dirname, name),
          () => path.join(path.dirname(require.resolve('web-tree-sitter/tree-sitter.wasm')), name),
        ]) ?? path.join(scriptDirectory, name)
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
  const found = firstExisting([
    () => path.join(__dirname, 'grammars', probe),
    () => require.resolve(`tree-sitter-wasms/out/${probe}`),
  ]);
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

/**
 * Loads web-tree-sitter and every grammar up front: `chunk()` is synchronous and grammars can only be
 * loaded asynchronously. All nine take about 0.1 s.
 */
export async function createChunker(opts: ChunkerOptions = {}): Promise<Chunker> {
  const maxLines = Math.max(2, Math.floor(opts.maxLines ?? 120));
  const overlapLines = Math.max(0, Math.min(Math.floor(opts.overlapLines ?? 10), Math.floor(maxLines / 2)));
  const groupLines = Math.max(1, Math.floor(opts.groupLines ?? 40));
  await initRuntime();
  const dir = resolveGrammarDir(opts.grammarDir);
  const parsers = new Map<CodeLanguage, Parser>();
  for (const lang of Object.keys(GRAMMAR_FILES) as CodeLanguage[]) {
    const file = path.join(dir, GRAMMAR_FILES[lang]);
    let language: Language;
    try {
      language = await loadLanguage(file);
    } catch (err) {
      throw new Error(`cannot load the ${lang} grammar ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
    parsers.set(lang, new Parser().setLanguage(language));
  }
  return new TreeSitterChunker(parsers, { maxLines, overlapLines, groupLines });
}

// ---------------------------------------------------------------------------------------------------------
// Chunking

interface Limits {
  maxLines: number;
  overlapLines: number;
  groupLines: number;
}

/** Text to be emitted as one or more chunks: content lines and the source row each came from. */
interface Piece {
  symbol: string | null;
  kind: string;
  /** rows the piece covers (a class covers its methods although their bodies are not in its lines) */
  startRow: number;
  endRow: number;
  lines: string[];
  rows: number[];
}

/** A top-level stretch of rows owned by a symbol: its own piece first, then its methods' pieces. */
interface Unit {
  startRow: number;
  endRow: number;
  pieces: Piece[];
}

interface Def {
  kind: SymbolKind;
  name: string;
  /** the definition itself */
  node: Node;
  /** the definition with its wrappers (export, decorators, template<>) */
  outer: Node;
  /** the body a class chunk elides; null when there is none (abstract method, prototype) */
  body: Node | null;
}

type Resolved = { def: Def } | { transparent: Node; name: string | null } | null;

class SourceText {
  readonly lines: string[];
  readonly normalized: string;
  private readonly starts: number[];

  constructor(text: string) {
    this.lines = text.split(/\r\n|\n|\r/);
    // Parsing the '\n'-joined text keeps tree-sitter's offsets aligned with our rows even for lone-CR files.
    this.normalized = this.lines.join('\n');
    this.starts = new Array<number>(this.lines.length);
    let at = 0;
    for (let i = 0; i < this.lines.length; i++) {
      this.starts[i] = at;
      at += this.lines[i]!.length + 1;
    }
  }

  /** row (0-based) holding UTF-16 offset `index` of the normalized text */
  rowAt(index: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  lineStart(row: number): number {
    return this.starts[row]!;
  }

  lineEnd(row: number): number {
    return this.starts[row]! + this.lines[row]!.length;
  }

  startRow(node: Node): number {
    return this.rowAt(node.startIndex);
  }

  /** last row with text of the node (a node ending in a newline does not own the next row) */
  endRow(node: Node): number {
    return this.rowAt(Math.max(node.startIndex, node.endIndex - 1));
  }

  contiguous(symbol: string | null, kind: string, startRow: number, endRow: number): Piece {
    const rows: number[] = [];
    for (let r = startRow; r <= endRow; r++) rows.push(r);
    return { symbol, kind, startRow, endRow, rows, lines: this.lines.slice(startRow, endRow + 1) };
  }
}

const isBlank = (s: string): boolean => !/\S/.test(s);

function namedChildren(node: Node): Node[] {
  return node.namedChildren.filter((c): c is Node => c !== null);
}

/** `linalg::Matrix<T>::at` → `linalg.Matrix.at` */
function cleanName(raw: string): string {
  let s = raw.replace(/\s+/g, '');
  for (let prev = ''; prev !== s; ) {
    prev = s;
    s = s.replace(/<[^<>]*>/g, '').replace(/\[[^[\]]*\]/g, '');
  }
  return s.replace(/::/g, '.').replace(/^[&*]+|^['"`]|['"`]$/g, '');
}

/** C/C++ names sit at the bottom of a declarator chain: `static int *(*f)(void)`, `double& at(int)`. */
function declaratorName(node: Node): string | null {
  let d: Node | null | undefined = node.childForFieldName('declarator');
  for (let depth = 0; d && depth < 16 && d.type.endsWith('_declarator'); depth++) {
    d = d.childForFieldName('declarator') ?? namedChildren(d).find((c) => /(_declarator|identifier|_name|template_function)$/.test(c.type));
  }
  if (!d || d.text.length > 200) return null;
  return d.text;
}

function findBody(node: Node): Node | null {
  const field = node.childForFieldName('body');
  if (field) return field;
  return namedChildren(node).find((c) => /(_body|declaration_list|^block|^statement_block|^compound_statement)$/.test(c.type)) ?? null;
}

function goTypeKind(spec: Node): SymbolKind {
  const t = spec.childForFieldName('type')?.type;
  return t === 'struct_type' ? 'class' : t === 'interface_type' ? 'interface' : 'type';
}

function resolve(node: Node, spec: LanguageSpec): Resolved {
  const type = node.type;
  if (spec.wrappers.has(type)) {
    let only: Def | null = null;
    let count = 0;
    for (const child of namedChildren(node)) {
      const r = resolve(child, spec);
      if (!r) continue;
      if ('transparent' in r) return r;
      only = r.def;
      count++;
    }
    if (count === 1 && only) return { def: { ...only, outer: node } };
    if (!spec.transparent.has(type)) return null;
  }
  if (spec.transparent.has(type)) {
    const name = spec.qualifying.has(type) ? node.childForFieldName('name')?.text ?? null : null;
    return { transparent: node, name: name === null ? null : cleanName(name) };
  }
  const kind = spec.symbols[type];
  if (kind) return resolveSymbol(node, kind);
  if (spec.variableDecls.has(type) || spec.fieldDecls.has(type)) return resolveFunctionValue(node, spec);
  return null;
}

function resolveSymbol(node: Node, kind: SymbolKind): Resolved {
  const type = node.type;
  let name: string | null = null;
  let k = kind;
  if (type.endsWith('_specifier')) {
    // `struct s;` and `struct s *p` are uses, not definitions
    if (!node.childForFieldName('body')) return null;
    name = node.childForFieldName('name')?.text ?? null;
  } else if (type === 'type_definition') {
    name = node.childForFieldName('declarator')?.text ?? null;
    const inner = node.childForFieldName('type');
    if (inner?.childForFieldName('body')) {
      if (inner.type === 'enum_specifier') k = 'enum';
      else if (/^(struct|union|class)_specifier$/.test(inner.type)) k = 'class';
    }
  } else if (type === 'type_spec') {
    name = node.childForFieldName('name')?.text ?? null;
    k = goTypeKind(node);
  } else if (type === 'impl_item') {
    const t = node.childForFieldName('type')?.text;
    if (t) name = cleanName(t).split('.').pop() ?? null;
  } else if (type === 'method_declaration' && node.childForFieldName('receiver')) {
    // Go: func (c *LRU) Get(...) → LRU.Get
    const recv = node.childForFieldName('receiver');
    const param = recv ? namedChildren(recv).find((c) => c.type === 'parameter_declaration') : undefined;
    const recvType = param?.childForFieldName('type')?.text;
    const method = node.childForFieldName('name')?.text;
    if (method) name = recvType ? `${cleanName(recvType)}.${method}` : method;
  } else {
    name = node.childForFieldName('name')?.text ?? null;
    if (name === null && type === 'function_definition') name = declaratorName(node);
  }
  if (!name) return null;
  name = cleanName(name);
  if (!name) return null;
  // C++ out-of-class definitions (`void Matrix::multiply() {}`) are methods of the qualifying class
  if (k === 'function' && type === 'function_definition' && name.includes('.')) k = 'method';
  const body = k === 'function' || k === 'method' ? node.childForFieldName('body') : findBody(node);
  return { def: { kind: k, name, node, outer: node, body } };
}

/** `const f = () => {}` and class fields holding arrow functions are functions named by their binding. */
function resolveFunctionValue(node: Node, spec: LanguageSpec): Resolved {
  let binding: Node = node;
  if (spec.variableDecls.has(node.type)) {
    const decls = namedChildren(node).filter((c) => c.type === 'variable_declarator');
    if (decls.length !== 1) return null;
    binding = decls[0]!;
  }
  const nameNode = binding.childForFieldName('name') ?? binding.childForFieldName('property');
  const value = binding.childForFieldName('value');
  if (!nameNode || !value || !spec.functionValues.has(value.type)) return null;
  if (!/^(identifier|property_identifier|private_property_identifier)$/.test(nameNode.type)) return null;
  return { def: { kind: 'function', name: nameNode.text, node, outer: node, body: value.childForFieldName('body') } };
}

class TreeSitterChunker implements Chunker {
  constructor(
    private readonly parsers: Map<CodeLanguage, Parser>,
    private readonly limits: Limits,
  ) {}

  chunk(relPath: string, text: string): Chunk[] {
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (!/\S/.test(text)) return [];
    let language = languageForPath(relPath) ?? 'text';
    if (language === 'c' && /\.h$/i.test(relPath)) language = headerLanguage(text);
    const src = new SourceText(text);
    let pieces: Piece[] | null = null;
    if (isCodeLanguage(language) && src.normalized.length <= MAX_PARSE_CHARS) {
      pieces = this.symbolPieces(src, language);
    }
    const out: Chunk[] = [];
    if (pieces === null) {
      const all = src.contiguous(null, 'lines', 0, src.lines.length - 1);
      const size = this.limits.groupLines;
      const overlap = Math.min(this.limits.overlapLines, Math.floor(size / 4));
      emitWindows(out, relPath, language, all, size, overlap, true);
      return out;
    }
    for (const piece of pieces) {
      if (piece.kind === 'block') emitWindows(out, relPath, language, piece, this.limits.groupLines, 0, true);
      else emitWindows(out, relPath, language, piece, this.limits.maxLines, this.limits.overlapLines, false);
    }
    return out;
  }

  /** null when the file should be windowed instead (parse abandoned or mostly errors) */
  private symbolPieces(src: SourceText, language: CodeLanguage): Piece[] | null {
    const parser = this.parsers.get(language);
    if (!parser) return null;
    if (src.normalized.length / Math.max(1, src.lines.length) > MINIFIED_CHARS_PER_LINE) return null;
    const deadline = Date.now() + PARSE_BUDGET_MS;
    let tree;
    try {
      tree = parser.parse(src.normalized, null, { progressCallback: () => Date.now() > deadline });
    } catch {
      tree = null;
    }
    if (!tree) {
      parser.reset();
      return null;
    }
    try {
      const root = tree.rootNode;
      const { pieces, symbols } = new Extractor(src, LANGUAGE_SPECS[language]).run(root);
      // symbols found inside ERROR nodes are still worth having; a broken file without any is just text
      if (symbols === 0 && root.hasError && mostlyErrors(root, src)) return null;
      return pieces;
    } catch {
      // an unexpected tree shape must cost this file its symbols, not the whole indexing run
      return null;
    } finally {
      tree.delete();
    }
  }
}

function mostlyErrors(root: Node, src: SourceText): boolean {
  if (root.isError) return true;
  let errorRows = 0;
  for (const c of namedChildren(root)) if (c.isError) errorRows += src.endRow(c) - src.startRow(c) + 1;
  return errorRows * 2 > src.lines.length;
}

class Extractor {
  constructor(
    private readonly src: SourceText,
    private readonly spec: LanguageSpec,
  ) {}

  run(root: Node): { pieces: Piece[]; symbols: number } {
    const units: Unit[] = [];
    this.scan(root, '', units);
    units.sort((a, b) => a.startRow - b.startRow);
    return { pieces: this.fillGaps(units), symbols: units.length };
  }

  /** Collects the symbols among `container`'s children, descending into namespaces and the like. */
  private scan(container: Node, prefix: string, units: Unit[]): void {
    const children = namedChildren(container);
    for (let i = 0; i < children.length; i++) {
      const child = children[i]!;
      if (this.spec.attached.has(child.type)) continue;
      if (child.type === 'ERROR') {
        // tree-sitter keeps the well-formed definitions around a syntax error as children of the ERROR node
        this.scan(child, prefix, units);
        continue;
      }
      const r = resolve(child, this.spec);
      if (!r) continue;
      if ('transparent' in r) {
        const inner = r.transparent.childForFieldName('body') ?? r.transparent;
        const q = r.name ? qualify(prefix, r.name) : prefix;
        // a qualifying node's body is itself transparent in some grammars (declaration_list): scan it directly
        this.scan(inner, q, units);
        continue;
      }
      units.push(this.symbolUnit(r.def, this.leadingStart(children, i), prefix, false));
    }
  }

  /** Offset where `children[i]` really starts: its doc comments, decorators and attributes directly above. */
  private leadingStart(children: Node[], i: number): number {
    let start = children[i]!.startIndex;
    let top = this.src.startRow(children[i]!);
    for (let j = i - 1; j >= 0; j--) {
      const c = children[j]!;
      if (!this.spec.attached.has(c.type)) break;
      if (this.src.endRow(c) < top - 1) break; // blank line between: a separate comment
      // a trailing comment of the previous statement (`x = 1; // note`) is not a doc comment
      if (j > 0 && this.src.endRow(children[j - 1]!) >= this.src.startRow(c)) break;
      start = c.startIndex;
      top = this.src.startRow(c);
    }
    return start;
  }

  private symbolUnit(def: Def, start: number, prefix: string, member: boolean): Unit {
    const name = qualify(prefix, def.name);
    const kind = member && def.kind === 'function' ? 'method' : def.kind;
    const startRow = this.src.rowAt(start);
    const endRow = this.src.endRow(def.outer);
    const members = this.spec.containerKinds.has(def.kind) && def.body ? this.members(def.body, name) : [];
    if (members.length === 0) return { startRow, endRow, pieces: [this.src.contiguous(name, kind, startRow, endRow)] };
    // whole lines at the edges: `};` after a C++ class, `export default` before a class expression
    const outline = this.outline(this.src.lineStart(startRow), this.src.lineEnd(endRow), startRow, endRow, members);
    const pieces: Piece[] = [{ symbol: name, kind, startRow, endRow, ...outline }];
    for (const m of members) pieces.push(...m.unit.pieces);
    return { startRow, endRow, pieces };
  }

  /** Methods and sizable nested classes of a class body, each with its own unit. */
  private members(body: Node, owner: string): Array<{ def: Def; start: number; unit: Unit }> {
    const out: Array<{ def: Def; start: number; unit: Unit }> = [];
    const visit = (parent: Node): void => {
      const children = namedChildren(parent);
      for (let i = 0; i < children.length; i++) {
        const child = children[i]!;
        // Java enums keep their methods one level down
        if (child.type === 'enum_body_declarations') {
          visit(child);
          continue;
        }
        if (this.spec.attached.has(child.type)) continue;
        const r = resolve(child, this.spec);
        if (!r || 'transparent' in r || !r.def.body) continue;
        const { def } = r;
        const isFunction = def.kind === 'function' || def.kind === 'method';
        if (!isFunction) {
          if (!this.spec.containerKinds.has(def.kind)) continue;
          if (this.src.endRow(def.outer) - this.src.startRow(def.outer) + 1 <= NESTED_CLASS_INLINE_LINES) continue;
        }
        const start = this.leadingStart(children, i);
        // a member sharing its first line with other code (`class A { m() {} }`) stays in the class chunk:
        // chunks hold whole lines, so splitting it off would repeat that code
        if (/\S/.test(this.src.normalized.slice(this.src.lineStart(this.src.rowAt(start)), start))) continue;
        out.push({ def, start, unit: this.symbolUnit(def, start, owner, true) });
      }
    };
    visit(body);
    return out;
  }

  /**
   * The class text with each member replaced by its signature and an elision marker. Works on offsets so
   * the signature is cut exactly where the body starts (`foo(): T {` keeps `foo(): T `).
   */
  private outline(from: number, to: number, startRow: number, endRow: number, members: Array<{ def: Def; start: number }>): Pick<Piece, 'lines' | 'rows'> {
    const text = this.src.normalized;
    const lines: string[] = [];
    const rows: number[] = [];
    const append = (a: number, b: number): void => {
      if (b <= a) return;
      const parts = text.slice(a, b).split('\n');
      let at = a;
      parts.forEach((part, k) => {
        if (k === 0 && lines.length > 0) {
          // indentation left over from a removed doc comment: the line now starts where this text starts
          if (isBlank(lines[lines.length - 1]!) && part.length > 0) rows[rows.length - 1] = this.src.rowAt(at);
          lines[lines.length - 1] += part;
        } else {
          lines.push(part);
          rows.push(this.src.rowAt(at));
        }
        at += part.length + 1;
      });
    };
    let cursor = from;
    for (const m of members) {
      const body = m.def.body!;
      append(cursor, m.start);
      append(m.def.node.startIndex, body.startIndex);
      if (lines.length === 0) {
        lines.push('');
        rows.push(this.src.rowAt(body.startIndex));
      }
      lines[lines.length - 1] += this.spec.elision;
      cursor = Math.max(cursor, m.def.outer.endIndex);
    }
    append(cursor, to);
    // keep the outline within the class's rows even if a member's offsets were odd
    for (let i = 0; i < rows.length; i++) rows[i] = Math.min(endRow, Math.max(startRow, rows[i]!));
    return { lines, rows };
  }

  /** Turns the rows no symbol owns into blocks; returns every piece in file order. */
  private fillGaps(units: Unit[]): Piece[] {
    const lines = this.src.lines;
    const runs: Array<{ start: number; end: number; after: number }> = []; // after = index of the unit before it, -1 for none
    let row = 0;
    const pushRun = (a: number, b: number, after: number): void => {
      while (a <= b && isBlank(lines[a]!)) a++;
      while (b >= a && isBlank(lines[b]!)) b--;
      if (a <= b) runs.push({ start: a, end: b, after });
    };
    units.forEach((u, k) => {
      if (u.startRow > row) pushRun(row, u.startRow - 1, k - 1);
      row = Math.max(row, u.endRow + 1);
    });
    if (row < lines.length) pushRun(row, lines.length - 1, units.length - 1);

    const blocks: Piece[] = [];
    for (const run of runs) {
      const prev = run.after >= 0 ? units[run.after] : undefined;
      const next = units[run.after + 1];
      if (prev && isCloser(lines, run.start, run.end)) {
        extendEnd(prev.pieces[0]!, prev, run.end, lines);
      } else if (next && next.startRow === run.end + 1 && isOpener(lines, run.start, run.end)) {
        extendStart(next.pieces[0]!, next, run.start, lines);
      } else if (!prev && next && isCloser(lines, run.start, run.end)) {
        extendStart(next.pieces[0]!, next, run.start, lines);
      } else {
        blocks.push(this.src.contiguous(null, 'block', run.start, run.end));
      }
    }
    const all: Piece[] = [...blocks];
    for (const u of units) all.push(...u.pieces);
    // file order, a class before its methods
    return all.sort((a, b) => a.startRow - b.startRow || b.endRow - a.endRow);
  }
}

function qualify(prefix: string, name: string): string {
  return prefix ? `${prefix}.${name}` : name;
}

/** Closing braces, `#endif` and the like: too little to be a chunk of their own. */
function isCloser(lines: string[], a: number, b: number): boolean {
  let n = 0;
  for (let r = a; r <= b; r++) {
    const t = lines[r]!.trim();
    if (!t) continue;
    if (++n > 2) return false;
    if (/^#\s*(endif|else)\b/.test(t)) continue;
    if (!/^[{}()[\];,\s]*[{}()[\]][{}()[\];,\s]*(\/\/.*|\/\*.*\*\/)?$/.test(t)) return false;
  }
  return true;
}

/** A short line opening the scope of the symbol right below (`namespace x {`, Go `type (`). */
function isOpener(lines: string[], a: number, b: number): boolean {
  let n = 0;
  let last = '';
  for (let r = a; r <= b; r++) {
    const t = lines[r]!.trim();
    if (!t) continue;
    if (++n > 2 || t.length > 80) return false;
    last = t;
  }
  return /[{(]$/.test(last);
}

function extendEnd(piece: Piece, unit: Unit, toRow: number, lines: string[]): void {
  for (let r = piece.endRow + 1; r <= toRow; r++) {
    piece.lines.push(lines[r]!);
    piece.rows.push(r);
  }
  piece.endRow = unit.endRow = Math.max(piece.endRow, toRow);
}

function extendStart(piece: Piece, unit: Unit, fromRow: number, lines: string[]): void {
  const rows: number[] = [];
  for (let r = fromRow; r < piece.startRow; r++) rows.push(r);
  piece.lines.unshift(...rows.map((r) => lines[r]!));
  piece.rows.unshift(...rows);
  piece.startRow = unit.startRow = Math.min(piece.startRow, fromRow);
}

// ---------------------------------------------------------------------------------------------------------
// Windows

function indentWidth(line: string): number {
  let w = 0;
  for (const ch of line) {
    if (ch === ' ') w++;
    else if (ch === '\t') w += 4;
    else break;
  }
  return w;
}

/**
 * Cuts a piece into windows of at most `size` lines and MAX_CHUNK_CHARS characters, `overlap` lines shared
 * between neighbours. A window prefers to end before a blank or outdented line so parts read as units.
 */
function emitWindows(out: Chunk[], relPath: string, language: string, piece: Piece, size: number, overlap: number, trim: boolean): void {
  const { lines } = piece;
  const n = lines.length;
  const charEnd = (start: number): number => {
    let chars = 0;
    let e = start;
    while (e < n && e - start < size) {
      chars += lines[e]!.length + 1;
      if (chars > MAX_CHUNK_CHARS + 1 && e > start) break;
      e++;
    }
    return e;
  };
  let start = 0;
  while (start < n) {
    if (lines[start]!.length > MAX_CHUNK_CHARS) {
      emitLongLine(out, relPath, language, piece, start);
      start++;
      continue;
    }
    let end = charEnd(start);
    if (end < n && end - start >= 4) {
      // look for a better cut in the last 40% of the window
      let best = end;
      let bestScore = Infinity;
      for (let e = end; e >= start + Math.ceil((end - start) * 0.6); e--) {
        const next = lines[e]!;
        const score = isBlank(next) ? -1 : indentWidth(next);
        if (score < bestScore) {
          bestScore = score;
          best = e;
        }
      }
      end = best;
    }
    emitRange(out, relPath, language, piece, start, end, trim);
    if (end >= n) break;
    // no overlap into a window that stopped at an over-long line: it would only repeat the same lines
    const shared = lines[end]!.length > MAX_CHUNK_CHARS ? 0 : Math.min(overlap, Math.floor((end - start) / 2));
    start = Math.max(end - shared, start + 1);
  }
}

function emitRange(out: Chunk[], relPath: string, language: string, piece: Piece, s: number, e: number, trim: boolean): void {
  const { lines, rows } = piece;
  if (trim) {
    while (s < e && isBlank(lines[s]!)) s++;
    while (e > s && isBlank(lines[e - 1]!)) e--;
    if (s >= e) return;
  }
  // an unsplit piece reports its whole range (a class covers its elided methods)
  const startRow = s === 0 && !trim ? piece.startRow : rows[s]!;
  const endRow = e === lines.length && !trim ? piece.endRow : rows[e - 1]!;
  out.push(makeChunk(relPath, language, piece, startRow, endRow, lines.slice(s, e).join('\n')));
}

function emitLongLine(out: Chunk[], relPath: string, language: string, piece: Piece, i: number): void {
  const line = piece.lines[i]!;
  const row = piece.rows[i]!;
  for (let a = 0; a < line.length; ) {
    let b = Math.min(line.length, a + MAX_CHUNK_CHARS);
    // never split a surrogate pair
    if (b < line.length && /[\uDC00-\uDFFF]/.test(line[b]!)) b--;
    const content = line.slice(a, b);
    if (/\S/.test(content)) out.push(makeChunk(relPath, language, piece, row, row, content));
    a = b;
  }
}

function makeChunk(relPath: string, language: string, piece: Piece, startRow: number, endRow: number, content: string): Chunk {
  return {
    path: relPath,
    startLine: startRow + 1,
    endLine: endRow + 1,
    symbol: piece.symbol,
    kind: piece.kind,
    language,
    content,
    hash: createHash('sha256').update(content).digest('hex'),
  };
}
