/**
 * Fine-tuned model versions. Each fine-tune `semcode train` accepts is saved as a transformers.js model
 * folder (export.ts) in the user's state directory:
 *
 *   ${XDG_STATE_HOME:-~/.local/state}/semcode/models/<codebase slug>-v<N>/
 *
 * (SEMCODE_STATE_DIR, or the `stateDir` option, replaces `${XDG_STATE_HOME}/semcode`). Never under the
 * package's models/: that folder holds the shipped model and is replaced by every update. A version
 * describes itself in config.json (`semcode.fine_tune`), so any folder can be recognised as one.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, relative, resolve, isAbsolute } from 'node:path';
import { SemcodeError, errorMessage } from '../errors';
import { findPackageRoot } from '../embed/modelResolve';
import { exportModel, type TableDtype } from '../model/export';
import type { StaticModel } from '../model/staticModel';
import type { CodeTokenizer } from '../model/tokenizer';

export interface ModelVersion {
  /** `<slug>-v<N>`: what the index records and status shows */
  name: string;
  /** absolute folder */
  dir: string;
}

/** What a version records about how it was made (config.json `semcode.fine_tune`). */
export interface VersionInfo {
  codebase: string;
  baseModel: string;
  baseModelHash: string;
  seed: number;
  epochs: number;
  pairsTrain: number;
  pairsHeldOut: number;
  mrrBefore: number;
  mrrAfter: number;
  bootstrap: number;
}

/** `${SEMCODE_STATE_DIR}` or `${XDG_STATE_HOME:-~/.local/state}/semcode`. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SEMCODE_STATE_DIR) return resolve(env.SEMCODE_STATE_DIR);
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'semcode');
}

function inside(dir: string, parent: string): boolean {
  const rel = relative(parent, dir);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Where versions live; refuses the package's models/ folder (the shipped model's home). */
export function versionsDir(state: string = stateDir(), packageRoot: string | null = findPackageRoot()): string {
  const dir = join(resolve(state), 'models');
  if (packageRoot && inside(dir, join(packageRoot, 'models'))) {
    throw new SemcodeError(
      'usage',
      `fine-tuned models are never saved under ${join(packageRoot, 'models')} (the shipped model's folder); choose another state directory than ${state}`,
    );
  }
  return dir;
}

/** A readable, collision-free folder prefix for a codebase: its base name and a hash of its root. */
export function codebaseSlug(root: string): string {
  const name =
    basename(root)
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[-.]+|-+$/g, '')
      .slice(0, 40) || 'root';
  return `${name}-${createHash('sha256').update(root).digest('hex').slice(0, 8)}`;
}

/** The next unused version of a codebase in `dir` (v1, v2, ...; never reuses a number still on disk). */
export function nextVersion(root: string, dir: string): ModelVersion {
  const slug = codebaseSlug(root);
  const re = new RegExp(`^${slug.replace(/[.]/g, '\\.')}-v(\\d+)(?:\\.partial-.*)?$`);
  let max = 0;
  if (existsSync(dir)) for (const n of readdirSync(dir)) max = Math.max(max, Number(re.exec(n)?.[1] ?? 0));
  const name = `${slug}-v${max + 1}`;
  return { name, dir: join(dir, name) };
}

/** The version a model folder is, from its config.json; null for any other model. */
export function versionOfModel(dir: string): ModelVersion | null {
  try {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { semcode?: { fine_tune?: { version?: unknown } } };
    const name = config.semcode?.fine_tune?.version;
    return typeof name === 'string' ? { name, dir } : null;
  } catch {
    return null;
  }
}

/**
 * Exports a fine-tuned model as the codebase's next version. Written beside its final name and renamed into
 * place, so a crash never leaves a half-written folder that looks like a version.
 */
export async function saveVersion(
  model: StaticModel,
  tokenizer: CodeTokenizer,
  dtype: TableDtype,
  info: VersionInfo,
  opts: { stateDir?: string } = {},
): Promise<ModelVersion> {
  const dir = versionsDir(opts.stateDir ?? stateDir());
  const version = nextVersion(info.codebase, dir);
  const partial = `${version.dir}.partial-${process.pid}`;
  const f4 = (x: number) => Number(x.toFixed(4));
  const meta = {
    fine_tune: {
      version: version.name,
      codebase: info.codebase,
      base_model: info.baseModel,
      base_model_hash: info.baseModelHash,
      seed: info.seed,
      epochs: info.epochs,
      pairs_train: info.pairsTrain,
      pairs_held_out: info.pairsHeldOut,
      mrr10_before: f4(info.mrrBefore),
      mrr10_after: f4(info.mrrAfter),
      bootstrap: f4(info.bootstrap),
    },
  };
  const card = `# ${version.name}

Semcode's static embedding model (${info.baseModel}) fine-tuned by \`semcode train\` on documentation → code
pairs of ${info.codebase}: ${info.pairsTrain} training pairs, ${info.pairsHeldOut} held out by file.
Held-out MRR@10 ${info.mrrBefore.toFixed(4)} → ${info.mrrAfter.toFixed(4)} (ranking against every chunk of
the codebase); paired bootstrap: better in ${(info.bootstrap * 100).toFixed(1)} % of resamples. Seed ${info.seed}, ${info.epochs} epochs.
`;
  try {
    await rm(partial, { recursive: true, force: true });
    await exportModel(model, tokenizer, partial, { dtype, meta, card });
    await rename(partial, version.dir);
  } catch (e) {
    await rm(partial, { recursive: true, force: true }).catch(() => {});
    throw new SemcodeError('io_error', `cannot save the fine-tuned model at ${version.dir}: ${errorMessage(e)}`, { cause: e });
  }
  return version;
}
