/**
 * (documentation → code) training pairs mined from chunked source: the doc comment of a function or method
 * is the query, the function with that comment removed is the code to find.
 *
 * Doc conventions per language (only comments directly above the symbol, which is where the chunker puts
 * them, at the top of the chunk):
 * - TypeScript, TSX, JavaScript, Java: the last `/** *\/` block (JSDoc / TSDoc / Javadoc). Plain `//` and
 *   `/* *\/` comments there are usually notes or disabled code, not documentation.
 * - Go: the `//` comment group (compiler directives such as `//go:noinline` are code, not text).
 * - Rust: `///` and `/** *\/` (outer docs); `//!` and `/*!` document the enclosing module, not the function.
 * - C, C++: the last comment group of any style (`/** *\/`, `/* *\/`, `///`, `//`): there is no single
 *   convention, and the comment right above a definition is its documentation in practice.
 * - Python: the docstring, the first statement of the body when it is a plain string literal.
 *
 * Everything here is pure and synchronous so the same code serves the corpus miner (scripts/corpus/mine.ts)
 * and `semcode train` on a user's own index.
 *
 * This module mines the pairs (what makes a doc a query and a function worth finding). The doc comment is
 * found by docComments.ts and pyDocstrings.ts and cleaned by docText.ts; the mined pairs are deduplicated by
 * pairDedupe.ts and split into training and held-out sets by pairSplits.ts. The public API is re-exported here.
 */
import type { Chunk } from '../chunk';
import { commentText, docItems, flavorOf, removeSpans, scanPrefix } from './docComments';
import { BLOCK_TAG, cleanDoc, cutAt } from './docText';
import { type Pair, bareName } from './pair';
import { cleandoc, pythonDocstring } from './pyDocstrings';

export type { Pair } from './pair';
export { dedupePairs, type DedupeOptions } from './pairDedupe';
export { splitByFile, splitBySource } from './pairSplits';

/** Why chunks did not become pairs; filled by minePairs when a stats object is passed. */
export interface MineStats {
  chunks: number;
  functions: number;
  pairs: number;
  skipped: Record<string, number>;
}

export function newMineStats(): MineStats {
  return { chunks: 0, functions: 0, pairs: 0, skipped: {} };
}

const MIN_QUERY_WORDS = 3;
const MAX_QUERY_WORDS = 60;
/** lines with more than braces and punctuation; below this a function is a stub or a one-liner */
const MIN_CODE_LINES = 2;

interface Extracted {
  /** may be empty: a comment that was only tags or markup */
  doc: string;
  code: string;
  /** the comment/docstring as written (markers stripped), for filters that look at tags */
  raw: string;
  /** Python: the body without its docstring, to spot stubs */
  pyBody?: string;
}

function extract(chunk: Chunk): Extracted | null {
  if (chunk.kind !== 'function' && chunk.kind !== 'method') return null;
  const flavor = flavorOf(chunk.language);
  if (!flavor) return null;
  const s = chunk.content;
  if (flavor === 'python') {
    const d = pythonDocstring(s);
    if (!d) return null;
    const raw = cleandoc(d.raw);
    const doc = cleanDoc(raw, 'python');
    const pyBody = s.slice(d.bodyStart, d.span.start) + s.slice(d.span.end);
    return { doc, code: removeSpans(s, [d.span]), raw, pyBody };
  }
  const items = docItems(scanPrefix(s, flavor), flavor);
  if (items.length === 0) return null;
  const raw = commentText(items);
  return { doc: cleanDoc(raw, flavor), code: removeSpans(s, items), raw };
}

/**
 * Splits a function/method chunk into its documentation (comment markers stripped, block tags such as
 * @param/@returns and the sections after them dropped, inline markup unwrapped) and its code without that
 * documentation. null when the chunk is not a function/method or has no documentation in its language's
 * convention.
 */
export function docOf(chunk: Chunk): { doc: string; code: string } | null {
  const e = extract(chunk);
  return e && e.doc ? { doc: e.doc, code: e.code } : null;
}

