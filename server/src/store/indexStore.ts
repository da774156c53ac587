import { hostname } from 'node:os';
import type { Chunk } from '../chunk';
import { SemcodeError } from '../errors';
import { type FileWrite, allChunks, deleteFiles, ensureHnsw, fileHashes, fileHashesUnder, refreshTermStats, replaceFiles } from './chunks';
import { type Codebase, Codebases, type RootedCodebase, codebaseLabel } from './codebases';
import { CODEBASE_WRITER_LOCK, type Db, type Lease, type Transactional } from './db';
import { type CachedVector, cacheEmbeddings, cachedEmbeddings } from './embeddingCache';
import { dropHnsw } from './maintenance';
import { type Level, requireLevel } from './access';
import { type NewTrainingRun, type TrainingRun, noteTrainingRun, recordTrainingRun, trainingRuns } from './trainingRuns';

export type { Codebase, RootedCodebase } from './codebases';
// Moved to a module per table family; named here too so that callers need no change.
export { hnswIndexName, hnswScope, vectorLiteral } from './chunks';
export type { FileWrite, StoredChunk } from './chunks';
export type { NewTrainingRun, TrainingOutcome, TrainingRun } from './trainingRuns';

/**
 * Every read and write of the index goes through here, scoped by codebase. A store made by `session` runs
 * its statements on that session's one connection, as its principal; the store the engine holds runs them on
 * the pool as the connecting role, and is what sessions are opened from.
 */
export class IndexStore {
  readonly codebases: Codebases;

  constructor(
    readonly db: Db,
    /** this machine's name in the roots table */
    readonly host: string = hostname(),
    /** where statements run: the database, or a session on it */
    readonly q: Transactional = db,
  ) {
    this.codebases = new Codebases(q, host);
  }

  /**
   * Runs fn with a store bound to one session on the database, as the connecting role (PGlite: its one user):
   * what row-level security checks each statement against in team mode. Open one per request or job, not for
   * a whole index run: on PostgreSQL a session holds a pooled connection until fn is done.
   */
  async session<T>(fn: (store: IndexStore) => Promise<T>): Promise<T> {
    const principal = await this.db.principal();
    return this.db.withSession(principal, (s) => fn(new IndexStore(this.db, this.host, s)));
  }

  /** The codebase this machine's folder (a real path) is mapped to. */
  async codebase(root: string): Promise<RootedCodebase | null> {
    return this.codebases.at(root);
  }

  /**
   * The codebase named `name` (default: the root itself, for callers that do not name codebases), with
   * this machine's folder mapped to it.
   */
  async ensureCodebase(root: string, name = root): Promise<RootedCodebase> {
    const cb = await this.codebases.ensure(name);
    await this.codebases.mapRoot(cb.id, root);
    return (await this.codebases.at(root))!;
  }

  /** Throws permission_denied, naming the caller's level and the one needed, unless it has `level` (access.ts). */
  requireLevel(codebase: { id: number; name: string }, level: Level, doing: string): Promise<void> {
    return requireLevel(this.q, codebase, level, doing);
  }

  async setModel(codebaseId: number, modelId: string, modelHash: string, dimension: number): Promise<void> {
    await this.codebases.setModel(codebaseId, modelId, modelHash, dimension);
  }

  async setModelVersion(codebaseId: number, version: { name: string; dir: string } | null): Promise<void> {
    await this.codebases.setModelVersion(codebaseId, version);
  }

  /** Every stored chunk of a codebase in file order (what fine-tuning mines pairs from and ranks against). */
  allChunks(codebaseId: number): Promise<Chunk[]> {
    return allChunks(this.q, codebaseId);
  }

  recordTrainingRun(run: NewTrainingRun): Promise<number> {
    return recordTrainingRun(this.q, run);
  }

  noteTrainingRun(runId: number, message: string): Promise<void> {
    return noteTrainingRun(this.q, runId, message);
  }

