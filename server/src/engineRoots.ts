/**
 * A root resolved once per request into one record: the folder as given, its real path, the name of its
 * codebase and the codebase itself. The name is, in order: the one the user set for the folder, the one
 * this machine's folder is already mapped to, or the repository's (identity/codebaseName.ts).
 */
import { existsSync, realpathSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SemcodeError } from './errors';
import { derivedCodebaseName, folderName } from './identity/codebaseName';
import { distinctRoots } from './index/roots';
import { shellWord } from './index/indexer';
import type { Codebases, RootedCodebase } from './store/codebases';

export interface RootRecord {
  /** the folder as the editor or the command line gave it */
  given: string;
  /** its real path (the absolute path when it cannot be resolved) */
  real: string;
  /** the folder exists and could be resolved */
  exists: boolean;
  name: string;
  /** the codebase of that name with `root` set to this folder, null before its first index */
  codebase: RootedCodebase | null;
}

/**
 * Each root once (index/roots.ts), resolved. Two folders that would share a name in one request are an
 * error: their files would overwrite each other's in one codebase.
 */
export async function resolveRoots(codebases: Codebases, roots: string[], namedByUser: ReadonlyMap<string, string>): Promise<RootRecord[]> {
  const out: RootRecord[] = [];
  for (const given of (await distinctRoots(roots)).roots) {
    const real = await realpath(given).catch(() => null);
    const path = real ?? resolve(given);
    const mapped = real ? await codebases.at(real) : null;
    const name = namedByUser.get(path) ?? mapped?.name ?? (await defaultName(codebases, path, out));
    const found = mapped?.name === name ? mapped : await codebases.named(name);
    const twin = out.find((r) => r.name === name);
    if (twin) throw nameTaken(name, twin.real, path);
    out.push({ given, real: path, exists: real !== null, name, codebase: found && { ...found, root: path } });
  }
  return out;
}

/**
 * The repository's name, or for a folder outside any repository its name qualified by as many parent
 * folders as it takes to differ from the other roots of this request and from this machine's other folders
 * (`semcode index --root a/lib --root b/lib` names them `a/lib` and `b/lib`). Two clones of one repository
 * keep one name: that conflict is the user's to resolve (nameTaken).
 */
async function defaultName(codebases: Codebases, path: string, earlier: RootRecord[]): Promise<string> {
  const derived = derivedCodebaseName(path);
  if (derived.fromRepository) return derived.name;
  const depth = path.split(/[\\/]+/).filter(Boolean).length;
  for (let segments = 1; segments <= depth; segments++) {
    const name = folderName(path, segments);
    if (earlier.some((r) => r.name === name)) continue;
    const taken = await codebases.named(name);
    const others = taken ? (await codebases.rootsHere(taken.id)).filter((p) => p !== path && existsSync(p)) : [];
    if (!others.length) return name;
  }
  return path;
}

/**
 * Before a folder is indexed into its codebase: another folder of this machine already mapped to the same
 * codebase is an error while it still exists (two clones of one repository need two names), and is
 * forgotten when it is gone (the folder was moved).
 */
export async function claimRoot(codebases: Codebases, rec: RootRecord): Promise<void> {
  if (!rec.codebase) return;
  for (const other of await codebases.rootsHere(rec.codebase.id)) {
    if (other === rec.real) continue;
    const now = existsSync(other) ? safeRealpath(other) : null;
    if (now !== null && now !== rec.real) throw nameTaken(rec.name, other, rec.real);
    await codebases.unmapRoot(other);
  }
}

function safeRealpath(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
}

function nameTaken(name: string, first: string, second: string): SemcodeError {
  return new SemcodeError(
    'codebase_name_taken',
    `${first} and ${second} would both be codebase ${name}; give one another name: semcode index --root ${shellWord(second)} --codebase NAME (in VS Code, the semcode.codebase setting of that folder)`,
  );
}
