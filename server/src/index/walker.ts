/**
 * Workspace walker: yields every indexable file under a root, in a stable depth-first order, honouring
 * .gitignore / .semcodeignore / .git/info/exclude and counting everything it leaves out.
 *
 * Ignore rules: each directory gets one `ignore` instance holding every rule that applies to it, in git's
 * precedence order (later rules win): built-in defaults, .git/info/exclude, root .gitignore, the
 * `ignorePatterns` option, root .semcodeignore, then for each deeper directory its .gitignore and its
 * .semcodeignore. Rules from a nested file are rebased onto the root (`foo` in `a/.gitignore` becomes
 * `a/**\/foo`, `/foo` or `x/foo` becomes `a/x/foo`...) so that a single rule list answers for the whole path.
 * Keeping per-file instances instead would be wrong: `ignore` propagates a parent directory's exclusion
 * within one instance, so a directory git-ignored at the root but re-included by `!dir/` in .semcodeignore
 * (or by a deeper .gitignore) would still hide its children.
 *
 * Symlinks: a link whose real path is the root's real path or below it is followed (paths stay under the
 * link's name; a directory already entered in this walk is a symlink_loop). A file or directory link whose
 * real path is elsewhere is not followed and counts as outside_root, at any depth, in `walkPaths` too (a
 * listed path under such a link included), unless `followExternalLinks` is set: otherwise a link to
 * /etc/passwd or to another tree would put content from outside the workspace into the index and into
 * search results. No ignore file is read through such a link either.
 */
import { constants as bufferConstants } from 'node:buffer';
import { close, constants as fsConstants, fstat, open, promises as fsp, read, type Dirent } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import ignore, { type Ignore } from 'ignore';
import { SemcodeError, errorMessage } from '../errors';

/**
 * Why a file was left out. unreadable: an fs error (a dangling link too); symlink_loop: a link to an ancestor
 * or to a directory already walked, or ELOOP; not_regular: FIFOs, sockets, devices (also through a link,
 * wherever it points: they are never read); outside_root: a file or directory link whose real path is not
 * under the root's real path (not followed unless `followExternalLinks`).
 */
export type SkipReason = 'binary' | 'too_large' | 'unreadable' | 'symlink_loop' | 'not_regular' | 'outside_root';

export interface WalkOptions {
  /** bytes, default 1 MiB (1_048_576) */
  maxFileSize?: number;
  /** extra gitignore-syntax patterns from settings/CLI, applied like a root .semcodeignore */
  ignorePatterns?: string[];
  /** parallel file reads, default 16 */
  concurrency?: number;
  /**
   * Follow symlinks whose real path is outside the root (loops are still detected). Default false: they
   * count as skipped `outside_root`, so nothing from outside the workspace is indexed.
   */
  followExternalLinks?: boolean;
}

export interface WalkedFile {
  /** the root's real path (fs.realpath) */
  root: string;
  /** posix path relative to root */
  relPath: string;
  absPath: string;
  /** raw content (the indexer hashes the bytes) */
  bytes: Buffer;
  /** decoded UTF-8; invalid sequences become U+FFFD; a leading BOM is removed; CRLF kept as is */
  text: string;
  size: number;
  mtimeMs: number;
}

export interface WalkStats {
  files: number;
  skipped: Record<SkipReason, number>;
  /** entries excluded by ignore rules, counted at the entry (an ignored directory counts once) */
  ignored: number;
}

export const DEFAULT_MAX_FILE_SIZE = 1_048_576;
export const DEFAULT_CONCURRENCY = 16;

// `.git` without a slash: a submodule's or worktree's `.git` is a file, and it is git metadata too.
const BUILTIN_IGNORES = ['.git', '.hg/', '.svn/', 'node_modules/', '.semcode/'];
// Re-asserted after .git/info/exclude and every .gitignore: git never looks inside .git whatever those
// say, and the common `*` + `!*/` idiom would otherwise re-include it. A .semcodeignore can still `!.git`.
const GIT_DIR = '.git';
// git follows the filesystem: case-insensitive where the usual filesystem is (core.ignorecase).
const IGNORE_CASE = process.platform === 'darwin' || process.platform === 'win32';
const BINARY_SNIFF_BYTES = 8192;
// O_NONBLOCK: a regular file swapped for a FIFO between readdir and open must not hang the walk.
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0);
const MAX_BUFFER = bufferConstants.MAX_LENGTH;
const openAsync = promisify(open);
const fstatAsync = promisify(fstat);
const closeAsync = promisify(close);
const readAsync = (fd: number, buf: Buffer, offset: number, length: number, position: number) =>
  new Promise<number>((resolve, reject) =>
    read(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))),
  );
