/**
 * The walker's ignore rules: .gitignore / .semcodeignore / .git/info/exclude, the built-in defaults and the
 * `ignorePatterns` option, as the walk applies them per directory and as `IgnoreRules` answers them for
 * single paths (the file watcher). Kept apart from the walk itself because the rule list, its precedence
 * and the rebasing of nested rules are their own subject, and the watcher needs them without a walk.
 *
 * Ignore rules: each directory gets one `ignore` instance holding every rule that applies to it, in git's
 * precedence order (later rules win): built-in defaults, .git/info/exclude, root .gitignore, the
 * `ignorePatterns` option, root .semcodeignore, then for each deeper directory its .gitignore and its
 * .semcodeignore. Rules from a nested file are rebased onto the root (`foo` in `a/.gitignore` becomes
 * `a/**\/foo`, `/foo` or `x/foo` becomes `a/x/foo`...) so that a single rule list answers for the whole path.
 * Keeping per-file instances instead would be wrong: `ignore` propagates a parent directory's exclusion
 * within one instance, so a directory git-ignored at the root but re-included by `!dir/` in .semcodeignore
 * (or by a deeper .gitignore) would still hide its children.
 */
import { promises as fsp } from 'node:fs';
import { join, resolve } from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { linksOut } from './fsChecks';
import type { WalkOptions } from './walkTypes';

// `.git` without a slash: a submodule's or worktree's `.git` is a file, and it is git metadata too.
const BUILTIN_IGNORES = ['.git', '.hg/', '.svn/', 'node_modules/', '.semcode/'];
// Re-asserted after .git/info/exclude and every .gitignore: git never looks inside .git whatever those
// say, and the common `*` + `!*/` idiom would otherwise re-include it. A .semcodeignore can still `!.git`.
const GIT_DIR = '.git';
// git follows the filesystem: case-insensitive where the usual filesystem is (core.ignorecase).
const IGNORE_CASE = process.platform === 'darwin' || process.platform === 'win32';