  /** A codebase's training runs, oldest first. */
  trainingRuns(codebaseId: number): Promise<TrainingRun[]> {
    return trainingRuns(this.q, codebaseId);
  }

  /**
   * Forgets everything indexed for a codebase (for a rebuild with another model). The fine-tuned version
   * name stays: the engine sets it for the model of the rebuild, so an interrupted rebuild resumes with it.
   */
  async resetCodebase(codebaseId: number): Promise<void> {
    await this.q.transaction(async (tx) => {
      await dropHnsw(tx, codebaseId);
      await tx.query('DELETE FROM files WHERE codebase_id = $1', [codebaseId]);
      await tx.query('DELETE FROM term_stats WHERE codebase_id = $1', [codebaseId]);
      await tx.query(
        `UPDATE codebases SET model_id = NULL, model_hash = NULL, dimension = NULL, hnsw_dim = NULL,
           n_chunks = 0, avg_tokens = 0, indexed_at = NULL WHERE id = $1`,
        [codebaseId],
      );
    });
  }

  fileHashes(codebaseId: number): Promise<Map<string, string>> {
    return fileHashes(this.q, codebaseId);
  }

  /** Cached vectors (as pgvector literals) for these model inputs. */
  cachedEmbeddings(codebaseId: number, modelHash: string, inputHashes: string[]): Promise<Map<string, CachedVector>> {
    return cachedEmbeddings(this.q, codebaseId, modelHash, inputHashes);
  }

  cacheEmbeddings(codebaseId: number, modelHash: string, entries: { inputHash: string; embedding: string }[]): Promise<void> {
    return cacheEmbeddings(this.q, codebaseId, modelHash, entries);
  }

  /** Replaces the chunks of these files in one transaction (chunks.ts). */
  replaceFiles(codebaseId: number, files: FileWrite[], opts: { termStats?: boolean } = {}): Promise<void> {
    return replaceFiles(this.q, codebaseId, files, opts);
  }

  /** Deletes files and their chunks; with `termStats`, takes them out of the BM25 statistics in the same transaction. */
  deleteFiles(codebaseId: number, paths: string[], opts: { termStats?: boolean } = {}): Promise<void> {
    return deleteFiles(this.q, codebaseId, paths, opts);
  }

  /** Builds the codebase's HNSW index if it has none (chunks.ts). */
  ensureHnsw(codebase: Codebase, dimension: number): Promise<boolean> {
    return ensureHnsw(this.q, this.db.kind, codebase, dimension);
  }

  /** Document frequencies and average length for BM25. */
  refreshTermStats(codebaseId: number): Promise<void> {
    return refreshTermStats(this.q, codebaseId);
  }

  /**
   * Takes the codebase's writer lease for an index run, or throws `index_busy` naming who has it: two runs
   * at once stored files twice and failed on BM25 statistics. `label` says who this run is.
   */
  async leaseForIndexing(codebase: Codebase, label: string): Promise<Lease> {
    const r = await this.db.tryLease([CODEBASE_WRITER_LOCK, codebase.id], label);
    if ('lease' in r) return r.lease;
    throw new SemcodeError('index_busy', `${codebaseLabel(codebase)} is being indexed by ${r.holder}; wait for that run to finish, then run again`);
  }

  async startRun(codebaseId: number): Promise<void> {
    await this.codebases.startRun(codebaseId);
  }

  async finishRun(codebaseId: number): Promise<void> {
    await this.codebases.finishRun(codebaseId);
  }

  async counts(codebaseId: number): Promise<{ files: number; chunks: number }> {
    return this.codebases.counts(codebaseId);
  }

  /** Content hashes of the files at or below these paths (posix, relative to the root): a watcher run's view. */
  fileHashesUnder(codebaseId: number, paths: string[]): Promise<Map<string, string>> {
    return fileHashesUnder(this.q, codebaseId, paths);
  }

  async quickCounts(codebaseId: number): Promise<{ files: number; chunks: number }> {
    return this.codebases.quickCounts(codebaseId);
  }
}