// e.g. "e.g. foo" and "vs. bar" do not end a sentence; neither do initials ("J. Smith")
const ABBREVIATION = /(?:^|[\s(])(?:e\.g|i\.e|etc|vs|cf|approx|resp|incl|esp|viz|al|Mr|Mrs|Ms|Dr|St|No|Fig|[A-Za-z])$/;

/**
 * The first `max` sentences of the doc's first paragraph (before any tag), whitespace collapsed. A sentence
 * ends at '.', '!' or '?' followed by whitespace and no lowercase word, and not after an abbreviation
 * ("e.g.", "etc.") or an initial.
 */
export function querySentences(doc: string, max = 2): string {
  let s = doc.replace(/\r\n?/g, '\n');
  s = cutAt(s, BLOCK_TAG);
  s = cutAt(s, /^[ \t]*:(?:param|type|returns?|rtype|raises?)\b/m);
  s = (s.trim().split(/\n[ \t]*\n/)[0] ?? '').replace(/\s+/g, ' ').trim();
  if (max <= 0) return '';
  // a sentence ends at punctuation before whitespace and a word that is not lowercase ("any-of? and ...")
  const re = /[.!?]+(?=\s+(?![a-z])|$)/g;
  let count = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    if (m[0] === '.' && ABBREVIATION.test(s.slice(0, m.index))) continue;
    if (++count === max) return s.slice(0, m.index + m[0].length).trim();
  }
  return s;
}

// Docs that say nothing about what the code does
const BOILERPLATE = [
  /\bauto-?generated\b|\bgenerated (?:by|from|with)\b|\bdo not (?:edit|modify)\b/i,
  /\b(?:TODO|FIXME|XXX|HACK)\b/,
  /^(?:deprecated\b|this (?:method|function) is deprecated)/i,
  /\bcopyright\b|\blicen[cs]ed (?:under|to)\b|\bSPDX-License|\ball rights reserved\b|\bpermission is hereby granted\b|\bwithout warranty\b/i,
  /^(?:see|refer to|inherited from|for internal use|internal use only|\(?non-?javadoc\)?|not implemented|undocumented|no-?op\b)\b/i,
];
/** A doc that only points elsewhere ("Same as foo().", "Alias for bar"); longer ones explain the difference. */
const POINTER = /^(?:same as|alias (?:for|of)|equivalent to|overrides?|implements|specified by|delegates to)\b/i;
const POINTER_MAX_WORDS = 6;

/** `{@inheritDoc}` in the description (not in a tag like `@throws X {@inheritDoc}`): the text is borrowed */
const INHERIT_DOC = /@inherit[Dd]oc\b/;

/** `S.split(sep=None) -> list` style signature lines that open some docstrings */
const SIGNATURE_LINE = /^[\w.]+\([^)]*\)\s*(?:->|$)/;

function wordCount(s: string): number {
  return s ? s.split(/\s+/).filter((w) => /[A-Za-z]{2,}/.test(w)).length : 0;
}

