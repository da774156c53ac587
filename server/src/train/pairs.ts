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
 */
import { createHash } from 'node:crypto';
import type { Chunk } from '../chunk';

export interface Pair {
  /** the first sentence(s) of the documentation, as a search query */
  query: string;
  /** the function's chunk with its documentation removed */
  code: string;
  language: string;
  /** package id (corpus) or codebase root (fine-tuning) */
  source: string;
  /** posix path relative to the source */
  path: string;
  symbol: string;
  /** the chunk's first line (1-based, doc comment included), as search results report it */
  startLine: number;
}

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

// ---------------------------------------------------------------------------------------------------------
// Doc comment extraction

type Flavor = 'javadoc' | 'go' | 'rust' | 'c' | 'python';

function flavorOf(language: string): Flavor | null {
  switch (language) {
    case 'typescript':
    case 'tsx':
    case 'javascript':
    case 'java':
      return 'javadoc';
    case 'go':
      return 'go';
    case 'rust':
      return 'rust';
    case 'c':
    case 'cpp':
      return 'c';
    case 'python':
      return 'python';
    default:
      return null;
  }
}

interface Span {
  start: number;
  end: number;
}

interface PrefixItem extends Span {
  kind: 'block' | 'line' | 'attr';
  text: string;
}

/** Index just after the bracket that closes the one at `i` (strings skipped); -1 when unbalanced. */
function closeBracket(s: string, i: number): number {
  const open = s[i]!;
  const close = open === '(' ? ')' : open === '[' ? ']' : '}';
  let depth = 0;
  for (let j = i; j < s.length; j++) {
    const c = s[j]!;
    if (c === '"' || c === "'" || c === '`') {
      const k = skipQuoted(s, j);
      if (k < 0) return -1;
      j = k - 1;
    } else if (c === open) depth++;
    else if (c === close && --depth === 0) return j + 1;
  }
  return -1;
}

/** End of a one-line-or-more quoted string starting at `i` (backslash escapes honoured); -1 if open. */
function skipQuoted(s: string, i: number): number {
  const q = s[i]!;
  for (let j = i + 1; j < s.length; j++) {
    const c = s[j]!;
    if (c === '\\') j++;
    else if (c === q) return j + 1;
    else if (c === '\n' && q !== '`') return -1;
  }
  return -1;
}

/**
 * Comments, attributes (`#[inline]`), decorators and annotations (`@Override`, `@memoize()`) at the top of a
 * chunk, in order; scanning stops at the first other token (the declaration itself).
 */
function scanPrefix(s: string, flavor: Flavor): PrefixItem[] {
  const items: PrefixItem[] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (i >= s.length) break;
    const start = i;
    if (s.startsWith('/*', i)) {
      const end = s.indexOf('*/', i + 2);
      if (end < 0) break;
      i = end + 2;
      items.push({ kind: 'block', start, end: i, text: s.slice(start, i) });
    } else if (s.startsWith('//', i)) {
      const nl = s.indexOf('\n', i);
      i = nl < 0 ? s.length : nl;
      items.push({ kind: 'line', start, end: i, text: s.slice(start, i) });
    } else if (flavor === 'rust' && /^#!?\[/.test(s.slice(i, i + 3))) {
      const end = closeBracket(s, s.indexOf('[', i));
      if (end < 0) break;
      i = end;
      items.push({ kind: 'attr', start, end: i, text: s.slice(start, i) });
    } else if (flavor === 'javadoc' && s[i] === '@' && /[A-Za-z_$]/.test(s[i + 1] ?? '')) {
      const m = /^@[\w$.]+/.exec(s.slice(i))!;
      i += m[0].length;
      let j = i;
      while (j < s.length && (s[j] === ' ' || s[j] === '\t')) j++;
      if (s[j] === '(') {
        const end = closeBracket(s, j);
        if (end < 0) break;
        i = end;
      }
      items.push({ kind: 'attr', start, end: i, text: s.slice(start, i) });
    } else if (flavor === 'c' && s.startsWith('[[', i)) {
      const end = s.indexOf(']]', i);
      if (end < 0) break;
      i = end + 2;
      items.push({ kind: 'attr', start, end: i, text: s.slice(start, i) });
    } else {
      break;
    }
  }
  return items;
}

