// Named codebases: a name that is the same on every machine, each machine's folders mapped to it, stored
// paths relative to the folder. On real PGlite and real PostgreSQL + pgvector with a real ONNX model.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../server/src/engine';
import { isSemcodeError } from '../server/src/errors';
import { defaultCodebaseName, normalizeRemote, remoteUrl } from '../server/src/identity/codebaseName';
import type { DbTarget } from '../server/src/store/open';
import { BACKENDS } from './helpers/backends';
import { revertToRelease5 } from './helpers/oldSchema';
import { makeProject, tempDir, testModel } from './helpers/workspace';

/** A clone: the project's files and a .git whose config names `origin`. */
function makeClone(dir: string, origin: string | null): string {
  makeProject(dir);
  mkdirSync(join(dir, '.git'));
  writeFileSync(
    join(dir, '.git', 'config'),
    `[core]\n\tbare = false\n${origin ? `[remote "origin"]\n\turl = ${origin}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n` : ''}`,
  );
  return dir;
}

describe('codebase names from the repository', () => {
  test('remote URLs of one repository normalize to one name', () => {
    for (const url of [
      'git@github.com:Org/Repo.git',
      'https://github.com/Org/Repo',
      'https://user:token@GitHub.com/Org/Repo.git/',
      'ssh://git@github.com:22/Org/Repo.git',
      'git://github.com/Org/Repo',
    ]) {
      assert.equal(normalizeRemote(url), 'github.com/Org/Repo', url);
    }
    assert.equal(normalizeRemote('/srv/git/tools.git'), 'tools');
    assert.equal(normalizeRemote('file:///srv/git/tools.git'), 'tools');
    assert.equal(normalizeRemote(''), null);
  });

  test('the origin remote is read from git config, not another remote', () => {
    const config =
      '[remote "upstream"]\n\turl = git@a.org:x/y\n[remote "origin"]\n\tfetch = x\n\turl = git@b.org:me/y.git\n[branch "main"]\n\tremote = origin\n';
    assert.equal(remoteUrl(config, 'origin'), 'git@b.org:me/y.git');
    assert.equal(remoteUrl('[core]\n\tbare = false\n', 'origin'), null);
  });

  test('a clone is named by its origin, a folder inside it by origin and path, a plain folder by its name', () => {
    const work = tempDir('names');
    try {
      const clone = makeClone(join(work.dir, 'checkout'), 'git@github.com:acme/shop.git');
      assert.equal(defaultCodebaseName(clone), 'github.com/acme/shop');
      assert.equal(defaultCodebaseName(join(clone, 'src')), 'github.com/acme/shop/src');
      const plain = join(work.dir, 'notes');
      mkdirSync(plain);
      assert.equal(defaultCodebaseName(plain), 'notes');
      assert.equal(defaultCodebaseName(makeClone(join(work.dir, 'local'), null)), 'local');
      // a worktree's .git is a file pointing at a git directory whose commondir holds the config
      const wt = join(work.dir, 'wt');
      mkdirSync(wt);
      mkdirSync(join(clone, '.git', 'worktrees', 'wt'), { recursive: true });
      writeFileSync(join(clone, '.git', 'worktrees', 'wt', 'commondir'), '../..\n');
      writeFileSync(join(wt, '.git'), `gitdir: ${join(clone, '.git', 'worktrees', 'wt')}\n`);
      assert.equal(defaultCodebaseName(wt), 'github.com/acme/shop');
    } finally {
      work.cleanup();
    }
  });
});

