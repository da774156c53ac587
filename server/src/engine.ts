import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SemcodeError } from './errors';
import { type RootRecord, claimRoot, resolveRoots } from './engineRoots';
import { checkCodebaseName } from './identity/codebaseName';
import { type Backend, type Embedder, openEmbedder } from './embed/embedder';
import { identityOf, isSameModel, recordedModelRef, resolveModel } from './embed/modelResolve';
import { type Chunker, createChunker } from './index/chunker';
import { Indexer, type IndexOptions, type IndexSummary, assertSameModel, rebuildCommand } from './index/indexer';
import type { Db, Transactional } from './store/db';
import type { CandidatePath } from './store/chunkQueries';
import { ownsIndexTables } from './store/maintenance';
import { type RateKind, takeRate } from './store/limits';
import type { NatsConnection } from '@nats-io/transport-node';
import { type NatsOptions, connectNats } from './jobs/natsConnect';
import { JetStreamQueue } from './jobs/jetstreamQueue';
import { levelOn } from './store/access';
import { type Codebases, codebaseLabel } from './store/codebases';
import { type Codebase, IndexStore, type RootedCodebase } from './store/indexStore';
import { type DbTarget, openDb } from './store/open';
import { type ModelVersion, versionOfModel } from './train/versions';
import { type SearchHit, type SearchOptions, Searcher, prepareQuery } from './search/search';

export interface EngineConfig {
  db: DbTarget;
  /** --model (a directory or a hub id); overrides the setting and SEMCODE_MODEL */
  model?: string;
  /** the editor setting, between --model and SEMCODE_MODEL */
  modelSetting?: string;
  backend?: Backend;
  /** this machine's name in the index's table of roots (default: the host name) */
  host?: string;
  /** index runs publish their jobs to NATS JetStream for `semcode worker` processes (PostgreSQL only) */
  nats?: NatsOptions;
}

export interface CodebaseStatus {
  /** the codebase's name, the same on every machine */
  name: string;
  /** its folder on this machine, null when it has none here */
  root: string | null;
  modelId: string | null;
  dimension: number | null;
  files: number;
  chunks: number;
  hnsw: boolean;
  indexedAt: string | null;
  /** the fine-tuned version the index uses (semcode train), null for a stock model */
  modelVersion: string | null;
  /** an index run started and did not finish: files may be missing until `semcode index` completes one */
  incomplete: boolean;
}

/**
 * The core shared by the CLI and the language server: one database, the model that goes with each
 * index, and the index/search operations. The embedder is opened lazily (text search needs none).
 */
export class Engine {
  readonly store: IndexStore;
  private embedder: Embedder | null = null;
  private chunker: Promise<Chunker> | null = null;
  private candidates: Promise<CandidatePath> | null = null;
  /** codebase names the user set, by the folder's real path (--codebase, semcode.codebase) */
  private readonly names = new Map<string, string>();

  private constructor(
    readonly db: Db,
    private readonly cfg: EngineConfig,
  ) {
    this.store = new IndexStore(db, cfg.host);
  }

  /** Names folders' codebases as the user set them (replacing earlier names); an empty name means the default. */
  async nameCodebases(named: { root: string; name: string | undefined }[]): Promise<void> {
    this.names.clear();
    for (const { root, name } of named) {
      if (!name?.trim()) continue;
      this.names.set(await realpath(root).catch(() => resolve(root)), checkCodebaseName(name));
    }
  }

  /**
   * Runs one request on one connection as this engine's principal: the connecting role (PGlite: its one
   * user), what row-level security checks every statement against in team mode. `codebases` reads and
   * writes the codebase tables through that connection.
   */
  async session<T>(fn: (s: Transactional, codebases: Codebases, via: CandidatePath) => Promise<T>): Promise<T> {
    const via = await this.candidatePath();
    return this.store.session((st) => fn(st.q, st.codebases, via));
  }

  /**
   * How this engine's role finds full-text candidates (chunkQueries.ts): directly when it owns the index
   * tables, else through the definer functions. Asked once; a failure is not remembered.
   */
  private candidatePath(): Promise<CandidatePath> {
    return (this.candidates ??= this.store
      .session((st) => ownsIndexTables(st.q))
      .then(
        (owns): CandidatePath => (owns ? 'direct' : 'definer'),
        (e: unknown) => {
          this.candidates = null;
          throw e;
        },
      ));
  }

