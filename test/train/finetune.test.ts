// `semcode train`: fine-tuning on one indexed codebase. Everything is real: the codebases are the JavaScript
// sources of @huggingface/transformers in node_modules (JSDoc-rich, and not in the shipped model's corpus),
// indexed with real static models through the embedder, stored in real PGlite and PostgreSQL + pgvector.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Engine } from '../../server/src/engine';
import { isSemcodeError } from '../../server/src/errors';
import { hashModelFiles } from '../../server/src/embed/modelResolve';
import { exportModel, importModel } from '../../server/src/model/export';
import { decide, finetune, MIN_GAIN, MIN_CONFIDENCE } from '../../server/src/train/finetune';
import { StaticModel } from '../../server/src/model/staticModel';
import { codebaseSlug, nextVersion, stateDir, versionOfModel, versionsDir } from '../../server/src/train/versions';
import { BACKENDS } from '../helpers/backends';
import { type StatusJson, type TrainJson, parseJson } from '../helpers/cliJson';
import { openWithMigrations } from '../helpers/oldSchema';
import { tempDir, testModel } from '../helpers/workspace';

const REPO = join(__dirname, '..', '..');
const SRC = join(REPO, 'node_modules', '@huggingface', 'transformers', 'src');
/** ~240 pairs in 35 files */
const MEDIUM = realpathSync(join(SRC, 'utils'));
/** a real folder with fewer than 100 documented functions */
const SMALL = realpathSync(join(SRC, 'utils', 'model_registry'));
const CLI = join(REPO, 'bin', 'semcode.js');

delete process.env.SEMCODE_MODEL;

/**
 * A weak but real base model: the shipped model's tokenizer with an untrained table of seeded random rows
 * (64 dims), exported like any Semcode static model. Fine-tuning it on real pairs has a lot to gain.
 */
async function weakModel(dir: string): Promise<string> {
  const { tokenizer } = await importModel(join(REPO, 'models', 'default'));
  await exportModel(StaticModel.init(tokenizer.size, 64, 7, { pooling: 'sublinear' }), tokenizer, dir, { dtype: 'fp32' });
  return realpathSync(dir);
}

function versionFolders(state: string): string[] {
  const dir = join(state, 'models');
  return existsSync(dir) ? readdirSync(dir) : [];
}

test('the decision needs both a gain of 0.02 in MRR@10 and a gain in 95 % of bootstrap resamples', () => {
  const n = 50;
  const before = new Array<number>(n).fill(2);
  // every query moves from rank 2 to rank 1: a large, consistent gain
  assert.equal(decide(before, new Array<number>(n).fill(1), 1).save, true);
  // one query of 50 moves from rank 2 to 1: +0.01, below the bar however consistent
  const small = decide(
    before,
    before.map((r, i) => (i === 0 ? 1 : r)),
    1,
  );
  assert.equal(small.save, false);
  assert.ok(Math.abs(small.gain - 0.01) < 1e-12);
  // one query leaps from not found to rank 1: +0.02 on average but carried by a single query, so about a
  // third of resamples miss it and the bootstrap does not show a reliable gain
  const notFound = new Array<number>(n).fill(Infinity);
  const lucky = decide(
    notFound,
    notFound.map((r, i) => (i === 0 ? 1 : r)),
    1,
  );
  assert.ok(lucky.gain >= MIN_GAIN - 1e-12);
  assert.ok(lucky.bootstrap < MIN_CONFIDENCE, String(lucky.bootstrap));
  assert.equal(lucky.save, false);
  assert.match(lucky.reason, /bootstrap/);
});

