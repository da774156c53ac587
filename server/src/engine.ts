import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { SemcodeError, errorMessage } from './errors';
import { type Backend, type Embedder, openEmbedder } from './embed/embedder';
import { hashModelFiles, recordedModelRef, resolveModel } from './embed/modelResolve';
import { type Chunker, createChunker } from './index/chunker';
import { distinctRoots } from './index/roots';
import { Indexer, type IndexOptions, type IndexSummary, assertSameModel, rebuildCommand } from './index/indexer';
import type { Db } from './store/db';
import { type Codebase, IndexStore } from './store/indexStore';
import { type DbTarget, openDb } from './store/open';
import { type ModelVersion, versionOfModel } from './train/versions';
import { type SearchHit, type SearchOptions, Searcher } from './search/search';

export interface EngineConfig {
  db: DbTarget;
  /** --model (a directory or a hub id); overrides the setting and SEMCODE_MODEL */
  model?: string;
  /** the editor setting, between --model and SEMCODE_MODEL */
  modelSetting?: string;
  backend?: Backend;
}

export interface CodebaseStatus {
  root: string;
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

  private constructor(
    readonly db: Db,
    private readonly cfg: EngineConfig,
  ) {
    this.store = new IndexStore(db);
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

  async index(opts: IndexOptions): Promise<IndexSummary> {
    const { roots } = await distinctRoots(opts.roots);
    return this.runIndexer(await this.indexEmbedder(roots), { ...opts, roots });
  }

  /**
   * The model to index these roots with: --model when given (a different model than the index's is the
   * indexer's mismatch error); else the fine-tuned version their index records, so re-indexing never
   * silently falls back to the stock model; else the configured model (setting, SEMCODE_MODEL, default).
   */
  private async indexEmbedder(roots: string[]): Promise<Embedder> {
    if (this.cfg.model) return this.configuredEmbedder();
    const versions = new Map<string, Codebase[]>();
    const stock: string[] = [];
    for (const root of roots) {
      const cb = await this.store.codebase(await realpath(root).catch(() => root));
      if (cb?.modelVersionDir) versions.set(cb.modelVersionDir, [...(versions.get(cb.modelVersionDir) ?? []), cb]);
      else stock.push(root);
    }
    if (!versions.size) return this.configuredEmbedder();
    const [[dir, cbs]] = [...versions];
    if (versions.size > 1 || stock.length) {
      const named = [...versions.values()].flat().map((cb) => `${cb.root} uses fine-tuned model ${cb.modelVersion}`);
      throw new SemcodeError(
        'model_mismatch',
        `cannot index these roots with one model: ${[...named, ...stock.map((r) => `${r} does not`)].join(', ')}; index each separately`,
      );
    }
    const cb = cbs![0]!;
    if (!existsSync(dir)) {
      let back = '';
      try {
        resolveModel(undefined, undefined, { env: {} });
        back = `, or go back to the shipped model with: ${rebuildCommand(cb.root, { modelId: 'default', db: this.db })}`;
      } catch {
        // no shipped model to suggest
      }
      throw new SemcodeError('model_not_found', `the index for ${cb.root} uses fine-tuned model ${cb.modelVersion}, whose folder is missing: ${dir}; restore it${back}`);
    }
    return this.embedderForDir(dir);
  }

  /**
   * Runs the indexer and keeps the index's version name in step with the model it was built with: set
   * before a rebuild starts (an interrupted rebuild resumes with the same model) and after indexing.
   */
  private async runIndexer(embedder: Embedder, opts: IndexOptions): Promise<IndexSummary> {
    this.chunker ??= createChunker();
    const version = versionOfModel(embedder.modelDir);
    const sync = async (root: string) => {
      const cb = await this.store.codebase(root);
      if (cb && (cb.modelVersion !== (version?.name ?? null) || cb.modelVersionDir !== (version?.dir ?? null))) await this.store.setModelVersion(cb.id, version);
    };
    if (opts.rebuild) for (const root of opts.roots) await sync(await realpath(root).catch(() => root));
    const summary = await new Indexer(this.store, embedder, await this.chunker).index(opts);
    for (const root of summary.roots) await sync(root);
    return summary;
  }

  /**
   * Makes a fine-tuned version the model of a codebase's index: rebuilds the index with it, every chunk
   * re-embedded, so the index records the version's id, hash and dimension like any other model.
   */
  async activateVersion(root: string, version: ModelVersion, opts: Omit<IndexOptions, 'roots' | 'rebuild'> = {}): Promise<IndexSummary> {
    const [cb] = await this.codebasesFor([root]);
    return this.runIndexer(await this.embedderForDir(version.dir), { ...opts, roots: [cb!.root], rebuild: true });
  }

  /** The indexed codebases for these roots; a root never indexed is a clear error. */
  async codebasesFor(roots: string[]): Promise<Codebase[]> {
    const out: Codebase[] = [];
    for (const root of (await distinctRoots(roots)).roots) {
      let real: string;
      try {
        real = await realpath(root);
      } catch (e) {
        throw new SemcodeError('io_error', `cannot read root ${root}: ${errorMessage(e)}`);
      }
      const cb = await this.store.codebase(real);
      if (!cb || !cb.modelHash) {
        throw new SemcodeError('not_indexed', `${real} is not indexed in ${this.db.location}; run: semcode index --root ${real}`);
      }
      out.push(cb);
    }
    return out;
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
          `${first.root} was indexed with ${first.modelId} but ${cb.root} with ${cb.modelId}; search them separately or rebuild one with: ${rebuildCommand(cb.root, { modelId: first.modelId, db: this.db })}`,
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
    const asked = resolveModel(this.cfg.model);
    const hash = asked.source === 'hub' ? null : await hashModelFiles(asked.dir);
    for (const cb of codebases) {
      if (!cb.modelHash) continue;
      if (hash ? hash !== cb.modelHash : asked.id !== cb.modelId) {
        throw new SemcodeError(
          'model_mismatch',
          `--model ${asked.id} is not the model the index for ${cb.root} was built with (${cb.modelId}, dim ${cb.dimension}); ` +
            `omit --model to use it, or rebuild with: ${rebuildCommand(cb.root, { modelId: asked.id, db: this.db })}`,
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
    return new Searcher(this.db, embed).search(codebases, query, opts);
  }

  async status(roots: string[] | null): Promise<CodebaseStatus[]> {
    const cbs = roots ? await this.codebasesFor(roots) : await this.store.codebases();
    await this.checkAskedModel(cbs);
    const out: CodebaseStatus[] = [];
    for (const cb of cbs) {
      const c = await this.store.counts(cb.id);
      out.push({
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
   * The indexed codebases among these roots, each with the root as given. A root not indexed yet is left
   * out, not an error: the language server answers from what is indexed while the rest is being built.
   */
  async indexedCodebases(roots: string[]): Promise<{ root: string; codebase: Codebase }[]> {
    const out: { root: string; codebase: Codebase }[] = [];
    for (const root of (await distinctRoots(roots)).roots) {
      let real: string;
      try {
        real = await realpath(root);
      } catch {
        continue;
      }
      const cb = await this.store.codebase(real);
      if (cb?.modelHash) out.push({ root, codebase: cb });
    }
    return out;
  }
}