  /**
   * Charges one search or index run to this role's rate limits (store/limits.ts), before the work: a
   * rate_limited error past them. The schema's owner (the team's admin, and PGlite's one user) has none.
   */
  async charge(kind: RateKind): Promise<void> {
    if ((await this.candidatePath()) === 'direct') return;
    await this.store.session((st) => takeRate(st.q, kind));
  }

  private resolveRoots(roots: string[]): Promise<RootRecord[]> {
    return this.session((_, codebases) => resolveRoots(codebases, roots, this.names));
  }

  static async open(cfg: EngineConfig): Promise<Engine> {
    return new Engine(await openDb(cfg.db), cfg);
  }

  get activeEmbedder(): Embedder | null {
    return this.embedder;
  }

  /** Opens the model the user asked for (flag, setting, env, shipped default) for indexing. */
  async configuredEmbedder(): Promise<Embedder> {
    const want = resolveModel(this.cfg.model, this.cfg.modelSetting);
    if (this.embedder?.modelId === want.id) return this.embedder;
    return this.switchEmbedder(() => openEmbedder({ model: this.cfg.model, setting: this.cfg.modelSetting, backend: this.cfg.backend }));
  }

  /** One model per engine at a time: opening another closes the previous one. */
  private async switchEmbedder(open: () => Promise<Embedder>): Promise<Embedder> {
    const old = this.embedder;
    this.embedder = null;
    await old?.close().catch(() => {});
    this.embedder = await open();
    return this.embedder;
  }

  private async embedderForDir(dir: string): Promise<Embedder> {
    const real = await realpath(dir);
    if (this.embedder?.modelId === `path:${real}`) return this.embedder;
    return this.switchEmbedder(() => openEmbedder({ model: real, backend: this.cfg.backend }));
  }

  async index(opts: IndexOptions & { codebase?: string }): Promise<IndexSummary> {
    if (opts.codebase !== undefined) {
      if (opts.roots.length !== 1) throw new SemcodeError('usage', '--codebase names one root: index several roots one by one');
      await this.nameCodebases([{ root: opts.roots[0]!, name: checkCodebaseName(opts.codebase) }]);
    }
    const records = await this.session(async (_, codebases) => {
      const found = await resolveRoots(codebases, opts.roots, this.names);
      for (const rec of found) await claimRoot(codebases, rec);
      return found;
    });
    return this.runIndexer(await this.indexEmbedder(records), { ...opts, roots: records.map((r) => r.given) }, records);
  }

  /**
   * The model to index these roots with: --model when given (a different model than the index's is the
   * indexer's mismatch error); else the fine-tuned version their index records, so re-indexing never
   * silently falls back to the stock model; else the configured model (setting, SEMCODE_MODEL, default).
   */
  private async indexEmbedder(records: RootRecord[]): Promise<Embedder> {
    if (this.cfg.model) return this.configuredEmbedder();
    const versions = new Map<string, Codebase[]>();
    const stock: string[] = [];
    for (const { given, codebase: cb } of records) {
      if (cb?.modelVersionDir) versions.set(cb.modelVersionDir, [...(versions.get(cb.modelVersionDir) ?? []), cb]);
      else stock.push(given);
    }
    if (!versions.size) return this.configuredEmbedder();
    const [dir, cbs] = [...versions][0]!; // versions is not empty
    if (versions.size > 1 || stock.length) {
      const named = [...versions.values()].flat().map((cb) => `${codebaseLabel(cb)} uses fine-tuned model ${cb.modelVersion}`);
      throw new SemcodeError(
        'model_mismatch',
        `cannot index these roots with one model: ${[...named, ...stock.map((r) => `${r} does not`)].join(', ')}; index each separately`,
      );
    }
    const cb = cbs[0]!;
    if (!existsSync(dir)) {
      let back = '';
      try {
        resolveModel(undefined, undefined, { env: {} });
        back = `, or go back to the shipped model with: ${rebuildCommand(cb, { modelId: 'default', db: this.db })}`;
      } catch {
        // no shipped model to suggest
      }
      throw new SemcodeError(
        'model_not_found',
        `the index for ${codebaseLabel(cb)} uses fine-tuned model ${cb.modelVersion}, whose folder is missing: ${dir}; restore it${back}`,
      );
    }
    return this.embedderForDir(dir);
  }

