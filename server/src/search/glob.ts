import { SemcodeError } from '../errors';

/**
 * Translates a path glob to a POSIX regular expression that PostgreSQL's `~` evaluates, so filtering
 * happens inside the index scan instead of after it. A pattern without '/' matches the file name at any
 * depth (as in .gitignore): `*.ts` finds src/a.ts; `src/**` is anchored at the root.
 *
 * A glob that means nothing (an empty class `[]`, a reversed range `[z-a]`) is a usage error here, before
 * any SQL: PostgreSQL would only say "invalid regular expression". Every character reaches the regex
 * escaped or translated, so whatever this returns PostgreSQL accepts.
 */
export function globToRegex(glob: string): string {
  const invalid = (why: string) => new SemcodeError('usage', `invalid glob ${JSON.stringify(glob)}: ${why}`);
  const body = glob.startsWith('/') ? glob.slice(1) : glob;
  const anchored = body.includes('/') || glob.startsWith('/');
  // Code points, not UTF-16 units: a class must never hold half of a surrogate pair.
  const pattern = Array.from(body);
  let re = '';
  let i = 0;
  let braces = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        const slashAfter = pattern[i + 2] === '/';
        re += slashAfter ? '(.*/)?' : '.*';
        i += slashAfter ? 3 : 2;
        continue;
      }
      re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '{') {
      braces++;
      re += '(';
    } else if (c === '}' && braces > 0) {
      braces--;
      re += ')';
    } else if (c === ',' && braces > 0) re += '|';
    else if (c === '[') {
      const cls = bracketClass(pattern, i, invalid);
      if (cls) {
        re += cls.re;
        i = cls.end;
      } else re += '\\[';
    } else re += escapeChar(c);
    i++;
  }
  while (braces-- > 0) re += ')';
  return anchored ? `^${re}$` : `(^|/)${re}$`;
}

/** Outside a class: regex metacharacters escaped, `{` and `}` too (a literal `}` is left by an unopened brace). */
function escapeChar(c: string): string {
  return /[.+^$|()\\[\]{}*?]/.test(c) ? `\\${c}` : c;
}

/** Inside a class: `\`, `]`, `[`, `^` and `-` escaped (both PostgreSQL and JavaScript read `\` + punctuation as that character). */
function classChar(c: string): string {
  return /[\\\][^-]/.test(c) ? `\\${c}` : c;
}

/**
 * The class opened by `[` at `start` (`[abc]`, `[!a-z]`, `[^a-z]`; `\` escapes the next character) as a
 * regex class, with the index of its `]`; null when no `]` closes it (the `[` is then a literal character).
 */
function bracketClass(p: string[], start: number, invalid: (why: string) => SemcodeError): { re: string; end: number } | null {
  let i = start + 1;
  const negate = p[i] === '!' || p[i] === '^';
  if (negate) i++;
  const items: string[] = [];
  const next = (): string | undefined => (p[i] === '\\' && i + 1 < p.length ? p[++i] : p[i]);
  while (i < p.length && p[i] !== ']') {
    const lo = next()!;
    if (p[i + 1] === '-' && i + 2 < p.length && p[i + 2] !== ']') {
      i += 2;
      const hi = next()!;
      if (lo.codePointAt(0)! > hi.codePointAt(0)!) throw invalid(`the range ${lo}-${hi} is reversed`);
      items.push(`${classChar(lo)}-${classChar(hi)}`);
    } else items.push(classChar(lo));
    i++;
  }
  if (i >= p.length) return null;
  if (!items.length) throw invalid(`${p.slice(start, i + 1).join('')} is an empty character class`);
  // `/` separates directories: a class never matches it, as `?` and `*` never do.
  return { re: `[${negate ? '^/' : ''}${items.join('')}]`, end: i };
}
