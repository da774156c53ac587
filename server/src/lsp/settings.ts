/**
 * The `semcode` settings: from initializationOptions, then workspace/configuration and
 * workspace/didChangeConfiguration. Values of the wrong type are dropped with a warning, never guessed at.
 */
import type { SemcodeSettings } from '../protocol/lspExt';

export interface NormalizedSettings {
  settings: SemcodeSettings;
  /** one line per value that was ignored */
  warnings: string[];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
}

export function normalizeSettings(raw: unknown): NormalizedSettings {
  const warnings: string[] = [];
  const out: SemcodeSettings = {};
  if (raw === null || raw === undefined) return { settings: out, warnings };
  if (typeof raw !== 'object' || Array.isArray(raw)) return { settings: out, warnings: ['semcode settings must be an object; ignored'] };
  const r = raw as Record<string, unknown>;
  out.model = str(r.model);
  out.databaseUrl = str(r.databaseUrl);
  out.databaseDir = str(r.databaseDir);
  if (r.databasePoolSize !== undefined && r.databasePoolSize !== null && r.databasePoolSize !== 0) {
    if (typeof r.databasePoolSize === 'number' && Number.isInteger(r.databasePoolSize) && r.databasePoolSize > 0 && r.databasePoolSize <= 100)
      out.databasePoolSize = r.databasePoolSize;
    else warnings.push(`semcode.databasePoolSize must be a whole number from 1 to 100, got ${JSON.stringify(r.databasePoolSize)}; using 4`);
  }
  if (r.ignore !== undefined && r.ignore !== null) {
    if (Array.isArray(r.ignore) && r.ignore.every((p) => typeof p === 'string')) out.ignore = r.ignore.filter((p) => p.trim());
    else warnings.push('semcode.ignore must be a list of patterns; ignored');
  }
  if (r.maxFileSize !== undefined && r.maxFileSize !== null && r.maxFileSize !== 0) {
    if (typeof r.maxFileSize === 'number' && Number.isFinite(r.maxFileSize) && r.maxFileSize > 0) out.maxFileSize = Math.trunc(r.maxFileSize);
    else warnings.push(`semcode.maxFileSize must be a positive number of bytes, got ${JSON.stringify(r.maxFileSize)}; using the default`);
  }
  if (r.followExternalLinks !== undefined && r.followExternalLinks !== null) {
    if (typeof r.followExternalLinks === 'boolean') out.followExternalLinks = r.followExternalLinks;
    else warnings.push(`semcode.followExternalLinks must be true or false, got ${JSON.stringify(r.followExternalLinks)}; using false`);
  }
  if (r.codebases !== undefined && r.codebases !== null) {
    if (typeof r.codebases === 'object' && !Array.isArray(r.codebases)) {
      const named = Object.entries(r.codebases as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string' && !!e[1].trim());
      if (named.length) out.codebases = Object.fromEntries(named.map(([k, n]) => [k, n.trim()]));
    } else warnings.push('semcode.codebase must be a name per folder; ignored');
  }
  const backend = str(r.backend);
  if (backend === 'cpu' || backend === 'wasm') out.backend = backend;
  else if (backend && backend !== 'auto') warnings.push(`semcode.backend must be cpu or wasm, got ${JSON.stringify(backend)}; using the default`);
  for (const k of Object.keys(out) as (keyof SemcodeSettings)[]) if (out[k] === undefined) delete out[k];
  return { settings: out, warnings };
}

export interface SettingsChange {
  /** the embedding model setting: never applied without a rebuild */
  model: boolean;
  /** where the index lives */
  database: boolean;
  backend: boolean;
  /** ignore patterns or size limit: which files are indexed */
  walk: boolean;
  /** a folder's codebase name (semcode.codebase) */
  codebases: boolean;
}

export function diffSettings(a: SemcodeSettings, b: SemcodeSettings): SettingsChange {
  return {
    model: (a.model ?? '') !== (b.model ?? ''),
    database:
      (a.databaseUrl ?? '') !== (b.databaseUrl ?? '') ||
      (a.databaseDir ?? '') !== (b.databaseDir ?? '') ||
      (a.databasePoolSize ?? 0) !== (b.databasePoolSize ?? 0),
    backend: (a.backend ?? '') !== (b.backend ?? ''),
    walk:
      JSON.stringify(a.ignore ?? []) !== JSON.stringify(b.ignore ?? []) ||
      (a.maxFileSize ?? 0) !== (b.maxFileSize ?? 0) ||
      !!a.followExternalLinks !== !!b.followExternalLinks,
    codebases: JSON.stringify(sorted(a.codebases)) !== JSON.stringify(sorted(b.codebases)),
  };
}

function sorted(names: Record<string, string> | undefined): [string, string][] {
  return Object.entries(names ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
