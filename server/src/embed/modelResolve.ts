/**
 * Which embedding model to use, and a fingerprint of its bytes.
 *
 * Model ids, as recorded by the index:
 *   - `path:<absolute real path>` for a folder given by --model, the setting or SEMCODE_MODEL;
 *   - `default` for the model shipped in `models/default/` beside the installed package (its install path
 *     changes with every extension update, so the path is deliberately not part of the id);
 *   - `<org>/<name>` for a Hugging Face hub id.
 * The id is for people; whether an index and a model are compatible is decided by `hashModelFiles`, so a
 * model fine-tuned in place (same id, new bytes) is never mistaken for the old one.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { SemcodeError } from '../errors';

export type ModelSource = 'flag' | 'index' | 'setting' | 'env' | 'default' | 'hub';

export interface ResolvedModel {
  /** What the index records: `path:<abs>`, `default` or a hub id (see the file comment). */
  id: string;
  /** The model folder: for hub models, where transformers.js caches the download. */
  dir: string;
  source: ModelSource;
}

export interface ResolveOptions {
  /** The package root to look for `models/default/` in; found from this file's location when omitted. */
  packageRoot?: string | null;
  /** Environment to read SEMCODE_MODEL from (tests). */
  env?: NodeJS.ProcessEnv;
  /** where `explicit` came from (default: the --model flag) */
  explicitSource?: 'flag' | 'index';
}

const SOURCE_LABEL: Record<ModelSource, string> = {
  flag: '--model',
  index: 'the model the index was built with',
  setting: 'the semcode model setting',
  env: 'SEMCODE_MODEL',
  default: 'the default model',
  hub: 'the hub',
};

/** Where hub downloads are cached: beside the database, not inside node_modules (wiped on reinstall). */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'semcode', 'hub');
}

let cachedRoot: string | null | undefined;

/**
 * The installed package's root: the nearest ancestor of this code's own file whose package.json is named
 * `semcode`. Works from source (server/src/embed) and from the bundle (dist/); never looks at the cwd.
 */
export function findPackageRoot(from: string = __dirname): string | null {
  if (from === __dirname && cachedRoot !== undefined) return cachedRoot;
  let dir = resolve(from);
  let found: string | null = null;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'semcode') {
          found = dir;
          break;
        }
      } catch {
        // An unreadable package.json on the way up is not ours; keep walking.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  if (from === __dirname) cachedRoot = found;
  return found;
}

/** `org/name`, as the hub spells repository ids. A single path segment is never treated as a hub id. */
export function looksLikeHubId(spec: string): boolean {
  return /^[A-Za-z0-9][\w.-]{0,95}\/[A-Za-z0-9][\w.-]{0,95}$/.test(spec) && !spec.includes('..') && !spec.includes('--');
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p;
}

function fromSpec(spec: string, source: ModelSource): ResolvedModel {
  const abs = resolve(expandHome(spec));
  if (existsSync(abs)) {
    if (!statSync(abs).isDirectory()) {
      throw new SemcodeError(
        'model_not_found',
        `model path is not a folder: ${abs} (from ${SOURCE_LABEL[source]}); pass the folder holding config.json and onnx/`,
      );
    }
    const real = realpathSync(abs);
    return { id: `path:${real}`, dir: real, source };
  }
  if (looksLikeHubId(spec)) {
    return { id: spec, dir: join(hubCacheDir(), spec), source: 'hub' };
  }
  throw new SemcodeError('model_not_found', `model not found: ${abs} (from ${SOURCE_LABEL[source]})`);
}

/**
 * Picks the model: `explicit` (--model), then `setting`, then SEMCODE_MODEL, then `models/default/` of the
 * installed package. Relative paths given by the user resolve against the cwd as any CLI path does; the
 * default model never does.
 */