// `//go:noinline`, `//line x.go:1`, `//export F` (cgo), `//nolint`: tool directives, not prose
const GO_DIRECTIVE = /^\/\/(?:[a-z0-9]+:[a-z0-9]|line |export |extern |nolint\b)/;

/** The doc comment items of a chunk's prefix, per the language's convention (see the file comment). */
function docItems(items: PrefixItem[], flavor: Flavor): PrefixItem[] {
  const comments = items.filter((it) => it.kind !== 'attr');
  switch (flavor) {
    case 'javadoc': {
      const docs = comments.filter((it) => it.kind === 'block' && /^\/\*\*(?!\/)/.test(it.text) && !/^\/\*\*\*/.test(it.text));
      return docs.length ? [docs[docs.length - 1]!] : [];
    }
    case 'rust':
      return comments.filter((it) => (it.kind === 'line' ? /^\/\/\/(?!\/)/.test(it.text) : /^\/\*\*(?![*/])/.test(it.text)));
    case 'go':
      return comments.filter((it) => !(it.kind === 'line' && GO_DIRECTIVE.test(it.text)));
    case 'c': {
      const last = comments[comments.length - 1];
      if (!last) return [];
      if (last.kind === 'block') return [last];
      // the run of line comments ending at the last one
      const run: PrefixItem[] = [];
      for (let k = comments.length - 1; k >= 0 && comments[k]!.kind === 'line'; k--) run.unshift(comments[k]!);
      return run;
    }
    default:
      return [];
  }
}

/** Comment markers stripped, lines dedented; paragraphs (blank lines) kept. */
function commentText(items: PrefixItem[]): string {
  const lines: string[] = [];
  for (const it of items) {
    if (it.kind === 'line') {
      lines.push(it.text.replace(/^\/\/[/!]?/, ''));
    } else {
      const body = it.text.replace(/^\/\*[*!]?/, '').replace(/\*+\/$/, '');
      for (const l of body.split('\n')) lines.push(l.replace(/^\s*\*+(?!\/)/, ''));
    }
  }
  return dedent(lines).join('\n');
}

function dedent(lines: string[]): string[] {
  let min = Infinity;
  for (const l of lines) if (/\S/.test(l)) min = Math.min(min, /^[ \t]*/.exec(l)![0].length);
  if (!Number.isFinite(min)) return lines.map(() => '');
  return lines.map((l) => (/\S/.test(l) ? l.slice(min).trimEnd() : ''));
}

/** Removes spans from `s`; a span alone on its lines takes those whole lines with it. */
function removeSpans(s: string, spans: Span[]): string {
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const sp of sorted) {
    let a = sp.start;
    let b = sp.end;
    const lineStart = s.lastIndexOf('\n', a - 1) + 1;
    let lineEnd = s.indexOf('\n', b);
    if (lineEnd < 0) lineEnd = s.length;
    if (!/\S/.test(s.slice(lineStart, a)) && !/\S/.test(s.slice(b, lineEnd))) {
      a = lineStart;
      b = Math.min(s.length, lineEnd + 1);
    }
    if (a < at) a = at;
    out += s.slice(at, a);
    at = Math.max(at, b);
  }
  out += s.slice(at);
  return out.replace(/^(?:[ \t]*\n)+/, '').replace(/\s+$/, '');
}

// ---------------------------------------------------------------------------------------------------------
// Python docstrings

interface PyDoc {
  raw: string;
  span: Span;
  /** where the body starts (just after the header's ':') */
  bodyStart: number;
}