  /**
   * Runs the indexer and keeps the index's version name in step with the model it was built with: set
   * before a rebuild starts (an interrupted rebuild resumes with the same model) and after indexing.
   */
  private async runIndexer(embedder: Embedder, opts: IndexOptions, records: RootRecord[]): Promise<IndexSummary> {
    await this.charge('index');
    this.chunker ??= createChunker();
    const version = versionOfModel(embedder.modelDir);
    const sync = async (cb: Codebase | null) => {
      if (cb && (cb.modelVersion !== (version?.name ?? null) || cb.modelVersionDir !== (version?.dir ?? null)))
        await this.store.session((st) => st.setModelVersion(cb.id, version));
    };
    if (opts.rebuild) for (const rec of records) await sync(rec.codebase);
    const names = new Map(records.map((r) => [r.real, r.name]));
    const nc = this.cfg.nats ? await this.natsForJobs(this.cfg.nats) : null;
    let summary: IndexSummary;
    try {
      const queue = nc ? () => JetStreamQueue.open(nc, { signal: opts.signal }) : undefined;
      summary = await new Indexer(this.store, embedder, await this.chunker).index({ ...opts, queue }, (real) => names.get(real) ?? real);
    } finally {
      await nc?.close().catch(() => {});
    }
    for (const root of summary.roots) await sync(await this.store.session((st) => st.codebase(root)));
    return summary;
  }

  /** Workers write to the database themselves: one that only this process can open cannot be shared. */
  private async natsForJobs(nats: NatsOptions): Promise<NatsConnection> {
    if (this.db.kind !== 'postgres') {
      throw new SemcodeError(
        'usage',
        `indexing through NATS needs a PostgreSQL database the workers can reach (--db postgres://...): ${this.db.location} is an embedded database, one process's alone`,
      );
    }
    return connectNats({ ...nats, reconnect: true }); // a run outlasts a NATS restart
  }

  /**
   * Makes a fine-tuned version the model of a codebase's index: rebuilds the index with it, every chunk
   * re-embedded, so the index records the version's id, hash and dimension like any other model.
   */
  async activateVersion(root: string, version: ModelVersion, opts: Omit<IndexOptions, 'roots' | 'rebuild'> = {}): Promise<IndexSummary> {
    const records = await this.resolveRoots([root]);
    this.codebasesOf(records); // throws unless the root exists and is indexed
    return this.runIndexer(await this.embedderForDir(version.dir), { ...opts, roots: [records[0]!.given], rebuild: true }, records);
  }

  /** The indexed codebases for these roots; a root never indexed is a clear error. */
  async codebasesFor(roots: string[]): Promise<RootedCodebase[]> {
    return this.codebasesOf(await this.resolveRoots(roots));
  }

  private codebasesOf(records: RootRecord[]): RootedCodebase[] {
    return records.map(({ given, real, exists, codebase: cb }) => {
      if (!exists) throw new SemcodeError('io_error', `cannot read root ${given}: no such folder`);
      if (!cb?.modelHash) throw new SemcodeError('not_indexed', `${real} is not indexed in ${this.db.location}; run: semcode index --root ${real}`);
      return cb;
    });
  }

  /** Indexed codebases by name (--codebase without --root): each with this machine's folder, if it has one. */
  async codebasesNamed(names: string[]): Promise<Codebase[]> {
    return this.session(async (_, codebases) => {
      const out: Codebase[] = [];
      for (const name of new Set(names.map(checkCodebaseName))) {
        const cb = await codebases.named(name);
        if (!cb?.modelHash) {
          throw new SemcodeError(
            'not_indexed',
            `no codebase named ${name} is indexed in ${this.db.location}; index a folder as it with: semcode index --root DIR --codebase ${name}`,
          );
        }
        out.push(cb);
      }
      return out;
    });
  }

  /**
   * The model for reading these codebases: the one recorded in their index. An explicit --model that is
   * not that model is an error naming both, never a silent mix of vector spaces.
   */
  async embedderFor(codebases: Codebase[]): Promise<Embedder> {
    const first = codebases[0]!;
    for (const cb of codebases.slice(1)) {
      if (cb.modelHash !== first.modelHash) {
        throw new SemcodeError(
          'model_mismatch',
          `${codebaseLabel(first)} was indexed with ${first.modelId} but ${codebaseLabel(cb)} with ${cb.modelId}; search them separately or rebuild one with: ${rebuildCommand(cb, { modelId: first.modelId, db: this.db })}`,
        );
      }
    }
    if (this.embedder) {
      for (const cb of codebases) assertSameModel(cb, this.embedder, this.db);
      return this.embedder;
    }
    await this.checkAskedModel(codebases);
    const embedder = await openEmbedder({ model: recordedModelRef(first.modelId!), modelSource: 'index', backend: this.cfg.backend });
    try {
      for (const cb of codebases) assertSameModel(cb, embedder, this.db);
    } catch (e) {
      await embedder.close();
      throw e;
    }
    this.embedder = embedder;
    return embedder;
  }

