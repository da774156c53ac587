/**
 * Finding a function chunk's doc comment and taking it out: the comments, attributes and decorators at the
 * top of a chunk (the chunker puts a symbol's own there), which of them are documentation in the chunk's
 * language (pairs.ts's header lists the conventions), their text without comment markers, and the code with
 * them removed. Python docstrings, which sit inside the body, are pyDocstrings.ts's.
 */
export type Flavor = 'javadoc' | 'go' | 'rust' | 'c' | 'python';

export function flavorOf(language: string): Flavor | null {
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

export interface Span {
  start: number;
  end: number;
}

export interface PrefixItem extends Span {
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
export function scanPrefix(s: string, flavor: Flavor): PrefixItem[] {
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

/** The doc comment items of a chunk's prefix, per the language's convention (see pairs.ts's file comment). */
export function docItems(items: PrefixItem[], flavor: Flavor): PrefixItem[] {
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
export function commentText(items: PrefixItem[]): string {
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

export function dedent(lines: string[]): string[] {
  let min = Infinity;
  for (const l of lines) if (/\S/.test(l)) min = Math.min(min, /^[ \t]*/.exec(l)![0].length);
  if (!Number.isFinite(min)) return lines.map(() => '');
  return lines.map((l) => (/\S/.test(l) ? l.slice(min).trimEnd() : ''));
}

/** Removes spans from `s`; a span alone on its lines takes those whole lines with it. */
export function removeSpans(s: string, spans: Span[]): string {
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
