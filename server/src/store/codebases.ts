/**
 * Codebases and their roots. A codebase is known by its name, the same on every machine; each machine maps
 * its own folders to it (`codebase_roots`, keyed by host, role and real path: on a shared machine each
 * developer's clone is their own), and every stored file path is relative to the root. So two clones at different paths share one index, and a moved folder keeps it.
 */
import { SemcodeError } from '../errors';
import type { Queryable } from './db';

export interface Codebase {
  id: number;
  name: string;
  /** this machine's root for the codebase (a real path), null when it has none here */
  root: string | null;
  modelId: string | null;
  modelHash: string | null;
  dimension: number | null;
  hnswDim: number | null;
  nChunks: number;
  avgTokens: number;
  indexedAt: Date | null;
  /** the fine-tuned model version the index uses (semcode train), null for a stock model */
  modelVersion: string | null;
  /** that version's folder in the user's state directory */
  modelVersionDir: string | null;
  /** a full index run started and did not finish (killed, failed or still running): some files may be missing */
  incomplete: boolean;
}

/** A codebase looked up through one of this machine's folders. */
export type RootedCodebase = Codebase & { root: string };

/** How a codebase is named in messages: its root on this machine, else its name. */
export function codebaseLabel(cb: Pick<Codebase, 'name' | 'root'>): string {
  return cb.root ?? `codebase ${cb.name}`;
}

/** `root` is this host's root ($1 is the host) unless the caller knows it. */
function columns(
  root = `(SELECT r.path FROM codebase_roots r WHERE r.codebase_id = c.id AND r.host = $1 AND r.role = current_user ORDER BY r.path LIMIT 1)`,
): string {
  return `c.id, c.name, ${root} AS root, c.model_id AS "modelId", c.model_hash AS "modelHash", c.dimension,
  c.hnsw_dim AS "hnswDim", c.n_chunks AS "nChunks", c.avg_tokens AS "avgTokens", c.indexed_at AS "indexedAt",
  c.model_version AS "modelVersion", c.model_version_dir AS "modelVersionDir",
  (c.run_started_at IS NOT NULL OR (c.model_hash IS NOT NULL AND c.indexed_at IS NULL)) AS incomplete`;
}

export class Codebases {
  constructor(
    private readonly db: Queryable,
    /** this machine's name in `codebase_roots` */
    readonly host: string,
  ) {}

  /** The codebase this machine's folder (a real path) is mapped to. */
  async at(realRoot: string): Promise<RootedCodebase | null> {
    const r = await this.db.query<RootedCodebase>(
      `SELECT ${columns('$2::text')} FROM codebases c JOIN codebase_roots m ON m.codebase_id = c.id
        WHERE m.host = $1 AND m.path = $2 AND m.role = current_user`,
      [this.host, realRoot],
    );
    return r.rows[0] ?? null;
  }

  async named(name: string): Promise<Codebase | null> {
    const r = await this.db.query<Codebase>(`SELECT ${columns()} FROM codebases c WHERE c.name = $2`, [this.host, name]);
    return r.rows[0] ?? null;
  }

  async byId(id: number): Promise<Codebase | null> {
    const r = await this.db.query<Codebase>(`SELECT ${columns()} FROM codebases c WHERE c.id = $2`, [this.host, id]);
    return r.rows[0] ?? null;
  }

  async all(): Promise<Codebase[]> {
    return (await this.db.query<Codebase>(`SELECT ${columns()} FROM codebases c ORDER BY c.name`, [this.host])).rows;
  }

