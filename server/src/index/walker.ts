/**
 * Workspace walker: yields every indexable file under a root, in a stable depth-first order, honouring
 * .gitignore / .semcodeignore / .git/info/exclude and counting everything it leaves out.
 *
 * The ignore rules and how they stack up per directory are in ignoreRules.ts, the reading of one file
 * (size limit, binary sniff, decoding) in fileReader.ts, the shared shapes in walkTypes.ts; this module is
 * the walk itself: order, read-ahead, symlinks and the single-path walk for a file watcher.
 *
 * Symlinks: a link whose real path is the root's real path or below it is followed (paths stay under the
 * link's name; a directory already entered in this walk is a symlink_loop). A file or directory link whose
 * real path is elsewhere is not followed and counts as outside_root, at any depth, in `walkPaths` too (a
 * listed path under such a link included), unless `followExternalLinks` is set: otherwise a link to
 * /etc/passwd or to another tree would put content from outside the workspace into the index and into
 * search results. No ignore file is read through such a link either.
 */
import { promises as fsp, type Dirent } from 'node:fs';
import { join } from 'node:path';
import type { Ignore } from 'ignore';
import { SemcodeError, errorMessage } from '../errors';
import { type Candidate, readWalkedFile } from './fileReader';
import { fsCode, linksOut, within } from './fsChecks';
import { IgnoreRules, PATH_SEPARATORS, loadRules } from './ignoreRules';
import type { SkipReason, WalkOptions, WalkStats, WalkedFile } from './walkTypes';

export type { SkipReason, WalkOptions, WalkStats, WalkedFile } from './walkTypes';
export { IgnoreRules, isIgnored } from './ignoreRules';

export const DEFAULT_MAX_FILE_SIZE = 1_048_576;
export const DEFAULT_CONCURRENCY = 16;

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
      sub ? await this.frame(sub.parentRules, sub.abs, sub.real, sub.rel, rootEntries) : await this.frame(null, realRoot, realRoot, '', rootEntries),
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

      const admitted = await this.admit(realRoot, dir, entry, relPath, absPath);
      if (!admitted) continue;
      if (admitted.kind === 'file') {
        yield { relPath, absPath };
        continue;
      }

      let real = admitted.real;
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

  /**
   * What one directory entry is, looking through a symlink; null when the walk leaves it out (ignored, not a
   * regular file or directory, unresolvable, a link out of the root), counted here. `real` is set for links.
   */
  private async admit(
    realRoot: string,
    dir: Frame,
    entry: Dirent,
    relPath: string,
    absPath: string,
  ): Promise<{ kind: 'file' | 'dir'; real: string | undefined } | null> {
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
        return null;
      }
    } else {
      kind = entry.isDirectory() ? 'dir' : entry.isFile() ? 'file' : 'other';
    }

    if (dir.rules.ignores(kind === 'dir' ? relPath + '/' : relPath)) {
      this.stats.ignored++;
      return null;
    }
    if (kind === 'other') {
      this.stats.skipped.not_regular++;
      return null;
    }
    let real: string | undefined;
    if (linked) {
      try {
        real = await fsp.realpath(absPath);
      } catch (e) {
        this.skip('unreadable', e);
        return null;
      }
      if (!this.followExternalLinks && !within(realRoot, real)) {
        this.stats.skipped.outside_root++;
        return null;
      }
    }
    return { kind, real };
  }

  private async frame(parent: Ignore | null, abs: string, real: string, rel: string, entries: Dirent[]): Promise<Frame> {
    entries.sort(byCodeUnit);
    const names = new Set(entries.map((e) => e.name));
    const rules = await loadRules(parent, abs, rel, this.ignorePatterns, (n) => names.has(n));
    return { abs, real, rel, rules, entries, next: 0 };
  }

  /** Reads one file (fileReader.ts), or counts why not and returns null. Never throws for a filesystem error. */
  private read(root: string, c: Candidate): Promise<WalkedFile | null> {
    return readWalkedFile(root, c, this.maxFileSize, (reason, e) => this.skip(reason, e));
  }

  /**
   * Counts a skip. Only filesystem errors (those with a code) are skips; running out of file descriptors
   * says nothing about the file and dropping it would silently shrink the index, so that one propagates.
   */
  private skip(reason: SkipReason, e?: unknown): null {
    if (e !== undefined) {
      const code = fsCode(e);
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- the caught error, passed on as it is (`!== undefined` narrowed it to {})
      if (code === undefined || code === 'EMFILE' || code === 'ENFILE') throw e;
    }
    this.stats.skipped[reason]++;
    return null;
  }
}

/** Relative paths of every file the walker would yield, with the stats. Reads every file (binary sniffing). */
export async function listIndexableFiles(root: string, opts?: WalkOptions): Promise<{ files: string[]; stats: WalkStats }> {
  const walker = new Walker(opts);
  const files: string[] = [];
  for await (const f of walker.walk(root)) files.push(f.relPath);
  return { files, stats: walker.stats };
}
