/**
 * Translates a path glob to a POSIX regular expression that PostgreSQL's `~` evaluates, so filtering
 * happens inside the index scan instead of after it. A pattern without '/' matches the file name at any
 * depth (as in .gitignore): `*.ts` finds src/a.ts; `src/**` is anchored at the root.
 */
export function globToRegex(glob: string): string {
  const pattern = glob.startsWith('/') ? glob.slice(1) : glob;
  const anchored = pattern.includes('/') || glob.startsWith('/');
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
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        let cls = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
        if (cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += `[${cls}]`;
        i = end;
      }
    } else re += /[.+^$|()\\]/.test(c) ? `\\${c}` : c;
    i++;
  }
  while (braces-- > 0) re += ')';
  return anchored ? `^${re}$` : `(^|/)${re}$`;
}