  /** The codebase of this name, created (and owned by the caller) if new. */
  async ensure(name: string): Promise<Codebase> {
    const known = await this.named(name);
    if (known) return known;
    try {
      // Not ON CONFLICT DO NOTHING: that makes PostgreSQL check the new row against the read policy, which
      // its creator passes only once the row exists (accessSchema.ts makes the creator its owner).
      await this.db.query('INSERT INTO codebases (name) VALUES ($1)', [name]);
    } catch (e) {
      if ((e as { cause?: { code?: string } }).cause?.code !== '23505') throw e; // unique_violation: it exists
    }
    const cb = await this.named(name);
    if (cb) return cb;
    // It exists but row-level security hides it from this role.
    const me = (await this.db.query<{ role: string }>('SELECT current_user AS role')).rows[0]!.role;
    throw new SemcodeError(
      'permission_denied',
      `role ${me} has no access on ${name}, a codebase someone else made; an owner of it can run: semcode grant --codebase ${name} --role ${me} --level read (or write)`,
    );
  }

  /** This machine's other folders mapped to the codebase (real paths). */
  async rootsHere(codebaseId: number): Promise<string[]> {
    const r = await this.db.query<{ path: string }>(
      'SELECT path FROM codebase_roots WHERE codebase_id = $1 AND host = $2 AND role = current_user ORDER BY path',
      [codebaseId, this.host],
    );
    return r.rows.map((x) => x.path);
  }

  /** Maps this machine's folder to the codebase (a folder belongs to one codebase: a new name moves it). */
  async mapRoot(codebaseId: number, realRoot: string): Promise<void> {
    await this.db.query(
      `INSERT INTO codebase_roots (host, path, codebase_id) VALUES ($1, $2, $3)
       ON CONFLICT (host, role, path) DO UPDATE SET codebase_id = EXCLUDED.codebase_id`,
      [this.host, realRoot, codebaseId],
    );
  }

  async unmapRoot(realRoot: string): Promise<void> {
    await this.db.query('DELETE FROM codebase_roots WHERE host = $1 AND path = $2 AND role = current_user', [this.host, realRoot]);
  }

  async setModel(codebaseId: number, modelId: string, modelHash: string, dimension: number): Promise<void> {
    await this.db.query('UPDATE codebases SET model_id = $2, model_hash = $3, dimension = $4 WHERE id = $1', [codebaseId, modelId, modelHash, dimension]);
  }

  /** Names the fine-tuned version the codebase's index uses (null: a stock model). */
  async setModelVersion(codebaseId: number, version: { name: string; dir: string } | null): Promise<void> {
    await this.db.query('UPDATE codebases SET model_version = $2, model_version_dir = $3 WHERE id = $1', [
      codebaseId,
      version?.name ?? null,
      version?.dir ?? null,
    ]);
  }

  /** A full run has begun: until `finishRun`, the index counts as incomplete. */
  async startRun(codebaseId: number): Promise<void> {
    await this.db.query('UPDATE codebases SET run_started_at = now() WHERE id = $1', [codebaseId]);
  }

  async finishRun(codebaseId: number): Promise<void> {
    await this.db.query('UPDATE codebases SET run_started_at = NULL WHERE id = $1', [codebaseId]);
  }

  async counts(codebaseId: number): Promise<{ files: number; chunks: number }> {
    const r = await this.db.query<{ files: number; chunks: number }>(
      `SELECT (SELECT count(*)::int FROM files WHERE codebase_id = $1) AS files,
              (SELECT count(*)::int FROM chunks WHERE codebase_id = $1) AS chunks`,
      [codebaseId],
    );
    return r.rows[0]!;
  }

  /**
   * Files indexed, and chunks as the BM25 statistics count them (kept current by every indexing run): no
   * count(*) over chunks, which takes 100 ms at 100k chunks and holds PGlite meanwhile.
   */
  async quickCounts(codebaseId: number): Promise<{ files: number; chunks: number }> {
    const r = await this.db.query<{ files: number; chunks: number }>(
      `SELECT (SELECT count(*)::int FROM files WHERE codebase_id = $1) AS files,
              (SELECT n_chunks FROM codebases WHERE id = $1) AS chunks`,
      [codebaseId],
    );
    return { files: Number(r.rows[0]!.files), chunks: Number(r.rows[0]!.chunks ?? 0) };
  }
}
