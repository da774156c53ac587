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
 *
 * The parts: grammarLoader.ts loads the runtime and grammars; symbolDefs.ts says which nodes are symbols
 * per language; symbolExtractor.ts turns a tree into pieces (symbols, outlines, blocks); chunkWindows.ts cuts
 * pieces into chunks. This module decides, per file, between symbols and plain line windows.
 */
import type { Chunk } from '../chunk';
import { emitWindows } from './chunkWindows';
import { loadParsers } from './grammarLoader';
import { GRAMMAR_FILES, LANGUAGE_SPECS, headerLanguage, isCodeLanguage, languageForPath, type CodeLanguage } from './languages';
import { type Piece, SourceText } from './sourceText';
import { namedChildren } from './symbolDefs';
import { Extractor } from './symbolExtractor';

export { GRAMMAR_FILES, languageForPath };
export { MAX_CHUNK_CHARS } from './chunkWindows';

type Parser = import('web-tree-sitter').Parser;
type Node = import('web-tree-sitter').Node;

export interface ChunkerOptions {
  /** longest chunk in lines (default 120); longer symbols are split into overlapping windows */
  maxLines?: number;
  /** lines shared by consecutive windows of one symbol (default 10) */
  overlapLines?: number;
  /** longest block of grouped top-level code, and the size of plain-text windows (default 40) */
  groupLines?: number;
  /** folder holding the grammar .wasm files (default: <this folder>/grammars, else tree-sitter-wasms/out) */
  grammarDir?: string;
}

export interface Chunker {
  chunk(relPath: string, text: string): Chunk[];
}

/** Files larger than this are not parsed (time and memory), only windowed. */
const MAX_PARSE_CHARS = 1_500_000;
/**
 * A parse taking longer than this is abandoned for line windows. Only a safety net: the same content must
 * give the same chunks on a busy machine, so minified code is recognised by its shape (below), not by time.
 */
const PARSE_BUDGET_MS = 20_000;
/** Average characters per line above which a file is minified or generated: windowed, not parsed. */
const MINIFIED_CHARS_PER_LINE = 400;

/**
 * Loads web-tree-sitter and every grammar up front: `chunk()` is synchronous and grammars can only be
 * loaded asynchronously. All nine take about 0.1 s.
 */
export async function createChunker(opts: ChunkerOptions = {}): Promise<Chunker> {
  const maxLines = Math.max(2, Math.floor(opts.maxLines ?? 120));
  const overlapLines = Math.max(0, Math.min(Math.floor(opts.overlapLines ?? 10), Math.floor(maxLines / 2)));
  const groupLines = Math.max(1, Math.floor(opts.groupLines ?? 40));
  const parsers = await loadParsers(opts.grammarDir);
  return new TreeSitterChunker(parsers, { maxLines, overlapLines, groupLines });
}

interface Limits {
  maxLines: number;
  overlapLines: number;
  groupLines: number;
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