function escapeGlob(s: string): string {
  return s.replace(/[\\*?[\]]/g, '\\$&').replace(/^[!#]/, '\\$&');
}

/** Drops trailing spaces the way git does: a space escaped by an odd run of backslashes stays. */
function trimTrailingSpaces(s: string): string {
  let end = s.length;
  while (end > 0 && s[end - 1] === ' ') {
    let bs = 0;
    while (s[end - 2 - bs] === '\\') bs++;
    if (bs % 2 === 1) break;
    end--;
  }
  return s.slice(0, end);
}

/**
 * Rewrites the lines of an ignore file found in `dirRel` so that they match paths relative to the root,
 * following gitignore(5): a pattern with a slash at its start or middle is relative to its own directory,
 * any other one matches at any depth below it.
 */
function rebasePatterns(text: string, dirRel: string): string[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (!dirRel) return lines;
  const prefix = escapeGlob(dirRel) + '/';
  const out: string[] = [];
  for (const line of lines) {
    if (line === '' || line[0] === '#') continue;
    const negative = line[0] === '!';
    const body = negative ? line.slice(1) : line;
    let core = trimTrailingSpaces(body);
    if (core.endsWith('/')) core = core.slice(0, -1);
    if (!core) continue;
    const rebased = core.includes('/') ? prefix + body.replace(/^\//, '') : prefix + '**/' + body;
    out.push((negative ? '!' : '') + rebased);
  }
  return out;
}

async function readIgnoreFile(file: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch {
    // Absent, a directory, or unreadable: no rules from it, as with git.
    return undefined;
  }
}

/**
 * The rules for directory `dirRel` (posix, '' for the root). `parent` is the rules of its parent directory
 * (null for the root); `has` says whether a name is in the directory, to skip reads that would only fail.
 * Always a fresh instance: `ignore` caches every tested path, and a per-directory instance lets that cache
 * go with the directory instead of growing with the whole tree.
 */
export async function loadRules(
  parent: Ignore | null,
  absDir: string,
  dirRel: string,
  ignorePatterns: readonly string[],
  has: (name: string) => boolean,
): Promise<Ignore> {
  const [exclude, gitignore, semcodeignore] = await Promise.all([
    parent === null && has('.git') ? readIgnoreFile(join(absDir, '.git', 'info', 'exclude')) : undefined,
    has('.gitignore') ? readIgnoreFile(join(absDir, '.gitignore')) : undefined,
    has('.semcodeignore') ? readIgnoreFile(join(absDir, '.semcodeignore')) : undefined,
  ]);
  const ig = ignore({ ignorecase: IGNORE_CASE });
  if (parent === null) ig.add(BUILTIN_IGNORES);
  else ig.add(parent);
  if (exclude) ig.add([...rebasePatterns(exclude, ''), GIT_DIR]);
  if (gitignore) ig.add([...rebasePatterns(gitignore, dirRel), ...rebasePatterns(GIT_DIR, dirRel)]);
  if (parent === null) ig.add(ignorePatterns.flatMap((p) => rebasePatterns(p, '')));
  if (semcodeignore) ig.add(rebasePatterns(semcodeignore, dirRel));
  return ig;
}

// A backslash is a legal file name character outside Windows.
export const PATH_SEPARATORS = process.platform === 'win32' ? /[\\/]+/ : /\/+/;

interface DirRules {
  rules: Ignore;
  /** reached through a link leading out of the root: the walker never enters it, its ignore files are not read */
  sealed: boolean;
}

/**
 * The walker's ignore decisions for single paths, e.g. for a file watcher. Ignore files along the path
 * are read on first use and cached; call `clear()` when one of them changes.
 */
export class IgnoreRules {
  private readonly cache = new Map<string, Promise<DirRules>>();
  private readonly patterns: readonly string[];
  private readonly followExternalLinks: boolean;
  private realRoot: Promise<string> | undefined;

  constructor(
    readonly root: string,
    opts: Pick<WalkOptions, 'ignorePatterns' | 'followExternalLinks'> = {},
  ) {
    this.patterns = [...(opts.ignorePatterns ?? [])];
    this.followExternalLinks = opts.followExternalLinks ?? false;
  }

  /** Would the walker leave out `relPath` (posix, relative to root) because of an ignore rule? */
  async ignores(relPath: string, isDir = false): Promise<boolean> {
    const parts = relPath.split(PATH_SEPARATORS).filter((p) => p !== '' && p !== '.');
    if (parts.length === 0) return false; // the root itself is never ignored
    let rules = await this.rulesFor('');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      // The walker never enters an ignored directory: stop before reading ignore files inside it.
      if (rules.ignores(dir + '/')) return true;
      rules = await this.rulesFor(dir);
    }
    return rules.ignores(parts.join('/') + (isDir ? '/' : ''));
  }

  clear(): void {
    this.cache.clear();
  }

  /**
   * The full rule list for directory `dirRel` (posix, '' for the root), as the walker builds it there. A
   * directory reached through a link out of the root (unless `followExternalLinks`) adds no rules of its own.
   */
  async rulesFor(dirRel: string): Promise<Ignore> {
    return (await this.dirRules(dirRel)).rules;
  }

  private dirRules(dirRel: string): Promise<DirRules> {
    let rules = this.cache.get(dirRel);
    if (!rules) {
      const abs = join(this.root, dirRel);
      const cut = dirRel.lastIndexOf('/');
      rules =
        dirRel === ''
          ? loadRules(null, abs, '', this.patterns, () => true).then((r) => ({ rules: r, sealed: false }))
          : this.dirRules(cut < 0 ? '' : dirRel.slice(0, cut)).then(async (parent) => {
              const sealed = parent.sealed || (!this.followExternalLinks && (await linksOut(await this.resolveRoot(), abs)));
              const r = await loadRules(parent.rules, abs, dirRel, this.patterns, () => !sealed);
              return { rules: r, sealed };
            });
      this.cache.set(dirRel, rules);
    }
    return rules;
  }

  private resolveRoot(): Promise<string> {
    // A root that cannot be resolved has no ignore files to read either.
    return (this.realRoot ??= fsp.realpath(this.root).catch(() => resolve(this.root)));
  }
}

/** One-shot form of `IgnoreRules.ignores`. */
export async function isIgnored(root: string, relPath: string, opts: { isDir?: boolean; ignorePatterns?: string[] } = {}): Promise<boolean> {
  return new IgnoreRules(root, opts).ignores(relPath, opts.isDir ?? false);
}