// Non-streaming decode is stateless, so one decoder serves every file; it drops a leading BOM itself.
const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });

function fsCode(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Is `real` (a real path) `realRoot` or below it? */
function within(realRoot: string, real: string): boolean {
  const rel = relative(realRoot, real);
  return rel === '' || !(rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel));
}

/**
 * For an entry whose parent directory's real path is inside the root: is it a symlink whose real path is
 * not? False when it cannot be resolved (the caller's own stat or read reports that as it always has).
 * Running out of file descriptors is not an answer about the entry, so it propagates.
 */
async function linksOut(realRoot: string, abs: string): Promise<boolean> {
  try {
    if (!(await fsp.lstat(abs)).isSymbolicLink()) return false;
    return !within(realRoot, await fsp.realpath(abs));
  } catch (e) {
    const code = fsCode(e);
    if (code === undefined || code === 'EMFILE' || code === 'ENFILE') throw e;
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Ignore rules

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
async function loadRules(
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

/**
 * The walker's ignore decisions for single paths, e.g. for a file watcher. Ignore files along the path
 * are read on first use and cached; call `clear()` when one of them changes.
 */
// A backslash is a legal file name character outside Windows.
const PATH_SEPARATORS = process.platform === 'win32' ? /[\\/]+/ : /\/+/;

interface DirRules {
  rules: Ignore;
  /** reached through a link leading out of the root: the walker never enters it, its ignore files are not read */
  sealed: boolean;
}

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
              const sealed =
                parent.sealed || (!this.followExternalLinks && (await linksOut(await this.resolveRoot(), abs)));
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
export async function isIgnored(
  root: string,
  relPath: string,
  opts: { isDir?: boolean; ignorePatterns?: string[] } = {},
): Promise<boolean> {
  return new IgnoreRules(root, opts).ignores(relPath, opts.isDir ?? false);
}

// ---------------------------------------------------------------------------------------------------------
// Walking

async function resolveRoot(root: string): Promise<string> {
  let real: string;
  try {
    real = await fsp.realpath(root);
  } catch (e) {
    const code = fsCode(e);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new SemcodeError('usage', `workspace root does not exist: ${root}`, { cause: e });
    }
    throw new SemcodeError('io_error', `cannot open workspace root ${root}: ${errorMessage(e)}`, { cause: e });
  }
  const st = await fsp.stat(real);
  if (!st.isDirectory()) throw new SemcodeError('usage', `workspace root is not a directory: ${root}`);
  return real;
}

function byCodeUnit(a: Dirent, b: Dirent): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

interface Frame {
  abs: string;
  /** real path, for loop detection */
  real: string;
  rel: string;
  rules: Ignore;
  entries: Dirent[];
  next: number;
}

interface Candidate {
  relPath: string;
  absPath: string;
}

/**
 * Normalised, sorted, deduplicated relative paths, without those inside another listed path (a listed
 * directory is walked whole). Paths leaving the root ('..') or naming the root itself are dropped.
 */
export function coverPaths(relPaths: readonly string[]): string[] {
  const clean = new Set<string>();
  for (const p of relPaths) {
    const parts = p.split(PATH_SEPARATORS).filter((x) => x !== '' && x !== '.');
    if (!parts.length || parts.includes('..')) continue;
    clean.add(parts.join('/'));
  }
  const ancestorListed = (p: string) => {
    for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) if (clean.has(p.slice(0, i))) return true;
    return false;
  };
  return [...clean].filter((p) => !ancestorListed(p)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Is `path` one of `covered` or inside one of them? (both posix, relative to one root) */
export function isCovered(path: string, covered: readonly string[]): boolean {
  return covered.some((q) => path === q || path.startsWith(q + '/'));
}

export class Walker {
  readonly stats: WalkStats = {
    files: 0,
    skipped: { binary: 0, too_large: 0, unreadable: 0, symlink_loop: 0, not_regular: 0, outside_root: 0 },
    ignored: 0,
  };
  private readonly maxFileSize: number;
  private readonly concurrency: number;
  private readonly ignorePatterns: readonly string[];
  private readonly followExternalLinks: boolean;

  constructor(opts: WalkOptions = {}) {
    this.maxFileSize = opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
    this.concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY;
    if (!(this.maxFileSize >= 0)) throw new RangeError(`maxFileSize must be >= 0, got ${opts.maxFileSize}`);
    if (!(Number.isInteger(this.concurrency) && this.concurrency >= 1)) {
      throw new RangeError(`concurrency must be a positive integer, got ${opts.concurrency}`);
    }
    this.ignorePatterns = [...(opts.ignorePatterns ?? [])];
    this.followExternalLinks = opts.followExternalLinks ?? false;
  }

  /**
   * Files under `root` in deterministic order: entries sorted by UTF-16 code unit within each directory,
   * depth-first (a directory's contents take its place in its parent's order). Up to `concurrency` files
   * are read ahead while the caller consumes, but they are yielded in walk order. Symlinks resolving inside
   * the root are followed (paths stay under the link's name); a symlinked directory whose real path was
   * already entered in this walk (an ancestor, or a tree already walked) counts as symlink_loop. A file or
   * directory link resolving outside the root counts as outside_root unless `followExternalLinks`. `root`
   * may itself be a link: its real path is the root. Throws a SemcodeError naming `root` if it is missing
   * or not a directory.
   */
  async *walk(root: string): AsyncGenerator<WalkedFile> {
    const realRoot = await resolveRoot(root);
    yield* this.readAhead(realRoot, this.candidates(realRoot, root));
  }

  /** Reads up to `concurrency` candidates ahead, yielding them in candidate order. */
  private async *readAhead(realRoot: string, candidates: AsyncGenerator<Candidate>): AsyncGenerator<WalkedFile> {
    const window: Promise<WalkedFile | null>[] = [];
    for await (const c of candidates) {
      const pending = this.read(realRoot, c);
      // Awaited in order below; until then a rejection must not count as unhandled.
      pending.catch(() => {});
      window.push(pending);
      if (window.length >= this.concurrency) {
        const file = await window.shift()!;
        if (file) {
          this.stats.files++;
          yield file;
        }
      }
    }
    while (window.length > 0) {
      const file = await window.shift()!;
      if (file) {
        this.stats.files++;
        yield file;
      }
    }
  }

  /**
   * Only these paths (posix, relative to `root`), for a file watcher: each is a file, a directory (walked
   * as a full walk would walk it) or gone (nothing yielded). A path the walker would leave out (ignored,
   * inside an ignored directory, binary, too large, a link out of the root or under one...) yields nothing
   * either, so the caller treats every requested path that yields nothing as absent from the index.
   */
  async *walkPaths(root: string, relPaths: readonly string[]): AsyncGenerator<WalkedFile> {
    const realRoot = await resolveRoot(root);
    const rules = new IgnoreRules(realRoot, {
      ignorePatterns: [...this.ignorePatterns],
      followExternalLinks: this.followExternalLinks,
    });
    for (const relPath of coverPaths(relPaths)) {
      if (await rules.ignores(relPath)) {
        this.stats.ignored++;
        continue;
      }
      const absPath = join(realRoot, relPath);
      // A full walk never enters a directory link leading out of the root, so nothing below one is yielded.
      if (!this.followExternalLinks && (await this.underExternalLink(realRoot, relPath))) {
        this.stats.skipped.outside_root++;
        continue;
      }
      let st;
      try {
        st = await fsp.stat(absPath);
      } catch (e) {
        const code = fsCode(e);
        if (code === 'ENOENT' || code === 'ENOTDIR') continue; // gone: the caller drops it from the index
        this.skip(code === 'ELOOP' ? 'symlink_loop' : 'unreadable', e);
        continue;
      }
      if (st.isDirectory()) {
        if (await rules.ignores(relPath, true)) {
          this.stats.ignored++;
          continue;
        }
        const cut = relPath.lastIndexOf('/');
        const parentRules = await rules.rulesFor(cut < 0 ? '' : relPath.slice(0, cut));
        let real: string;
        try {
          real = await fsp.realpath(absPath);
        } catch (e) {
          this.skip('unreadable', e);
          continue;
        }
        if (!this.followExternalLinks && !within(realRoot, real)) {
          this.stats.skipped.outside_root++;
          continue;
        }
        const sub = { rel: relPath, abs: absPath, real, parentRules };
        yield* this.readAhead(realRoot, this.candidates(realRoot, root, sub));
      } else if (st.isFile()) {
        if (!this.followExternalLinks && (await linksOut(realRoot, absPath))) {
          this.stats.skipped.outside_root++;
          continue;
        }
        const file = await this.read(realRoot, { relPath, absPath });
        if (file) {
          this.stats.files++;
          yield file;
        }
      } else {
        this.stats.skipped.not_regular++;
      }
    }
  }

  /** Does one of the directories above `relPath` (not the path itself) lead out of the root through a link? */
  private async underExternalLink(realRoot: string, relPath: string): Promise<boolean> {
    // Checked from the top: once every ancestor so far resolves inside the root, only a link can leave it.
    const parts = relPath.split('/');
    for (let i = 1; i < parts.length; i++) {
      if (await linksOut(realRoot, join(realRoot, ...parts.slice(0, i)))) return true;
    }
    return false;
  }

  /**
   * Files to read, in walk order; ignored, unreachable, non-regular and outside_root entries are counted here.
   * `sub` starts the walk at a directory below the root (its rules come from its parent's, as in a full walk).
   */
  private async *candidates(
    realRoot: string,
    givenRoot: string,
    sub?: { rel: string; abs: string; real: string; parentRules: Ignore },
  ): AsyncGenerator<Candidate> {
    const startAbs = sub?.abs ?? realRoot;
    let rootEntries: Dirent[];
    try {
      rootEntries = await fsp.readdir(startAbs, { withFileTypes: true });
    } catch (e) {
      if (sub) {
        this.skip('unreadable', e);
        return;
      }
      throw new SemcodeError('io_error', `cannot read workspace root ${givenRoot}: ${errorMessage(e)}`, { cause: e });
    }
    // Real paths of every directory entered: a symlink into one of them is a loop (an ancestor) or a
    // second copy of files already walked, and following it could multiply or never end.
    const visited = new Set<string>([sub?.real ?? realRoot]);
    const stack: Frame[] = [
      sub
        ? await this.frame(sub.parentRules, sub.abs, sub.real, sub.rel, rootEntries)
        : await this.frame(null, realRoot, realRoot, '', rootEntries),
    ];

    while (stack.length > 0) {
      const dir = stack[stack.length - 1]!;
      if (dir.next >= dir.entries.length) {
        stack.pop();
        continue;
      }
      const entry = dir.entries[dir.next++]!;
      const relPath = dir.rel ? `${dir.rel}/${entry.name}` : entry.name;
      const absPath = join(dir.abs, entry.name);

      let kind: 'file' | 'dir' | 'other';
      let linked = false;
      if (entry.isSymbolicLink()) {
        linked = true;
        try {
          const st = await fsp.stat(absPath);
          kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
        } catch (e) {
          if (dir.rules.ignores(relPath)) this.stats.ignored++;
          else this.skip(fsCode(e) === 'ELOOP' ? 'symlink_loop' : 'unreadable', e);
          continue;
        }
      } else {
        kind = entry.isDirectory() ? 'dir' : entry.isFile() ? 'file' : 'other';
      }

      if (dir.rules.ignores(kind === 'dir' ? relPath + '/' : relPath)) {
        this.stats.ignored++;
        continue;
      }
      if (kind === 'other') {
        this.stats.skipped.not_regular++;
        continue;
      }
      let real: string | undefined;
      if (linked) {
        try {
          real = await fsp.realpath(absPath);
        } catch (e) {
          this.skip('unreadable', e);
          continue;
        }
        if (!this.followExternalLinks && !within(realRoot, real)) {
          this.stats.skipped.outside_root++;
          continue;
        }
      }
      if (kind === 'file') {
        yield { relPath, absPath };
        continue;
      }

      if (real !== undefined) {
        if (visited.has(real)) {
          this.stats.skipped.symlink_loop++;
          continue;
        }
      } else {
        // A plain directory is always walked: only symlinks can lead back into the tree.
        real = join(dir.real, entry.name);
      }
      let entries: Dirent[];
      try {
        entries = await fsp.readdir(absPath, { withFileTypes: true });
      } catch (e) {
        this.skip('unreadable', e);
        continue;
      }
      visited.add(real);
      stack.push(await this.frame(dir.rules, absPath, real, relPath, entries));
    }
  }

  private async frame(
    parent: Ignore | null,
    abs: string,
    real: string,
    rel: string,
    entries: Dirent[],
  ): Promise<Frame> {
    entries.sort(byCodeUnit);
    const names = new Set(entries.map((e) => e.name));
    const rules = await loadRules(parent, abs, rel, this.ignorePatterns, (n) => names.has(n));
    return { abs, real, rel, rules, entries, next: 0 };
  }

  /**
   * Reads one file, or counts why not and returns null. Never throws for a filesystem error. Uses the
   * callback fs API and a single sized read: on 100k small files, FileHandle.readFile's extra fstat and
   * EOF read plus the FileHandle bookkeeping cost about a third of the walk.
   */
  private async read(root: string, c: Candidate): Promise<WalkedFile | null> {
    let fd: number;
    try {
      fd = await openAsync(c.absPath, OPEN_FLAGS);
    } catch (e) {
      return this.skip(fsCode(e) === 'ELOOP' ? 'symlink_loop' : 'unreadable', e);
    }
    try {
      const st = await fstatAsync(fd);
      if (!st.isFile()) return this.skip('not_regular');
      if (st.size > this.maxFileSize || st.size > MAX_BUFFER) return this.skip('too_large');
      // The size at stat time is the snapshot: a file growing meanwhile is read up to that size.
      // Not from the shared pool: callers may keep or transfer `bytes`, which must not pin or expose
      // other files' memory.
      const buf = Buffer.allocUnsafeSlow(st.size);
      let got = 0;
      while (got < buf.length) {
        const n = await readAsync(fd, buf, got, buf.length - got, got);
        if (n === 0) break;
        got += n;
      }
      const bytes = got === buf.length ? buf : buf.subarray(0, got);
      if (bytes.subarray(0, BINARY_SNIFF_BYTES).includes(0)) return this.skip('binary');
      // Decoded on first use: an unchanged file is only hashed, so a no-change re-index never decodes.
      let text: string | undefined;
      return {
        root,
        relPath: c.relPath,
        absPath: c.absPath,
        bytes,
        get text() {
          return (text ??= utf8.decode(bytes));
        },
        size: bytes.length,
        mtimeMs: st.mtimeMs,
      };
    } catch (e) {
      return this.skip('unreadable', e);
    } finally {
      await closeAsync(fd).catch(() => {});
    }
  }

  /**
   * Counts a skip. Only filesystem errors (those with a code) are skips; running out of file descriptors
   * says nothing about the file and dropping it would silently shrink the index, so that one propagates.
   */
  private skip(reason: SkipReason, e?: unknown): null {
    if (e !== undefined) {
      const code = fsCode(e);
      if (code === undefined || code === 'EMFILE' || code === 'ENFILE') throw e;
    }
    this.stats.skipped[reason]++;
    return null;
  }
}

/** Relative paths of every file the walker would yield, with the stats. Reads every file (binary sniffing). */
export async function listIndexableFiles(
  root: string,
  opts?: WalkOptions,
): Promise<{ files: string[]; stats: WalkStats }> {
  const walker = new Walker(opts);
  const files: string[] = [];
  for await (const f of walker.walk(root)) files.push(f.relPath);
  return { files, stats: walker.stats };
}
