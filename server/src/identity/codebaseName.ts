/**
 * A codebase's name: the same on every machine, so two clones at different paths share one index. By
 * default it comes from the repository (its `origin` remote, normalized), else from the folder's name; a
 * user can set it (--codebase, the semcode.codebase setting). Reads files only: no git process.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { SemcodeError } from '../errors';

export const MAX_NAME_LENGTH = 200;

/** The name for a root (a real path) when the user gave none. */
export function defaultCodebaseName(realRoot: string): string {
  return derivedCodebaseName(realRoot).name;
}

/** The default name, and whether it names a repository (the same on every clone) or only a folder. */
export function derivedCodebaseName(realRoot: string): { name: string; fromRepository: boolean } {
  const repo = findRepository(realRoot);
  const origin = repo && originUrl(repo.gitDir);
  const base = origin ? normalizeRemote(origin) : null;
  if (!repo || !base) return { name: folderName(realRoot, 1), fromRepository: false };
  const sub = relative(repo.top, realRoot).split(sep).join('/');
  return { name: sub ? `${base}/${sub}` : base, fromRepository: true };
}

/**
 * A folder named by its last `segments` path segments (`pg/lib` for /x/node_modules/pg/lib and 2): a
 * folder outside any repository has no identity beyond its path, so two `lib` folders are told apart by
 * their parents rather than refused.
 */
export function folderName(realRoot: string, segments: number): string {
  const parts = realRoot.split(/[\\/]+/).filter(Boolean);
  return parts.slice(-Math.max(1, segments)).join('/') || realRoot;
}

/** A name the user typed, trimmed; an empty or unprintable one is a usage error. */
export function checkCodebaseName(name: string): string {
  const n = name.trim();
  if (!n) throw new SemcodeError('usage', 'a codebase name may not be empty');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(n)) throw new SemcodeError('usage', 'a codebase name may not contain control characters');
  if (n.length > MAX_NAME_LENGTH) throw new SemcodeError('usage', `a codebase name has at most ${MAX_NAME_LENGTH} characters`);
  return n;
}

/**
 * `git@github.com:Org/Repo.git`, `https://user:token@github.com/Org/Repo/` and `ssh://git@github.com:22/Org/Repo`
 * all name `github.com/Org/Repo`: no user, password, port, scheme or `.git`; the host in lower case (paths
 * are case-sensitive on most hosts). A local path remote names only its last folder, as paths differ by machine.
 */
export function normalizeRemote(url: string): string | null {
  const u = url.trim();
  if (!u) return null;
  let host: string;
  let path: string;
  const scp = /^(?:[^@/]+@)?([^:/]+):(?!\/\/)(.+)$/.exec(u);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) {
    try {
      const parsed = new URL(u);
      if (parsed.protocol === 'file:') return localRemoteName(decodeURIComponent(parsed.pathname));
      host = parsed.hostname;
      path = decodeURIComponent(parsed.pathname);
    } catch {
      return null;
    }
  } else if (scp && !isAbsolute(u) && !/^[a-z]:[\\/]/i.test(u)) {
    host = scp[1]!;
    path = scp[2]!;
  } else {
    return localRemoteName(u);
  }
  path = path
    .replace(/\/+$/, '')
    .replace(/\.git$/, '')
    .replace(/^\/+/, '');
  if (!host || !path) return null;
  return `${host.toLowerCase()}/${path}`;
}

function localRemoteName(path: string): string | null {
  const name = basename(path.replace(/[\\/]+$/, '')).replace(/\.git$/, '');
  return name || null;
}

/** The repository around a folder: its top (the folder holding `.git`) and its git directory. */
function findRepository(start: string): { top: string; gitDir: string } | null {
  for (let dir = start; ; dir = dirname(dir)) {
    const dotGit = join(dir, '.git');
    if (existsSync(dotGit)) {
      const gitDir = gitDirOf(dotGit);
      return gitDir ? { top: dir, gitDir } : null;
    }
    if (dirname(dir) === dir) return null;
  }
}

/** `.git` is a directory, or (worktrees, submodules) a file saying `gitdir: <path>`. */
function gitDirOf(dotGit: string): string | null {
  try {
    if (statSync(dotGit).isDirectory()) return dotGit;
    const m = /^gitdir:\s*(.+)$/m.exec(readFileSync(dotGit, 'utf8'));
    return m ? resolve(dirname(dotGit), m[1]!.trim()) : null;
  } catch {
    return null;
  }
}

/** The `origin` remote's URL from the repository's config (a worktree's lives in its common directory). */
function originUrl(gitDir: string): string | null {
  let configDir = gitDir;
  try {
    const common = join(gitDir, 'commondir');
    if (existsSync(common)) configDir = resolve(gitDir, readFileSync(common, 'utf8').trim());
    return remoteUrl(readFileSync(join(configDir, 'config'), 'utf8'), 'origin');
  } catch {
    return null;
  }
}

/** A remote's `url` from git-config text: the first one in its `[remote "NAME"]` section. */
export function remoteUrl(config: string, remote: string): string | null {
  let inSection = false;
  for (const raw of config.split(/\r?\n/)) {
    const line = raw.trim();
    const section = /^\[\s*([^\]\s]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]/.exec(line);
    if (section) {
      inSection = section[1]!.toLowerCase() === 'remote' && section[2] === remote;
      continue;
    }
    if (!inSection) continue;
    const kv = /^url\s*=\s*(.*)$/i.exec(line);
    if (kv) return kv[1]!.replace(/^"(.*)"$/, '$1').trim() || null;
  }
  return null;
}