  /** An explicit --model on search/status must be the model the index was built with (same files). */
  async checkAskedModel(codebases: Codebase[]): Promise<void> {
    if (!this.cfg.model) return;
    const asked = await identityOf(resolveModel(this.cfg.model));
    for (const cb of codebases) {
      if (!cb.modelHash) continue;
      if (!isSameModel(asked, cb)) {
        throw new SemcodeError(
          'model_mismatch',
          `--model ${asked.id} is not the model the index for ${codebaseLabel(cb)} was built with (${cb.modelId}, dim ${cb.dimension}); ` +
            `omit --model to use it, or rebuild with: ${rebuildCommand(cb, { modelId: asked.id, db: this.db })}`,
        );
      }
    }
  }

  async search(roots: string[], query: string, opts: SearchOptions): Promise<SearchHit[]> {
    return this.searchCodebases(await this.codebasesFor(roots), query, opts);
  }

  /** Search over codebases already looked up (the language server has them from indexedCodebases). */
  async searchCodebases(codebases: Codebase[], query: string, opts: SearchOptions): Promise<SearchHit[]> {
    const mode = opts.mode ?? 'hybrid';
    let embed = null;
    if (mode !== 'text') {
      const embedder = await this.embedderFor(codebases);
      embed = async (q: string) => (await embedder.embed([q]))[0]!;
    }
    const prepared = await prepareQuery(query, opts, embed);
    await this.charge('search');
    return this.session((s, _, via) => new Searcher(s, null, { candidates: via }).searchPrepared(codebases, prepared, opts));
  }

  /** The codebases of these roots, or of these names, or (neither given) every codebase in the database. */
  async status(roots: string[] | null, names: string[] = []): Promise<CodebaseStatus[]> {
    const cbs = roots ? await this.codebasesFor(roots) : names.length ? await this.codebasesNamed(names) : await this.session((_, c) => c.all());
    await this.checkAskedModel(cbs);
    const counts = await this.session((_, codebases) => Promise.all(cbs.map((cb) => codebases.counts(cb.id))));
    const out: CodebaseStatus[] = [];
    for (const [i, cb] of cbs.entries()) {
      const c = counts[i]!;
      out.push({
        name: cb.name,
        root: cb.root,
        modelId: cb.modelId,
        dimension: cb.dimension,
        files: c.files,
        chunks: c.chunks,
        hnsw: cb.hnswDim !== null,
        indexedAt: cb.indexedAt ? new Date(cb.indexedAt).toISOString() : null,
        modelVersion: cb.modelVersion,
        incomplete: cb.incomplete,
      });
    }
    return out;
  }

  async close(): Promise<void> {
    await this.embedder?.close().catch(() => {});
    this.embedder = null;
    await this.db.close();
  }

  /**
   * The roots whose codebase this role may read but not write (a team member with read): the language
   * server searches them and does not try to index them.
   */
  async readOnlyRoots(roots: string[]): Promise<{ root: string; name: string; role: string }[]> {
    // The tables' owner (the embedded database's user, a single-user server) may write everything: no
    // lookups on every watcher run.
    if ((await this.candidatePath()) === 'direct') return [];
    return this.session(async (s, codebases) => {
      const out: { root: string; name: string; role: string }[] = [];
      for (const rec of await resolveRoots(codebases, roots, this.names)) {
        if (!rec.codebase) continue;
        const { role, level } = await levelOn(s, rec.codebase.id);
        if (level === 'read') out.push({ root: rec.given, name: rec.name, role });
      }
      return out;
    });
  }

  /**
   * The indexed codebases among these roots, each with the root as given. A root not indexed yet is left
   * out, not an error: the language server answers from what is indexed while the rest is being built.
   */
  async indexedCodebases(roots: string[]): Promise<{ root: string; codebase: RootedCodebase }[]> {
    const out: { root: string; codebase: RootedCodebase }[] = [];
    for (const { given, exists, codebase } of await this.resolveRoots(roots)) {
      if (exists && codebase?.modelHash) out.push({ root: given, codebase });
    }
    return out;
  }
}