test('versions live in the state directory, numbered per codebase, and never under the package models/', () => {
  assert.equal(stateDir({ XDG_STATE_HOME: '/x/state' }), join('/x/state', 'semcode'));
  assert.equal(stateDir({ XDG_STATE_HOME: '/x/state', SEMCODE_STATE_DIR: '/y' }), '/y');
  assert.throws(
    () => versionsDir(join(REPO, 'models', 'mine'), REPO),
    (e) => isSemcodeError(e, 'usage') && /never saved under/.test(e.message),
  );
  assert.throws(
    () => versionsDir(REPO, REPO),
    (e) => isSemcodeError(e, 'usage'),
  );
  const v = nextVersion('/home/me/My Project', '/nonexistent/models');
  assert.equal(v.name, `${codebaseSlug('/home/me/My Project')}-v1`);
  assert.match(v.name, /^my-project-[0-9a-f]{8}-v1$/);
  assert.notEqual(codebaseSlug('/a/project'), codebaseSlug('/b/project'));
});

for (const backend of BACKENDS) {
  describe(`semcode train on ${backend.name}`, () => {
    const work = tempDir(`finetune-${backend.name}`);
    const state = join(work.dir, 'state');
    let db: Awaited<ReturnType<typeof backend.create>>;
    let weak: string;

    before(async () => {
      db = await backend.create();
      weak = await weakModel(join(work.dir, 'weak-model'));
    });
    after(async () => {
      await db.cleanup();
      work.cleanup();
    });

    async function withEngine<T>(model: string | undefined, fn: (e: Engine) => Promise<T>): Promise<T> {
      const engine = await Engine.open({ db: db.target, model });
      try {
        return await fn(engine);
      } finally {
        await engine.close();
      }
    }

    test('an index made before fine-tuning existed is upgraded in place: codebases kept, no version, no runs', async () => {
      const fresh = await backend.create();
      try {
        // the schema as released before fine-tuning: only the first migration
        const old = await openWithMigrations(fresh.target, 1);
        await old.query(`INSERT INTO codebases (root, model_id, model_hash, dimension) VALUES ('/old/project', 'default', 'h', 512)`);
        await old.close();
        const engine = await Engine.open({ db: fresh.target });
        try {
          const cb = (await engine.store.codebase('/old/project'))!;
          assert.equal(cb.modelId, 'default');
          assert.equal(cb.modelVersion, null);
          assert.deepEqual(await engine.store.trainingRuns(cb.id), []);
        } finally {
          await engine.close();
        }
      } finally {
        await fresh.cleanup();
      }
    });

    test('fewer than 100 real pairs is insufficient_training_data: recorded, nothing trained or saved', async () => {
      await withEngine(weak, async (engine) => {
        await engine.index({ roots: [SMALL] });
        let count = -1;
        await assert.rejects(finetune(engine, { root: SMALL, stateDir: state }), (e) => {
          assert.ok(isSemcodeError(e, 'insufficient_training_data'), String(e));
          const m = /has only (\d+) documented functions .* at least 100 .*never makes up synthetic/.exec(e.message);
          assert.ok(m, e.message);
          count = Number(m[1]);
          return true;
        });
        assert.ok(count > 0 && count < 100, `a real count below 100, got ${count}`);
        const cb = (await engine.store.codebase(SMALL))!;
        const runs = await engine.store.trainingRuns(cb.id);
        assert.equal(runs.length, 1);
        assert.equal(runs[0]!.outcome, 'insufficient_data');
        assert.equal(runs[0]!.pairsMined, count);
        assert.equal(runs[0]!.mrrBefore, null);
        assert.equal(cb.modelVersion, null);
        assert.deepEqual(versionFolders(state), []);
      });
    });

    test('a model that is not a Semcode static model is model_not_trainable, recorded as failed', async () => {
      const bert = await testModel(32);
      const root = realpathSync(join(SRC, 'utils', 'hub'));
      await withEngine(bert, async (engine) => {
        await engine.index({ roots: [root] });
        await assert.rejects(
          finetune(engine, { root, stateDir: state }),
          (e) => isSemcodeError(e, 'model_not_trainable') && /only Semcode static models can be fine-tuned/.test(e.message),
        );
        const cb = (await engine.store.codebase(root))!;
        const [run] = await engine.store.trainingRuns(cb.id);
        assert.equal(run!.outcome, 'failed');
        assert.match(run!.message!, /not a Semcode static model/);
      });
    });

    test('a fine-tune that does not clear the bar keeps the old model and its index, and is recorded as kept', async () => {
      await withEngine(undefined, async (engine) => {
        await engine.index({ roots: [MEDIUM] });
        const before = (await engine.store.codebase(MEDIUM))!;
        const chunks = (await engine.store.counts(before.id)).chunks;
        const r = await finetune(engine, { root: MEDIUM, stateDir: state });
        assert.equal(r.outcome, 'kept', r.reason);
        assert.ok(r.gain < MIN_GAIN || r.bootstrap < MIN_CONFIDENCE, 'kept only when the rule says so');
        assert.ok(r.pairs.mined >= 100 && r.pairs.heldOut > 0 && r.pairs.train + r.pairs.heldOut === r.pairs.mined);
        assert.equal(r.chunks, chunks, 'held-out queries rank against every chunk of the codebase');
        assert.equal(r.version, null);
        assert.deepEqual(versionFolders(state), []);
        const cb = (await engine.store.codebase(MEDIUM))!;
        assert.equal(cb.modelId, 'default');
        assert.equal(cb.modelHash, before.modelHash);
        assert.equal(cb.modelVersion, null);
        const [run] = await engine.store.trainingRuns(cb.id);
        assert.equal(run!.outcome, 'kept');
        assert.equal(run!.id, r.runId);
        assert.equal(run!.baseModel, 'default');
        assert.equal(run!.pairsTrain, r.pairs.train);
        assert.equal(run!.pairsHeldOut, r.pairs.heldOut);
        assert.equal(run!.mrrBefore, r.before.mrr10);
        assert.equal(run!.mrrAfter, r.after.mrr10);
        assert.equal(run!.r10After, r.after.recall10);
        assert.equal(run!.bootstrap, r.bootstrap);
        assert.equal(run!.version, null);
      });
    });

    test('a fine-tune that clears the bar saves a version in the state dir and re-embeds the index with it', async () => {
      // A second database, as the kept test's codebase is the same folder with another model.
      const other = await backend.create();
      const withOther = async <T>(model: string | undefined, fn: (e: Engine) => Promise<T>): Promise<T> => {
        const engine = await Engine.open({ db: other.target, model });
        try {
          return await fn(engine);
        } finally {
          await engine.close();
        }
      };
      try {
        await saveAndReindex(withOther);
      } finally {
        await other.cleanup();
      }
    });

    async function saveAndReindex(withOther: <T>(model: string | undefined, fn: (e: Engine) => Promise<T>) => Promise<T>): Promise<void> {
      let version!: { name: string; dir: string };
      await withOther(weak, async (engine) => {
        await engine.index({ roots: [MEDIUM] });
        const chunks = (await engine.store.counts((await engine.store.codebase(MEDIUM))!.id)).chunks;
        // 8 epochs: the 4 of the defaults gain +0.03 here, just short of the bootstrap's 95 %
        const r = await finetune(engine, { root: MEDIUM, stateDir: state, epochs: 8 });
        assert.equal(r.outcome, 'saved', r.reason);
        assert.ok(r.gain >= MIN_GAIN && r.bootstrap >= MIN_CONFIDENCE);
        assert.ok(r.after.mrr10 > r.before.mrr10);
        version = r.version!;
        assert.ok(!relative(join(state, 'models'), version.dir).startsWith('..'), 'saved in the state directory');
        assert.ok(relative(join(REPO, 'models'), version.dir).startsWith('..'), 'never under models/');
        assert.equal(versionOfModel(version.dir)?.name, version.name);
        assert.deepEqual(versionFolders(state), [version.name], 'no partial folder left behind');

        const cb = (await engine.store.codebase(MEDIUM))!;
        assert.equal(cb.modelVersion, version.name);
        assert.equal(cb.modelId, `path:${realpathSync(version.dir)}`);
        assert.equal(cb.modelHash, await hashModelFiles(version.dir));
        assert.equal(cb.dimension, 64);
        assert.equal(r.reindex!.chunks, chunks);
        assert.ok(r.reindex!.embedded > 0, 'the chunks were embedded again with the new version');
        const hits = await engine.search([MEDIUM], 'Convert tensor data to a JS list', { k: 5, mode: 'vector' });
        assert.equal(hits.length, 5);

        const runs = await engine.store.trainingRuns(cb.id);
        assert.equal(runs.length, 1);
        assert.equal(runs[0]!.outcome, 'saved');
        assert.equal(runs[0]!.version, version.name);
        assert.equal(runs[0]!.versionDir, version.dir);
        assert.equal(runs[0]!.baseModel, `path:${weak}`);
        assert.ok(runs[0]!.durationMs > 0);
        assert.ok(runs[0]!.startedAt instanceof Date);
      });

      // Re-indexing without --model stays on the version, a rebuild too.
      await withOther(undefined, async (engine) => {
        const s = await engine.index({ roots: [MEDIUM] });
        assert.equal(s.modelId, `path:${realpathSync(version.dir)}`);
        assert.equal(s.embedded, 0);
        const rebuilt = await engine.index({ roots: [MEDIUM], rebuild: true });
        assert.equal(rebuilt.modelId, `path:${realpathSync(version.dir)}`);
        assert.equal((await engine.store.codebase(MEDIUM))!.modelVersion, version.name);
        const [st] = await engine.status([MEDIUM]);
        assert.equal(st!.modelVersion, version.name);
      });
      // An explicit --model other than the version is the mismatch error with the rebuild command.
      await withOther(weak, async (engine) => {
        await assert.rejects(engine.index({ roots: [MEDIUM] }), (e) => isSemcodeError(e, 'model_mismatch') && /--rebuild/.test(e.message));
      });
    }
  });
}

