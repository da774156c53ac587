import { accessSync, constants, statSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { SemcodeError } from '../errors';

// One-line reasons for file-system failures around the index directory (lock file, PGlite's data).

/** `no space left on DIR (N MB free)`: the free space as an unprivileged process sees it. */
export function diskFullError(dir: string, code: 'ENOSPC' | 'EDQUOT' = 'ENOSPC'): SemcodeError {
  if (code === 'EDQUOT') return new SemcodeError('disk_full', `no space left on ${dir} (disk quota exceeded)`);
  const mb = freeMb(dir);
  return new SemcodeError('disk_full', `no space left on ${dir}${mb === null ? '' : ` (${mb} MB free)`}`);
}

function freeMb(dir: string): number | null {
  for (let d = dir; ; d = dirname(d)) {
    try {
      const s = statfsSync(d);
      return Math.floor((s.bavail * s.bsize) / 2 ** 20);
    } catch {
      if (dirname(d) === d) return null; // not even the root answers
    }
  }
}

/** "read-only file system (EROFS)" from node's "EROFS: read-only file system, open '…'". */
export function errnoReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const text = /^[A-Z0-9]+: ([^,]+)/.exec(err?.message ?? '')?.[1];
  if (err?.code && text) return `${text} (${err.code})`;
  return err?.code ?? (e instanceof Error ? e.message : String(e));
}

/**
 * Why DIR cannot be created: node's recursive mkdir reports ENOENT for a parent on a read-only file system,
 * so the nearest existing ancestor is asked instead.
 */
export function mkdirReason(dir: string, e: unknown): string {
  for (let d = dirname(dir); dirname(d) !== d; d = dirname(d)) {
    const st = statSync(d, { throwIfNoEntry: false });
    if (!st) continue;
    if (!st.isDirectory()) return `${d} is not a directory`;
    try {
      accessSync(d, constants.W_OK);
    } catch (denied) {
      return `${errnoReason(denied)} at ${d}`;
    }
    break;
  }
  return errnoReason(e);
}