for (const backend of BACKENDS) {
  describe(`named codebases on ${backend.name}`, () => {
    let target: DbTarget;
    let cleanupDb: () => Promise<void>;
    let model: string;
    const work = tempDir('codebases');
    const engines: Engine[] = [];
    const open = async (host: string) => {
      const e = await Engine.open({ db: target, model, host });
      engines.push(e);
      return e;
    };
    const closeAll = async () => {
      for (const e of engines.splice(0)) await e.close();
    };

    before(async () => {
      const made = await backend.create();
      target = made.target;
      cleanupDb = made.cleanup;
      model = await testModel(32);
    });
    after(async () => {
      await closeAll();
      await cleanupDb?.();
      work.cleanup();
    });

    test('two clones at different paths on two machines share one codebase and nothing is embedded again', async () => {
      const a = makeClone(join(work.dir, 'alice', 'shop'), 'git@github.com:acme/shop.git');
      const b = makeClone(join(work.dir, 'bob', 'src', 'shop-main'), 'https://github.com/acme/shop');
      const laptopA = await open('laptop-a');
      const first = await laptopA.index({ roots: [a] });
      assert.ok(first.embedded > 0);
      await closeAll();
      const laptopB = await open('laptop-b');
      const second = await laptopB.index({ roots: [b] });
      assert.equal(second.embedded, 0);
      assert.equal(second.changedFiles, 0);
      assert.equal(second.unchangedFiles, first.files);
      const status = await laptopB.status(null);
      const shop = status.filter((s) => s.name === 'github.com/acme/shop');
      assert.equal(shop.length, 1);
      assert.equal(shop[0]!.root, realpathSync(b), 'each machine sees its own folder');
      assert.equal(shop[0]!.chunks, first.chunks);
      const hits = await laptopB.search([b], 'cache', { mode: 'text', k: 5 });
      assert.ok(hits.length > 0, 'hits');
      assert.deepEqual([...new Set(hits.map((h) => `${h.codebase} ${h.root}`))], [`github.com/acme/shop ${realpathSync(b)}`]);
      // searching by name finds it too, with this machine's folder
      const byName = await laptopB.codebasesNamed(['github.com/acme/shop']);
      assert.equal(byName[0]!.root, realpathSync(b));
      await closeAll();
    });

    test('a moved folder keeps its codebase: nothing is embedded again', async () => {
      const from = makeClone(join(work.dir, 'moving'), null);
      const engine = await open('laptop-m');
      const first = await engine.index({ roots: [from], codebase: 'moving-project' });
      const to = join(work.dir, 'moved', 'moving');
      mkdirSync(join(work.dir, 'moved'));
      renameSync(from, to);
      // the name is remembered for the old folder, and the new one is named again
      const again = await engine.index({ roots: [to], codebase: 'moving-project' });
      assert.equal(again.embedded, 0);
      assert.equal(again.changedFiles, 0);
      assert.equal(again.chunks, first.chunks);
      assert.deepEqual(await engine.store.codebases.rootsHere((await engine.store.codebase(realpathSync(to)))!.id), [realpathSync(to)]);
      await closeAll();
    });

    test('two folders with one name on one machine are an error that says how to name them apart', async () => {
      const one = makeClone(join(work.dir, 'twice', 'one'), 'git@example.org:team/tool.git');
      const two = join(work.dir, 'twice', 'two');
      cpSync(one, two, { recursive: true });
      const engine = await open('laptop-t');
      await engine.index({ roots: [one] });
      await assert.rejects(engine.index({ roots: [two] }), (e: unknown) => {
        assert.ok(isSemcodeError(e, 'codebase_name_taken'), String(e));
        assert.match(e.message, /example\.org\/team\/tool/);
        assert.match(e.message, /--codebase NAME/);
        return true;
      });
      // in one request as well, before anything is written
      await assert.rejects(engine.search([one, two], 'parse', { mode: 'text' }), (e: unknown) => isSemcodeError(e, 'codebase_name_taken'));
      const named = await engine.index({ roots: [two], codebase: 'tool-experiment' });
      assert.ok(named.chunks > 0);
      const names = (await engine.status([one, two])).map((s) => s.name);
      assert.deepEqual(names, ['example.org/team/tool', 'tool-experiment']);
      await closeAll();
      // the name stays with the folder without repeating --codebase
      const later = await open('laptop-t');
      const plain = await later.index({ roots: [two] });
      assert.equal(plain.changedFiles, 0);
      assert.deepEqual(
        (await later.status([two])).map((s) => s.name),
        ['tool-experiment'],
      );
      await closeAll();
    });

    test('folders outside any repository with one folder name are told apart by their parents, not refused', async () => {
      const a = makeProject(join(work.dir, 'plain', 'a', 'lib'));
      const b = makeProject(join(work.dir, 'plain', 'b', 'lib'));
      const c = makeProject(join(work.dir, 'plain', 'c', 'lib'));
      const engine = await open('laptop-p');
      const both = await engine.index({ roots: [a, b] });
      assert.equal(both.roots.length, 2);
      assert.deepEqual(
        (await engine.status([a, b])).map((s) => s.name),
        ['lib', 'b/lib'],
      );
      await engine.index({ roots: [c] });
      assert.deepEqual(
        (await engine.status([c])).map((s) => s.name),
        ['c/lib'],
      );
      // the names stay with the folders
      assert.deepEqual(
        (await engine.status([b, a, c])).map((s) => s.name),
        ['b/lib', 'lib', 'c/lib'],
      );
      await closeAll();
    });

    test('an index from before named codebases is migrated in place: same codebase, nothing embedded again', async () => {
      const root = makeClone(join(work.dir, 'legacy', 'app'), 'git@github.com:acme/app.git');
      const engine = await Engine.open({ db: target, model });
      engines.push(engine);
      const first = await engine.index({ roots: [root] });
      const id = (await engine.store.codebase(realpathSync(root)))!.id;
      // The schema as release 4 left it: codebases keyed by the folder's real path, no names, no roots table.
      await revertToRelease5(engine.db);
      await engine.db.exec(`
        ALTER TABLE codebases ADD COLUMN root text UNIQUE;
        UPDATE codebases c SET root = r.path FROM codebase_roots r WHERE r.codebase_id = c.id;
        DELETE FROM codebases WHERE root IS NULL;
        ALTER TABLE codebases ALTER COLUMN root SET NOT NULL;
        DROP TABLE codebase_roots;
        ALTER TABLE codebases DROP COLUMN name;
        DELETE FROM schema_migrations WHERE version = 5;`);
      await closeAll();
      const reopened = await Engine.open({ db: target, model });
      engines.push(reopened);
      const cb = (await reopened.store.codebase(realpathSync(root)))!;
      assert.equal(cb.id, id);
      assert.equal(cb.name, 'github.com/acme/app');
      const again = await reopened.index({ roots: [root] });
      assert.equal(again.embedded, 0);
      assert.equal(again.changedFiles, 0);
      assert.equal(again.chunks, first.chunks);
      await closeAll();
    });

    test('an index from before permissions is migrated in place: its owner owns it, and its cached vectors stay', async () => {
      const root = makeClone(join(work.dir, 'pre-access', 'app'), 'git@github.com:acme/pre-access.git');
      const engine = await Engine.open({ db: target, model });
      engines.push(engine);
      const first = await engine.index({ roots: [root] });
      const count = async (e: Engine, sql: string) => Number((await e.db.query<{ n: number }>(sql)).rows[0]!.n);
      await revertToRelease5(engine.db);
      const cached = await count(engine, 'SELECT count(*)::int AS n FROM embedding_cache'); // one shared cache
      await closeAll();
      const reopened = await Engine.open({ db: target, model });
      engines.push(reopened);
      const cb = (await reopened.store.codebase(realpathSync(root)))!;
      const owner = await reopened.db.query<{ role: string; level: string; me: string }>(
        'SELECT role, level, current_user AS me FROM codebase_access WHERE codebase_id = $1',
        [cb.id],
      );
      assert.deepEqual(
        owner.rows.map((r) => [r.role === r.me, r.level]),
        [[true, 'owner']],
      );
      assert.equal(await count(reopened, `SELECT count(*)::int AS n FROM embedding_cache WHERE codebase_id = ${cb.id}`), cached);
      // A rebuild embeds nothing: every vector comes from the migrated cache.
      const again = await reopened.index({ roots: [root], rebuild: true });
      assert.equal(again.embedded, 0);
      assert.equal(again.chunks, first.chunks);
      await closeAll();
    });
  });
}
