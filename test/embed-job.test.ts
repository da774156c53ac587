// Embed jobs as plain data, on real PGlite and real PostgreSQL + pgvector with a real ONNX model: a job that
// went through JSON and is handled by another engine on the same database stores what the in-process run
// stored; a job run twice changes nothing; a job for another model is refused and writes nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { sha256 } from '../server/src/embed/input';
import { Engine } from '../server/src/engine';
import { isSemcodeError } from '../server/src/errors';
import { createChunker } from '../server/src/index/chunker';
import { type EmbedJob, handleEmbedJob, jobFile } from '../server/src/index/embedJob';
import { Walker } from '../server/src/index/walker';
import type { Db } from '../server/src/store/db';
import type { DbTarget } from '../server/src/store/open';
import { BACKENDS } from './helpers/backends';
import { makeProject, tempDir, testModel } from './helpers/workspace';

/** A codebase's chunks and files as stored, without ids: what two runs of the same files must agree on. */
async function rows(db: Db, codebaseId: number) {
  const chunks = await db.query(
    `SELECT path, start_line, end_line, symbol, kind, language, content, content_hash, embedding::text AS embedding,
            tsv::text AS tsv, n_tokens, bm25::text AS bm25, symbol_words::text AS symbol_words
       FROM chunks WHERE codebase_id = $1 ORDER BY path, start_line, end_line, content_hash`,
    [codebaseId],
  );
  const files = await db.query('SELECT path, content_hash, size::int AS size, language FROM files WHERE codebase_id = $1 ORDER BY path', [codebaseId]);
  return { chunks: chunks.rows, files: files.rows };
}

async function termStats(db: Db, codebaseId: number) {
  const stats = await db.query('SELECT lexeme, df FROM term_stats WHERE codebase_id = $1 ORDER BY lexeme', [codebaseId]);
  const cb = await db.query('SELECT n_chunks, avg_tokens FROM codebases WHERE id = $1', [codebaseId]);
  return { stats: stats.rows, codebase: cb.rows[0] };
}

async function count(db: Db, sql: string, params: unknown[] = []): Promise<number> {
  return (await db.query<{ n: number }>(sql, params)).rows[0]!.n;
}

for (const backend of BACKENDS) {
  describe(`embed jobs on ${backend.name}`, () => {
    const work = tempDir('embed-job');
    const root = makeProject(join(work.dir, 'project'));
    let target: DbTarget;
    let cleanupDb: () => Promise<void>;
    let model: string;
    let engine: Engine;
    let inProcess: Awaited<ReturnType<typeof rows>>;
    let jobJson: string;

    /** A new codebase (another root) with the model recorded, as a run's openCodebase leaves it. */
    const codebase = async (name: string) => {
      const e = await engine.configuredEmbedder();
      const cb = await engine.store.ensureCodebase(join(work.dir, name));
      await engine.store.setModel(cb.id, e.modelId, e.modelHash, e.dimension);
      return cb.id;
    };
    const handle = async (job: EmbedJob) => handleEmbedJob(job, { store: engine.store, model: await engine.configuredEmbedder(), embedBatch: 64 });

    before(async () => {
      const made = await backend.create();
      target = made.target;
      cleanupDb = made.cleanup;
      model = await testModel(32);
      engine = await Engine.open({ db: target, model });
      const summary = await engine.index({ roots: [root] });
      const cb = (await engine.store.codebase(summary.roots[0]!))!;
      inProcess = await rows(engine.db, cb.id);
      // The same files as one job, planned with the indexer's own jobFile, for a second codebase.
      const chunker = await createChunker();
      const files = [];
      for await (const f of new Walker().walk(root)) files.push(jobFile(chunker, f, sha256(f.bytes)));
      const e = await engine.configuredEmbedder();
      const job: EmbedJob = { codebaseId: await codebase('twin'), modelHash: e.modelHash, dimension: e.dimension, deltaStats: false, files };
      jobJson = JSON.stringify(job);
      assert.deepEqual(JSON.parse(jobJson), job, 'a job is plain data');
    });
    after(async () => {
      await engine?.close();
      await cleanupDb?.();
      work.cleanup();
    });

    test('a job that went through JSON, handled by another engine, stores the rows the in-process run stored', async () => {
      // Another process: the first engine closed (PGlite allows one), a fresh one on the same database, and an
      // empty embedding cache so the job's inputs are embedded there, not copied.
      await engine.db.query('DELETE FROM embedding_cache');
      await engine.close();
      engine = await Engine.open({ db: target, model });
      const job = JSON.parse(jobJson) as EmbedJob;
      const r = await handle(job);
      assert.equal(r.files, job.files.length);
      assert.equal(r.chunks, inProcess.chunks.length);
      assert.ok(r.embedded > 0, 'embedded by the second engine');
      assert.equal(r.embedded + r.reused, r.chunks);
      const stored = await rows(engine.db, job.codebaseId);
      assert.equal(stored.chunks.length, inProcess.chunks.length);
      assert.deepEqual(stored, inProcess);
    });

    test('running a job twice changes nothing, BM25 statistics included', async () => {
      const job = { ...(JSON.parse(jobJson) as EmbedJob), codebaseId: await codebase('again'), deltaStats: true };
      const first = await handle(job);
      const once = { rows: await rows(engine.db, job.codebaseId), stats: await termStats(engine.db, job.codebaseId) };
      assert.equal(once.rows.chunks.length, inProcess.chunks.length);
      assert.ok(once.stats.stats.length > 0, 'per-job statistics kept');
      const second = await handle(JSON.parse(JSON.stringify(job)) as EmbedJob);
      assert.equal(second.embedded, 0, 'every input cached the second time');
      assert.equal(second.chunks, first.chunks);
      assert.deepEqual({ rows: await rows(engine.db, job.codebaseId), stats: await termStats(engine.db, job.codebaseId) }, once);
      assert.deepEqual((await rows(engine.db, job.codebaseId)).chunks, inProcess.chunks);
    });

    test('a job for another model is refused with model_mismatch and writes nothing', async () => {
      const id = await codebase('other');
      const cached = await count(engine.db, 'SELECT count(*)::int AS n FROM embedding_cache');
      const base = JSON.parse(jobJson) as EmbedJob;
      for (const job of [
        { ...base, codebaseId: id, modelHash: sha256('another model') },
        { ...base, codebaseId: id, dimension: base.dimension * 2 },
      ]) {
        await assert.rejects(handle(job), (e) => isSemcodeError(e, 'model_mismatch') && /needs model .* but this worker has/.test(e.message));
      }
      assert.equal(await count(engine.db, 'SELECT count(*)::int AS n FROM chunks WHERE codebase_id = $1', [id]), 0);
      assert.equal(await count(engine.db, 'SELECT count(*)::int AS n FROM files WHERE codebase_id = $1', [id]), 0);
      assert.equal(await count(engine.db, 'SELECT count(*)::int AS n FROM embedding_cache'), cached);
    });
  });
}