/** Lines carrying more than braces, punctuation or comments. */
function meaningfulLines(code: string): number {
  let n = 0;
  for (const line of code.split('\n')) {
    const t = line.trim();
    if (!t || /^(?:\/\/|\/\*|\*|#(?![[!]))/.test(t)) continue;
    if (/^[{}()[\];,]+$/.test(t)) continue;
    n++;
  }
  return n;
}

/** Python bodies that are only `pass`, `...` or `raise NotImplementedError`. */
function isStubBody(body: string): boolean {
  const stmts = body
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter(Boolean);
  return stmts.length > 0 && stmts.every((t) => /^(?:pass|\.\.\.|raise NotImplementedError(?:\(.*\))?|return(?: None)?)$/.test(t));
}

/** Declaration-only files: signatures without bodies are not code anyone searches for. */
const DECLARATION_FILE = /\.d\.[cm]?ts$|\.pyi$/i;
/** Minified bundles: the docs are stripped and the code is unreadable. */
const MINIFIED_FILE = /[.-]min\.[cm]?js$/i;

function bump(stats: MineStats | undefined, reason: string): void {
  if (stats) stats.skipped[reason] = (stats.skipped[reason] ?? 0) + 1;
}

/**
 * Go (and many C) summaries start with the symbol's name: "Get returns ..." → "Returns ...",
 * "rb_new: allocates ..." → "Allocates ...". Left as is when the name is not followed by prose.
 */
function dropLeadingName(query: string, symbol: string): string {
  const name = bareName(symbol);
  if (!name || !query.startsWith(name)) return query;
  const m = /^(?:\([^)]*\))?(?:\s*[:\u2014-]+\s+|\s+(?=[a-z]))/.exec(query.slice(name.length));
  if (!m) return query;
  const rest = query.slice(name.length + m[0].length);
  return rest ? rest[0]!.toUpperCase() + rest.slice(1) : query;
}

/** "clear(): Release ..." and "f(x) -- Do ..." open some docstrings with the signature: keep the prose. */
const SIGNATURE_PREFIX = /^[\w.]+\([^)]*\)\s*(?::|--?|—)\s+(?=\S)/;
/** Below this many words a one-sentence summary is too thin ("Wait for a handle."): take the next one too. */
const SHORT_SUMMARY_WORDS = 5;

/**
 * The query for a doc: its first sentence (real queries are short), two when the first is very short, the
 * signature and a leading symbol name dropped.
 */
function queryOf(doc: string, symbol: string): string {
  let q = querySentences(doc, 1);
  if (wordCount(q) < SHORT_SUMMARY_WORDS) q = querySentences(doc, 2);
  return dropLeadingName(q.replace(SIGNATURE_PREFIX, ''), symbol);
}

/**
 * Pairs from the function and method chunks of one source, in chunk order. Skips declaration files, stub
 * and one-line bodies, boilerplate docs and queries outside 3–60 words; a symbol split into several
 * windows (over 120 lines) gives one pair, from its first window.
 */
export function minePairs(chunks: Chunk[], source: string, stats?: MineStats): Pair[] {
  const out: Pair[] = [];
  let prev: Chunk | null = null;
  for (const chunk of chunks) {
    if (stats) stats.chunks++;
    const last = prev;
    prev = chunk;
    if (chunk.kind !== 'function' && chunk.kind !== 'method') continue;
    if (stats) stats.functions++;
    if (DECLARATION_FILE.test(chunk.path)) {
      bump(stats, 'declaration file');
      continue;
    }
    if (MINIFIED_FILE.test(chunk.path)) {
      bump(stats, 'minified file');
      continue;
    }
    // later windows of one long symbol overlap (or touch) the window before them
    if (last && last.path === chunk.path && last.symbol === chunk.symbol && last.kind === chunk.kind && chunk.startLine <= last.endLine + 1) {
      bump(stats, 'continuation window');
      continue;
    }
    const e = extract(chunk);
    if (!e) {
      bump(stats, 'no doc');
      continue;
    }
    const symbol = chunk.symbol ?? '';
    const query = queryOf(e.doc, symbol);
    if (
      INHERIT_DOC.test(cutAt(e.raw, BLOCK_TAG)) ||
      BOILERPLATE.some((re) => re.test(query)) ||
      (POINTER.test(query) && wordCount(query) <= POINTER_MAX_WORDS)
    ) {
      bump(stats, 'boilerplate doc');
      continue;
    }
    if (SIGNATURE_LINE.test(query)) {
      bump(stats, 'signature doc');
      continue;
    }
    const words = wordCount(query);
    if (words < MIN_QUERY_WORDS) {
      bump(stats, 'query too short');
      continue;
    }
    if (query.split(/\s+/).length > MAX_QUERY_WORDS) {
      bump(stats, 'query too long');
      continue;
    }
    if (meaningfulLines(e.code) < MIN_CODE_LINES || (e.pyBody !== undefined && isStubBody(e.pyBody))) {
      bump(stats, 'code too short');
      continue;
    }
    out.push({ query, code: e.code, language: chunk.language, source, path: chunk.path, symbol, startLine: chunk.startLine });
    if (stats) stats.pairs++;
  }
  return out;
}