/** Skips a Python string literal (single, triple, any quote) starting at `i`; -1 if unterminated. */
function skipPyString(s: string, i: number): number {
  const q = s[i]!;
  const triple = s.startsWith(q.repeat(3), i);
  const delim = triple ? q.repeat(3) : q;
  for (let j = i + delim.length; j < s.length; j++) {
    const c = s[j]!;
    if (c === '\\') j++;
    else if (s.startsWith(delim, j)) return j + delim.length;
    else if (c === '\n' && !triple) return -1;
  }
  return -1;
}

function pythonDocstring(s: string): PyDoc | null {
  const def = /^[ \t]*(?:async[ \t]+)?def[ \t]/m.exec(s);
  if (!def) return null;
  // the header ends at the first ':' outside brackets, strings and comments (defaults and annotations
  // may hold any of them: `def f(sep=":", key=lambda x: x) -> Dict[str, int]:`)
  let depth = 0;
  let i = def.index;
  let bodyStart = -1;
  for (; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"' || c === "'") {
      const e = skipPyString(s, i);
      if (e < 0) return null;
      i = e - 1;
    } else if (c === '#') {
      const nl = s.indexOf('\n', i);
      if (nl < 0) return null;
      i = nl;
    } else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    else if (c === ':' && depth === 0) {
      bodyStart = i + 1;
      break;
    }
  }
  if (bodyStart < 0) return null;
  // first statement: skip blank lines and comments
  let j = bodyStart;
  for (;;) {
    while (j < s.length && /\s/.test(s[j]!)) j++;
    if (s[j] !== '#') break;
    const nl = s.indexOf('\n', j);
    j = nl < 0 ? s.length : nl;
  }
  // a docstring is a plain or raw string (u"" too); f-strings and bytes are not docstrings
  const m = /^[rRuU]?(?=["'])/.exec(s.slice(j, j + 2));
  if (!m) return null;
  const q = j + m[0].length;
  const end = skipPyString(s, q);
  if (end < 0) return null;
  // `"""doc""" % x` or `"a" "b"` is an expression, not (just) a docstring
  const rest = /^[ \t]*(?:;[ \t]*)?(?:#[^\n]*)?(?:\n|$)/.exec(s.slice(end));
  if (!rest) return null;
  const delim = s.startsWith(s[q]!.repeat(3), q) ? 3 : 1;
  // the blank line that usually follows a docstring goes with it
  const blank = /^[ \t]*(?:;[ \t]*)?(?:#[^\n]*)?\n[ \t]*(?=\n)/.exec(s.slice(end));
  return { raw: s.slice(q + delim, end - delim), span: { start: j, end: blank ? end + blank[0].length : end }, bodyStart };
}

/** inspect.cleandoc: the first line stripped, the others dedented together. */
function cleandoc(raw: string): string {
  const lines = raw.replace(/\r\n?/g, '\n').split('\n');
  const first = lines[0]!.trim();
  const rest = dedent(lines.slice(1));
  return [first, ...rest].join('\n').replace(/^\n+|\s+$/g, '');
}

// ---------------------------------------------------------------------------------------------------------
// Doc text cleanup

const HTML_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", nbsp: ' ', '#39': "'", mdash: '—', ndash: '–', hellip: '…' };

/**
 * `{@link Foo#bar text}` → text, `{@code x}` → x, `{@return the size}` → Returns the size (JSDoc, TSDoc,
 * Javadoc inline tags); innermost first, since they nest (`{@return a {@link Entry}}`).
 */
function inlineTags(s: string): string {
  for (let prev = ''; prev !== s; ) {
    prev = s;
    s = s.replace(/\{@(\w+)\s*([^{}]*)\}/g, inlineTag);
  }
  return s;
}

function inlineTag(_m: string, tag: string, body: string): string {
  const b = body.trim();
  if (tag === 'inheritDoc' || tag === 'inheritdoc') return '';
  if (tag === 'return') return `Returns ${b}.`;
  if (/^link/.test(tag)) {
    const bar = b.indexOf('|');
    if (bar >= 0) return b.slice(bar + 1).trim();
    // the reference ends at the first space outside parentheses: `#of(Object, int) of(x, 0)`
    let depth = 0;
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!;
      if (c === '(') depth++;
      else if (c === ')') depth--;
      else if (depth <= 0 && /\s/.test(c)) return b.slice(i + 1).trim();
    }
    return b.replace(/^#/, '').replace(/#/g, '.');
  }
  return b;
}

/** Markdown to plain text: code fences and reference definitions dropped, links and code spans unwrapped. */
function markdownText(s: string): string {
  return s
    .replace(/^[ \t]*(```|~~~)[^\n]*\n[\s\S]*?^[ \t]*\1[^\n]*$/gm, '')
    .replace(/^[ \t]*\[[^\]\n]+\]:[^\n]*$/gm, '')
    .replace(/!?\[([^\]\n]*)\]\([^)\n]*\)/g, '$1')
    .replace(/\[([^\]\n]+)\]\[[^\]\n]*\]/g, '$1')
    .replace(/\[([^\]\n]+)\](?![(:[])/g, '$1')
    .replace(/`+([^`\n]*)`+/g, '$1')
    .replace(/\*\*([^*\n]+)\*\*/g, '$1');
}

function htmlText(s: string): string {
  return s
    .replace(/<pre\b[\s\S]*?<\/pre>/gi, '\n\n')
    .replace(/<\/?(?:p|br|ul|ol|li|dl|dt|dd|table|tr|h\d|blockquote)\b[^>]*>/gi, '\n\n')
    .replace(/<\/?[a-zA-Z][^<>]*>/g, '')
    .replace(/&(#?\w+);/g, (m, e: string) => HTML_ENTITIES[e] ?? (/^#\d+$/.test(e) ? String.fromCodePoint(Number(e.slice(1))) : m));
}

/** Python docstring sections and fields (Google, NumPy, reST), doctests: where the summary is over. */
const PY_SECTION = /^[ \t]*(?:(?:Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments|Other Parameters|Returns?|Yields?|Raises|Throws|Examples?|Notes?|Warnings?|See Also|References|Attributes|Methods|Todo)\s*:?[ \t]*$|:(?:param|type|returns?|rtype|raises?|arg|key|keyword|ivar|cvar|var|yields?|meta)\b|>>>|-{3,}[ \t]*$|={3,}[ \t]*$|\.\. \w+::)/m;
/** Block tags (JSDoc/Javadoc) and fields: the description ends at the first. */
const BLOCK_TAG = /^[ \t]*@[A-Za-z]/m;
/** Markdown headings (`# Examples`, `# Safety`, `# Panics` in Rust docs) start the reference sections. */
const HEADING = /^[ \t]*#{1,6}[ \t]+\S/m;
/** Go: a `Deprecated:` paragraph is a notice, not a description */
const GO_DEPRECATED = /^Deprecated:/m;

function cutAt(s: string, re: RegExp): string {
  const m = re.exec(s);
  return m ? s.slice(0, m.index) : s;
}

function cleanDoc(raw: string, flavor: Flavor): string {
  let s = raw.replace(/\r\n?/g, '\n');
  if (flavor === 'python') {
    s = cutAt(s, PY_SECTION);
    s = s.replace(/:[\w:]+:`~?([^`]*)`/g, '$1').replace(/``([^`]*)``/g, '$1').replace(/`([^`]*)`/g, '$1');
  } else {
    s = inlineTags(s);
    s = cutAt(s, BLOCK_TAG);
    if (flavor === 'javadoc' || flavor === 'c') s = htmlText(s);
    s = markdownText(s);
    s = cutAt(s, HEADING);
    if (flavor === 'go') s = cutAt(s, GO_DEPRECATED);
  }
  return s
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

// ---------------------------------------------------------------------------------------------------------
// Public API

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

function bareName(symbol: string): string {
  return symbol.slice(symbol.lastIndexOf('.') + 1);
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

// ---------------------------------------------------------------------------------------------------------
// Dedupe

/** Whitespace-free code without export/declare wrappers: the same function in .js/.mjs/.cjs/.ts copies. */
function codeKey(code: string): string {
  const norm = code
    .replace(/^\s*(?:export\s+(?:default\s+)?|declare\s+)+/, '')
    .replace(/\s+/g, '')
    .replace(/;+$/, '');
  return createHash('sha1').update(norm).digest('hex');
}

function normQuery(q: string): string {
  return q
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/**
 * Lower is better: which copy of a duplicated function to keep. The authored source (TypeScript, not under
 * dist/ or build/) wins over compiled, bundled and module-format copies.
 */
function copyRank(p: Pair): number {
  let r = 0;
  if (/(?:^|\/)(?:dist|build|out|lib|esm|cjs|umd|es\d*|bundles?|compiled|vendor)\//i.test(p.path)) r += 4;
  if (/\.(?:mjs|cjs)$/i.test(p.path)) r += 2;
  if (p.language === 'javascript') r += 1;
  return r;
}

export interface DedupeOptions {
  /**
   * At most this many pairs keep one normalised query (default 1): a query shared by different functions
   * (copy-pasted docs, "Creates a new instance.") has no single right answer to evaluate, and its pairs
   * contradict each other as in-batch negatives.
   */
  maxPerQuery?: number;
}

/**
 * Drops duplicates, keeping input order: the same normalised code (whitespace and export wrappers aside),
 * and the same (normalised query, symbol name) pair, which catches one function's copies across .js, .mjs,
 * .cjs and bundles, vendored copies across sources, and overloads sharing a doc; then caps the pairs per
 * normalised query (DedupeOptions.maxPerQuery). Of a group, the copy from authored source is kept (see
 * copyRank), then the earliest. Run it over the whole corpus before splitting, so no copy straddles the split.
 */
export function dedupePairs(pairs: Pair[], opts: DedupeOptions = {}): Pair[] {
  const maxPerQuery = opts.maxPerQuery ?? 1;
  const order = pairs.map((p, i) => ({ p, i, rank: copyRank(p) }));
  order.sort((a, b) => a.rank - b.rank || a.i - b.i);
  const codes = new Set<string>();
  const named = new Set<string>();
  const perQuery = new Map<string, number>();
  const keep: boolean[] = new Array<boolean>(pairs.length).fill(false);
  for (const { p, i } of order) {
    const ck = codeKey(p.code);
    const q = normQuery(p.query);
    const nk = `${q}\0${bareName(p.symbol).toLowerCase()}`;
    if (codes.has(ck) || named.has(nk)) continue;
    const n = perQuery.get(q) ?? 0;
    if (n >= maxPerQuery) continue;
    codes.add(ck);
    named.add(nk);
    perQuery.set(q, n + 1);
    keep[i] = true;
  }
  return pairs.filter((_, i) => keep[i]);
}

// ---------------------------------------------------------------------------------------------------------
// Splits

function seededKey(seed: number, key: string): string {
  return createHash('sha256').update(`${seed}\0${key}`).digest('hex');
}

/**
 * Assigns whole groups (sources, files) to the held-out side, per language, so that each language gets about
 * `share` of its pairs held out: groups are taken in seeded-hash order until the share is reached, skipping
 * a group that alone would overshoot it by more than another share (one huge package must not become the
 * whole test set), and always leaving a language at least one training group. Languages with the fewest
 * groups choose first; a group that spans languages is decided once, by the first language that takes it.
 */
function splitGroups(pairs: Pair[], groupOf: (p: Pair) => string, share: number, seed: number): { train: Pair[]; test: Pair[] } {
  if (!(share >= 0 && share <= 1)) throw new RangeError(`held-out share must be in [0, 1], got ${share}`);
  const byLang = new Map<string, Map<string, number>>();
  for (const p of pairs) {
    let m = byLang.get(p.language);
    if (!m) byLang.set(p.language, (m = new Map()));
    const g = groupOf(p);
    m.set(g, (m.get(g) ?? 0) + 1);
  }
  const testGroups = new Set<string>();
  const trainGroups = new Set<string>();
  const langs = [...byLang.keys()].sort((a, b) => byLang.get(a)!.size - byLang.get(b)!.size || (a < b ? -1 : a > b ? 1 : 0));
  const hashes = new Map<string, string>();
  const hashOf = (g: string): string => {
    let h = hashes.get(g);
    if (h === undefined) hashes.set(g, (h = seededKey(seed, g)));
    return h;
  };
  for (const lang of langs) {
    const counts = byLang.get(lang)!;
    if (counts.size < 2) {
      // the language's only group trains: holding it out would leave nothing to learn the language from
      for (const g of counts.keys()) if (!testGroups.has(g)) trainGroups.add(g);
      continue;
    }
    if (share === 0) continue;
    const groups = [...counts.keys()].sort((a, b) => (hashOf(a) < hashOf(b) ? -1 : hashOf(a) > hashOf(b) ? 1 : a < b ? -1 : 1));
    const total = groups.reduce((n, g) => n + counts.get(g)!, 0);
    const target = share * total;
    let test = 0;
    let testN = 0;
    for (const g of groups) if (testGroups.has(g)) (test += counts.get(g)!), testN++;
    const open = groups.filter((g) => !testGroups.has(g) && !trainGroups.has(g));
    // g may go to test only if another group of this language stays out of it
    const canTake = (g: string): boolean => groups.some((h) => h !== g && !testGroups.has(h));
    for (const g of open) {
      if (test >= target) break;
      const c = counts.get(g)!;
      if (test + c > target + Math.max(target, 1) || !canTake(g)) continue;
      testGroups.add(g);
      test += c;
      testN++;
    }
    if (testN === 0) {
      // every open group was too big: hold out the smallest rather than nothing, unless it is most of the
      // language (then the language's training data matters more than its test score)
      const smallest = open.filter(canTake).sort((a, b) => counts.get(a)! - counts.get(b)!)[0];
      if (smallest !== undefined && counts.get(smallest)! * 2 <= total) testGroups.add(smallest);
    }
    // pin this language's largest remaining group to train so a later language cannot take it
    if (!groups.some((g) => trainGroups.has(g))) {
      const keep = groups.filter((g) => !testGroups.has(g)).sort((a, b) => counts.get(b)! - counts.get(a)!)[0];
      if (keep !== undefined) trainGroups.add(keep);
    }
  }
  const train: Pair[] = [];
  const test: Pair[] = [];
  for (const p of pairs) (testGroups.has(groupOf(p)) ? test : train).push(p);
  return { train, test };
}

/**
 * Held-out split by source (package): every pair of a source lands on the same side, never a random pair,
 * so the test set measures search in code the model never saw. Deterministic for a given seed; each
 * language gets about `heldOutShare` of its pairs held out when it has two or more sources.
 */
export function splitBySource(pairs: Pair[], heldOutShare: number, seed: number): { train: Pair[]; test: Pair[] } {
  return splitGroups(pairs, (p) => p.source, heldOutShare, seed);
}

/** For fine-tuning on one codebase: about `share` of each language's pairs held out, whole files at a time. */
export function splitByFile(pairs: Pair[], share: number, seed: number): { train: Pair[]; test: Pair[] } {
  return splitGroups(pairs, (p) => `${p.source}\0${p.path}`, share, seed);
}
