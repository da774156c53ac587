/**
 * The evaluation hold-out: projects whose code must never reach a training corpus, in any packaging (npm
 * package, Debian package, vendored copy), because search quality is measured on them.
 *
 * The list is `corpus/eval-holdout.txt` (a committed copy of the shared list, so the repo works alone). One
 * project a line, '#' starts a comment line, columns split by whitespace:
 *
 *   owner/repo   npm-name|-   debian-source|-   (binary: debian-binary[, debian-binary ...])
 *
 * Matching is exact on names and on whole path segments, never on substrings: "gin" must catch
 * `vendor/github.com/gin-gonic/gin/` but not `src/engine.go` or `begin/`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface HoldoutProject {
  /** `owner/repo` as on its forge, e.g. `gin-gonic/gin`. */
  project: string;
  /** npm package name, if the project publishes one. */
  npm: string | null;
  /** Debian source package name, if Debian packages it. */
  debSource: string | null;
  /** Debian binary package names built from it (from the `(binary: ...)` note). */
  debBinaries: string[];
}

export type PackageKind = 'npm' | 'deb';

/** Parses the hold-out list's text. Throws on a line that does not have the three columns. */
export function parseHoldout(text: string): HoldoutProject[] {
  const out: HoldoutProject[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    // The binary note is free text in parentheses; take it out before splitting columns.
    const note = /\(\s*binar(?:y|ies)\s*:\s*([^)]*)\)/i.exec(line);
    const cols = (note ? line.slice(0, note.index) : line).trim().split(/\s+/);
    if (cols.length < 3 || !/^[^/\s]+\/[^/\s]+$/.test(cols[0]!)) {
      throw new Error(`eval-holdout line ${i + 1}: expected 'owner/repo npm|- debian-source|-', got '${line}'`);
    }
    // cols[0..2] exist (checked above); note[1] is a capture group that always takes part in a match.
    const dash = (s: string): string | null => (s === '-' ? null : s);
    out.push({
      project: cols[0]!,
      npm: dash(cols[1]!),
      debSource: dash(cols[2]!),
      debBinaries: note ? note[1]!.split(/[\s,]+/).filter(Boolean) : [],
    });
  });
  return out;
}

/**
 * The committed list: `corpus/eval-holdout.txt`, found by walking up from this file (so it works from
 * server/src under tsx and from any bundle placed inside the repo).
 */
export function holdoutFile(): string {
  for (let d = __dirname; ; d = dirname(d)) {
    const f = join(d, 'corpus', 'eval-holdout.txt');
    if (existsSync(f)) return f;
    if (dirname(d) === d) throw new Error(`corpus/eval-holdout.txt not found above ${__dirname}`);
  }
}

const cache = new Map<string, HoldoutProject[]>();

/** Parsed projects of `file` (default: the committed list), read once per process. */
export function loadHoldout(file: string = holdoutFile()): HoldoutProject[] {
  let p = cache.get(file);
  if (!p) cache.set(file, (p = parseHoldout(readFileSync(file, 'utf8'))));
  return p;
}

/** Every held-out name by registry: npm packages, Debian packages (source and binary), `owner/repo` projects. */
export function heldOutNames(file?: string): { npm: string[]; deb: string[]; projects: string[] } {
  const ps = loadHoldout(file);
  return {
    npm: ps.flatMap((p) => (p.npm ? [p.npm] : [])),
    deb: ps.flatMap((p) => [...(p.debSource ? [p.debSource] : []), ...p.debBinaries]),
    projects: ps.map((p) => p.project),
  };
}

/** Is this exact package name held out? npm names compare exactly (they are lowercase); Debian names too. */
export function isHeldOutPackage(kind: PackageKind, name: string, file?: string): boolean {
  const n = heldOutNames(file);
  return (kind === 'npm' ? n.npm : n.deb).includes(name);
}