describe('semcode train CLI', () => {
  const work = tempDir('finetune-cli');
  const dbDir = join(work.dir, 'db');
  const state = join(work.dir, 'state');
  const semcode = (args: string[]) => {
    const r = spawnSync(process.execPath, [CLI, ...args, '--db-dir', dbDir], {
      encoding: 'utf8',
      env: { ...process.env, SEMCODE_MODEL: undefined, SEMCODE_STATE_DIR: state },
      timeout: 120_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  let weak: string;
  before(async () => {
    assert.ok(existsSync(join(REPO, 'dist', 'cli.js')), 'run `npm run build` first (npm test does)');
    weak = await weakModel(join(work.dir, 'weak-model'));
    // Indexed in-process (as `semcode index --model` does), to spare two CLI start-ups.
    const engine = await Engine.open({ db: { dir: dbDir }, model: weak });
    try {
      // Two runs: SMALL lies inside MEDIUM, and one run takes nested roots once.
      await engine.index({ roots: [SMALL] });
      await engine.index({ roots: [MEDIUM] });
    } finally {
      await engine.close();
    }
  });
  after(() => work.cleanup());

  test('train below 100 pairs exits 2 with one clear line naming the count', () => {
    const r = semcode(['train', '--root', SMALL]);
    assert.equal(r.code, 2, r.stderr);
    const last = r.stderr.trim().split('\n').pop()!;
    assert.match(last, /^semcode: .*has only \d+ documented functions .*needs at least 100/);
    assert.equal(r.stdout, '');
  });

  test('train --json saves a version and status names it', () => {
    const r = semcode(['train', '--root', MEDIUM, '--json', '--epochs', '8']);
    assert.equal(r.code, 0, r.stderr);
    const out = parseJson<TrainJson>(r.stdout);
    assert.equal(out.outcome, 'saved');
    assert.ok(out.after.mrr10 - out.before.mrr10 >= MIN_GAIN);
    assert.match(r.stderr, /before: held-out MRR@10/);
    const st = parseJson<StatusJson>(semcode(['status', '--root', MEDIUM, '--json']).stdout);
    assert.equal(st.modelVersion, out.version?.name);
    assert.equal(st.model, `path:${realpathSync(out.version!.dir)}`);
    assert.equal(st.embedsWith, 'static-js', 'a saved version is a static model: the JS table lookup computes its vectors');
  });
});
