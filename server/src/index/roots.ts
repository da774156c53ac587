import { realpath } from 'node:fs/promises';
import { sep } from 'node:path';

export interface DistinctRoots {
  /** the roots to use, as given, in order of first appearance */
  roots: string[];
  /** one line per root left out, saying why (for stderr or a log) */
  dropped: string[];
}

/**
 * Each root once, by real path, and no root inside another: `--root D --root D/` (or a link to D, or D/src
 * beside D) doubled every hit and count, because the inner root's files already belong to the outer one.
 * A root that cannot be resolved is kept as given, so the caller's own error about it still comes.
 */
export async function distinctRoots(roots: string[]): Promise<DistinctRoots> {
  const reals = await Promise.all(roots.map((r) => realpath(r).catch(() => null)));
  const kept: string[] = [];
  const dropped: string[] = [];
  const byReal = new Map<string, string>();
  roots.forEach((root, i) => {
    const real = reals[i];
    if (real === null || real === undefined) {
      kept.push(root);
      return;
    }
    const same = byReal.get(real);
    if (same !== undefined) {
      dropped.push(`${root} is the same folder as ${same}: used once`);
      return;
    }
    const outer = reals.findIndex((o, j) => j !== i && o !== null && o !== undefined && o !== real && within(real, o));
    if (outer >= 0) {
      dropped.push(`${root} is inside ${roots[outer]}: its files are searched as part of it`);
      return;
    }
    kept.push(root);
    byReal.set(real, root);
  });
  return { roots: kept, dropped };
}

function within(inner: string, outer: string): boolean {
  return inner.startsWith(outer.endsWith(sep) ? outer : outer + sep);
}