/**
 * The directory names that mark a copy of a held-out project inside another tree, each a list of
 * consecutive path segments (lowercase):
 * - the repo name (`werkzeug`, `date-fns`, `gin`): a Python package dir, `node_modules/date-fns`, a Go
 *   import path `github.com/gin-gonic/gin`, a checkout named after the project;
 * - the npm name (scoped names are two segments: `@scope/name`);
 * - the Debian source and binary names (`usr/share/doc/python3-werkzeug`, a copied packaging dir).
 */
function markers(file?: string): string[][] {
  const out = new Map<string, string[]>();
  for (const p of loadHoldout(file)) {
    const names = [p.project.split('/')[1], p.npm, p.debSource, ...p.debBinaries];
    for (const n of names) if (n) out.set(n.toLowerCase(), n.toLowerCase().split('/'));
  }
  return [...out.values()];
}

/**
 * Is `relPath` inside a vendored copy of a held-out project? Looks only at directory segments (every
 * segment but the last, or all of them when the path ends in '/'), each compared whole and
 * case-insensitively, after dropping a Go module-cache version suffix (`gin@v1.9.1` → `gin`). So
 * `node_modules/date-fns/index.js`, `x/werkzeug/routing.py` and `vendor/github.com/gin-gonic/gin/gin.go`
 * match; `src/engine.go`, `begin/x.ts`, `gin.go` and `werkzeug_compat.py` do not.
 *
 * Trade-off, on purpose: any directory named exactly like a held-out project is treated as a copy
 * (e.g. a folder called `gin`). Dropping a few unrelated files costs nothing; leaking eval code does.
 * Callers log what they drop so such cases stay visible.
 */
export function isVendoredHoldout(relPath: string, file?: string): boolean {
  const segs = relPath.replace(/\\/g, '/').split('/');
  segs.pop(); // the file name, or '' after a trailing '/'
  const dirs = segs
    .filter((s) => s !== '' && s !== '.')
    .map((s) => {
      const l = s.toLowerCase();
      const at = l.indexOf('@', 1); // '@' at 0 is an npm scope, later it is a Go module version
      return at > 0 ? l.slice(0, at) : l;
    });
  for (const m of markers(file)) {
    for (let i = 0; i + m.length <= dirs.length; i++) {
      if (m.every((s, j) => dirs[i + j] === s)) return true;
    }
  }
  return false;
}

/**
 * The held-out project a repository/homepage URL points at, if any (`https://github.com/pallets/werkzeug`,
 * `git+https://github.com/date-fns/date-fns.git`): catches a republished copy under another name that
 * still names its origin. Compares the `owner/repo` path segments exactly.
 */
export function heldOutProjectInUrl(url: string, file?: string): string | null {
  const segs = url
    .toLowerCase()
    .replace(/\.git\b/g, '')
    .split(/[/:#?]+/)
    .filter(Boolean);
  for (const p of loadHoldout(file)) {
    const [owner, repo] = p.project.toLowerCase().split('/');
    for (let i = 0; i + 1 < segs.length; i++) if (segs[i] === owner && segs[i + 1] === repo) return p.project;
  }
  return null;
}

/**
 * Matches text that names a held-out project: its `owner/repo`, or any of its npm/Debian/repo names of
 * five or more characters as a whole word (`werkzeug`, `date-fns`; not `gin`, which is an ordinary word).
 * For flagging files that may hold copied code ("# From mitsuhiko/werkzeug" above a function), not for
 * deleting: a mention is usually just a mention.
 */
export function holdoutMentionPattern(file?: string): RegExp {
  const words = new Set<string>();
  for (const p of loadHoldout(file)) {
    words.add(p.project);
    for (const n of [p.project.split('/')[1], p.npm, p.debSource, ...p.debBinaries]) if (n && n.length >= 5) words.add(n);
  }
  const alt = [...words].map((w) => w.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|');
  return new RegExp(`(?<![\\w.-])(?:${alt})(?![\\w-])`, 'i');
}
