/**
 * Python docstrings: the first statement of a function's body when it is a plain string literal, found by
 * reading past the `def` header (whose defaults and annotations may hold colons, brackets, strings and
 * comments), and cleaned the way inspect.cleandoc does. Apart from docComments.ts because a docstring sits
 * inside the body rather than above the declaration, and finding it is a small Python lexer of its own.
 */
import { type Span, dedent } from './docComments';

export interface PyDoc {
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

export function pythonDocstring(s: string): PyDoc | null {
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
export function cleandoc(raw: string): string {
  const lines = raw.replace(/\r\n?/g, '\n').split('\n');
  const first = lines[0]!.trim();
  const rest = dedent(lines.slice(1));
  return [first, ...rest].join('\n').replace(/^\n+|\s+$/g, '');
}