export function resolveModel(explicit?: string, setting?: string, opts: ResolveOptions = {}): ResolvedModel {
  const env = opts.env ?? process.env;
  const candidates: [string | undefined, ModelSource][] = [
    [explicit, opts.explicitSource ?? 'flag'],
    [setting, 'setting'],
    [env.SEMCODE_MODEL, 'env'],
  ];
  for (const [spec, source] of candidates) {
    if (spec !== undefined && spec.trim() !== '') return fromSpec(spec.trim(), source);
  }
  const root = opts.packageRoot === undefined ? findPackageRoot() : opts.packageRoot;
  const dir = root ? join(root, 'models', 'default') : null;
  if (dir && existsSync(dir) && statSync(dir).isDirectory()) {
    return { id: 'default', dir: realpathSync(dir), source: 'default' };
  }
  throw new SemcodeError(
    'no_default_model',
    'no default model is installed yet: pass --model DIR (or set SEMCODE_MODEL, or the semcode model setting) ' +
      `to a transformers.js model folder (config.json, tokenizer.json, onnx/model.onnx)${dir ? `; looked in ${dir}` : ''}`,
  );
}

/** Throws model_not_found naming the first missing file a local model folder needs. */
export function checkModelFiles(dir: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new SemcodeError('model_not_found', `model folder not found: ${dir}`);
  }
  for (const f of ['config.json', 'tokenizer.json']) {
    if (!existsSync(join(dir, f))) throw new SemcodeError('model_not_found', `model file missing: ${join(dir, f)}`);
  }
  const onnxDir = join(dir, 'onnx');
  if (!existsSync(onnxDir) || !readdirSync(onnxDir).some((n) => n.endsWith('.onnx'))) {
    throw new SemcodeError('model_not_found', `model file missing: no ${join(onnxDir, 'model.onnx')} (nor another onnx/*.onnx)`);
  }
}

/** The files that define a model's behaviour, relative to its folder, sorted. */
export function modelFiles(dir: string): string[] {
  const files = ['config.json', 'tokenizer.json', 'tokenizer_config.json'].filter((f) => existsSync(join(dir, f)));
  const onnxDir = join(dir, 'onnx');
  if (existsSync(onnxDir)) {
    // External-data weights (model.onnx_data, model.onnx.data) change the model as much as the graph does.
    for (const n of readdirSync(onnxDir)) if (/\.onnx($|_data$|\.data$)/.test(n)) files.push(`onnx/${n}`);
  }
  return files.sort();
}

/**
 * sha256 over the names, sizes and bytes of the model's files: the model part of the embedding cache key.
 * Any changed byte (a fine-tune, a re-export, a different tokenizer) gives a different hash.
 */
export async function hashModelFiles(dir: string): Promise<string> {
  const files = modelFiles(dir);
  if (!files.length) throw new SemcodeError('model_not_found', `no model files to hash in ${dir}`);
  const h = createHash('sha256');
  for (const f of files) {
    const p = join(dir, f);
    h.update(`${f}\0${statSync(p).size}\0`);
    for await (const chunk of createReadStream(p)) h.update(chunk as Buffer);
  }
  return h.digest('hex');
}

/**
 * What to open for a recorded model id: 'default' is the model shipped with this installation (never
 * SEMCODE_MODEL or a setting), 'path:/abs/dir' a local folder, anything else a hub id.
 */
export function recordedModelRef(modelId: string): string {
  if (modelId === 'default') return resolveModel(undefined, undefined, { env: {} }).dir;
  return modelId.startsWith('path:') ? modelId.slice('path:'.length) : modelId;
}

/** A resolved model's identity as an index records it: the hash of its files (a hub id when it has none here). */
export interface ModelIdentity {
  id: string;
  hash: string | null;
}

export async function identityOf(model: ResolvedModel): Promise<ModelIdentity> {
  return { id: model.id, hash: model.source === 'hub' ? null : await hashModelFiles(model.dir) };
}

/**
 * Whether a model is the one an index was built with: the same files (a copy at another path is the same
 * model; a changed file is not), or for a hub model not on disk the same id. The one rule the CLI's --model
 * check and the language server's model-setting check share.
 */
export function isSameModel(model: ModelIdentity, recorded: { modelId: string | null; modelHash: string | null }): boolean {
  return model.hash ? model.hash === recorded.modelHash : model.id === recorded.modelId;
}
