/** Where a file URI or path sits among the workspace folders, and the URIs the server hands back. */
import { isAbsolute, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The local path of a file: URI, or null for any other scheme. */
export function uriToPath(uri: string): string | null {
  if (!uri.startsWith('file:')) return null;
  try {
    return fileURLToPath(uri);
  } catch {
    return null;
  }
}

/** `rel` (posix, relative to root) as a file URI. */
export function fileUri(root: string, rel: string): string {
  return pathToFileURL(join(root, ...rel.split('/'))).toString();
}

/** The posix path of `fsPath` relative to `root`, or null when it is not inside it ('' for the root itself). */
export function relativeTo(root: string, fsPath: string): string | null {
  const rel = relative(root, fsPath);
  if (rel === '') return '';
  if (rel.startsWith('..') || isAbsolute(rel)) return null;
  return sep === '/' ? rel : rel.split(sep).join('/');
}

/** Every workspace folder containing `fsPath`, deepest first (folders may nest). */
export function locateAll(roots: readonly string[], fsPath: string): { root: string; rel: string }[] {
  const out: { root: string; rel: string }[] = [];
  for (const root of roots) {
    const rel = relativeTo(root, fsPath);
    if (rel !== null) out.push({ root, rel });
  }
  return out.sort((a, b) => b.root.length - a.root.length);
}

/** The deepest workspace folder containing `fsPath`. */
export function locate(roots: readonly string[], fsPath: string): { root: string; rel: string } | null {
  return locateAll(roots, fsPath)[0] ?? null;
}
