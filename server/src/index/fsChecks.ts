/**
 * Filesystem checks the walk (walker.ts) and the ignore rules (ignoreRules.ts) both make: the code of an fs
 * error, whether a real path is the root or below it, and whether an entry is a symlink leading out of the
 * root. One copy, so that the walk and a single-path ignore decision (the file watcher's) cannot disagree.
 */
import { promises as fsp } from 'node:fs';
import { isAbsolute, relative, sep } from 'node:path';

export function fsCode(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Is `real` (a real path) `realRoot` or below it? */
export function within(realRoot: string, real: string): boolean {
  const rel = relative(realRoot, real);
  return rel === '' || !(rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel));
}

/**
 * For an entry whose parent directory's real path is inside the root: is it a symlink whose real path is
 * not? False when it cannot be resolved (the caller's own stat or read reports that as it always has).
 * Running out of file descriptors is not an answer about the entry, so it propagates.
 */
export async function linksOut(realRoot: string, abs: string): Promise<boolean> {
  try {
    if (!(await fsp.lstat(abs)).isSymbolicLink()) return false;
    return !within(realRoot, await fsp.realpath(abs));
  } catch (e) {
    const code = fsCode(e);
    if (code === undefined || code === 'EMFILE' || code === 'ENFILE') throw e;
    return false;
  }
}
