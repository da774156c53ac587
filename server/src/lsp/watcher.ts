/**
 * File events (workspace/didChangeWatchedFiles, saves) become index work: batched until they stop coming,
 * routed to the workspace folders that contain them, filtered through the walker's ignore rules. An edited
 * .gitignore / .semcodeignore can change what any file below it is: its directory is walked again (the
 * whole folder for one at the top). Nothing here reads file contents: paths go to the walker
 * (IndexOptions.paths), which skips a path through a symlink leading out of the folder as outside_root, and
 * the ignore rules used to filter events read no ignore file through such a link either.
 */
import { posix } from 'node:path';
import { IgnoreRules } from '../index/walker';
import { locateAll, relativeTo } from './paths';

/** Hands over paths in one batch once events stop for `delayMs`, and at most `maxDelayMs` after the first. */
export class ChangeBatcher {
  private pending = new Set<string>();
  private quiet: NodeJS.Timeout | null = null;
  private deadline: NodeJS.Timeout | null = null;

  constructor(
    private readonly flush: (paths: string[]) => void,
    private readonly delayMs = 250,
    private readonly maxDelayMs = 2000,
  ) {}

  add(paths: Iterable<string>): void {
    for (const p of paths) this.pending.add(p);
    if (!this.pending.size) return;
    if (this.quiet) clearTimeout(this.quiet);
    this.quiet = setTimeout(() => this.fire(), this.delayMs);
    this.deadline ??= setTimeout(() => this.fire(), this.maxDelayMs);
  }

  fire(): void {
    if (this.quiet) clearTimeout(this.quiet);
    if (this.deadline) clearTimeout(this.deadline);
    this.quiet = this.deadline = null;
    if (!this.pending.size) return;
    const paths = [...this.pending];
    this.pending = new Set();
    this.flush(paths);
  }

  dispose(): void {
    if (this.quiet) clearTimeout(this.quiet);
    if (this.deadline) clearTimeout(this.deadline);
    this.quiet = this.deadline = null;
    this.pending.clear();
  }
}

export interface RoutedChanges {
  /** folders to walk whole (an ignore file changed, or the folder itself was reported) */
  full: Set<string>;
  /** folder -> paths relative to it (posix) to re-check */
  paths: Map<string, string[]>;
}

const IGNORE_FILES = new Set(['.gitignore', '.semcodeignore']);

export class ChangeRouter {
  private rules = new Map<string, IgnoreRules>();

  constructor(
    private readonly opts: {
      roots(): readonly string[];
      ignorePatterns(): string[];
      /** WalkOptions.followExternalLinks, so the filter reads the ignore files the walker will (default false) */
      followExternalLinks?(): boolean;
      /** directories whose changes are never indexing work (the index's own database directory) */
      excluded(): string[];
    },
  ) {}

  /** Forgets cached ignore rules (settings or ignore files changed). */
  reset(): void {
    this.rules.clear();
  }

  async route(fsPaths: readonly string[]): Promise<RoutedChanges> {
    const out: RoutedChanges = { full: new Set(), paths: new Map() };
    const excluded = this.opts.excluded();
    for (const fsPath of fsPaths) {
      if (excluded.some((dir) => relativeTo(dir, fsPath) !== null)) continue;
      for (const { root, rel } of locateAll(this.opts.roots(), fsPath)) {
        const ignoreFile = IGNORE_FILES.has(posix.basename(rel));
        if (ignoreFile) this.rules.delete(root);
        const dir = posix.dirname(rel);
        if (rel === '' || rel === '.git/info/exclude' || (ignoreFile && dir === '.')) {
          out.full.add(root);
          continue;
        }
        if (!ignoreFile && (await this.rulesFor(root).ignores(rel))) continue;
        const list = out.paths.get(root) ?? [];
        list.push(ignoreFile ? dir : rel);
        out.paths.set(root, list);
      }
    }
    for (const root of out.full) out.paths.delete(root);
    return out;
  }

  private rulesFor(root: string): IgnoreRules {
    let r = this.rules.get(root);
    if (!r) {
      r = new IgnoreRules(root, {
        ignorePatterns: this.opts.ignorePatterns(),
        followExternalLinks: this.opts.followExternalLinks?.() ?? false,
      });
      this.rules.set(root, r);
    }
    return r;
  }
}
