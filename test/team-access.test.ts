// Team mode on a real PostgreSQL server with several real login roles: per-codebase levels (none, read,
// write, owner) enforced by row-level security, seen through the engine and through raw SQL as each role.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { Engine } from '../server/src/engine';
import { isSemcodeError } from '../server/src/errors';
import { accessList, grant, revoke, teamAdd, teamInit } from '../server/src/store/access';
import { hnswIndexName, hnswScope } from '../server/src/store/chunks';
import type { Queryable } from '../server/src/store/db';
import { openDb } from '../server/src/store/open';
import { queryBm25Vector } from '../server/src/text/bm25Vector';
import { createTestDatabase, dropRoles, urlAs } from './helpers/pg';
import { LspServer } from './helpers/lspServer';
import { makeProject, tempDir, testModel } from './helpers/workspace';
import { searchRequest } from '../server/src/protocol/lspExt';

const TABLES = ['codebases', 'codebase_roots', 'files', 'chunks', 'embedding_cache', 'term_stats', 'training_runs', 'codebase_access'];
const CODEBASE = 'acme/api';

describe('team mode: per-codebase levels enforced by the database, on postgres', () => {
  const work = tempDir('team-access');
  const tag = randomBytes(3).toString('hex');
  const role = (who: string) => `sc_${who}_${tag}`;
  const [alice, bob, carol, dan] = ['alice', 'bob', 'carol', 'dan'].map(role) as [string, string, string, string];
  const roots = Object.fromEntries([alice, bob, carol].map((r) => [r, makeProject(join(work.dir, r, 'api'))])) as Record<string, string>;
  let made: Awaited<ReturnType<typeof createTestDatabase>>;
  let model: string;
  const urlOf = (r: string) => urlAs(made.url, r);
  const clients = new Map<string, pg.Client>();
  const sql = async (r: string) => {
    let c = clients.get(r);
    if (!c) {
      c = new pg.Client({ connectionString: urlOf(r) });
      await c.connect();
      clients.set(r, c);
    }
    return c;
  };
  /** The store's Queryable over one role's raw connection. */
  const as = async (r: string): Promise<Queryable> => {
    const c = await sql(r);
    return {
      query: async <T>(text: string, params?: unknown[]) => {
        const res = await c.query(text, params);
        return { rows: res.rows as T[], affected: res.rowCount ?? 0 };
      },
    };
  };
  const rowsSeen = async (r: string) => {
    const c = await sql(r);
    const out: Record<string, number> = {};
    for (const t of TABLES) out[t] = Number((await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`)).rows[0]!.n);
    return out;
  };
  const engineAs = async (r: string) => {
    // each developer on a machine of its own (two clones of one codebase on one machine need two names)
    const e = await Engine.open({ db: { url: urlOf(r) }, model, host: `${r}-laptop` });
    await e.nameCodebases([{ root: roots[r] ?? roots[alice]!, name: CODEBASE }]);
    return e;
  };
  const denied = (want: RegExp) => (e: unknown) => isSemcodeError(e, 'permission_denied') && want.test(e.message);

  before(async () => {
    model = await testModel(16);
    made = await createTestDatabase('semcode_team');
    const admin = await openDb({ url: made.url }); // the schema's owner creates the schema
    await teamInit(admin);
    await teamInit(admin); // idempotent
    const a = await sql('postgres');
    for (const r of [alice, bob, carol, dan]) await a.query(`CREATE ROLE ${r} LOGIN`);
    for (const r of [alice, bob, carol]) await teamAdd(admin, r);
    await admin.close();
    const e = await engineAs(alice);
    await e.index({ roots: [roots[alice]!] });
    await e.close();
  });
  after(async () => {
    for (const c of clients.values()) await c.end().catch(() => {});
    await made?.drop();
    await dropRoles([alice, bob, carol, dan]);
    work.cleanup();
  });

  test('the creator owns the codebase; a member without a grant reads 0 rows from every table', async () => {
    assert.deepEqual(
      (await accessList(await as(alice))).map((r) => [r.codebase, r.role, r.level]),
      [[CODEBASE, alice, 'owner']],
    );
    const owner = await rowsSeen(alice);
    for (const t of ['codebases', 'files', 'chunks', 'embedding_cache', 'term_stats', 'codebase_access']) assert.ok(owner[t]! > 0, t);
    assert.deepEqual(Object.values(await rowsSeen(bob)), Array(TABLES.length).fill(0));
  });

  test('a role outside the team cannot read the tables at all', async () => {
    await assert.rejects((await sql(dan)).query('SELECT count(*) FROM chunks'), /permission denied/);
  });

  test('without a grant, search and index say the codebase is not the role’s to see', async () => {
    const e = await engineAs(bob);
    try {
      await assert.rejects(e.search([roots[bob]!], 'ring buffer', { k: 3 }), /not indexed|no access/);
      await assert.rejects(e.index({ roots: [roots[bob]!] }), denied(new RegExp(`role ${bob} has no access on ${CODEBASE}`)));
    } finally {
      await e.close();
    }
  });

  test('read: searches from its own clone, sees the rows, and may not index, write or grant', async () => {
    await grant(await as(alice), CODEBASE, bob, 'read');
    const e = await engineAs(bob);
    const aliceEngine = await engineAs(alice);
    try {
      for (const mode of ['hybrid', 'vector', 'text'] as const) {
        const hits = await e.search([roots[bob]!], 'ring buffer push', { k: 3, mode });
        assert.equal(hits.length, 3, mode);
      }
      // The reader's full-text candidates come through the definer functions, the owner's directly: same hits.
      for (const query of ['ring buffer push', 'user service', 'parse the configuration']) {
        for (const mode of ['hybrid', 'text'] as const) {
          const mine = await e.search([roots[bob]!], query, { k: 5, mode });
          const theirs = await aliceEngine.search([roots[alice]!], query, { k: 5, mode });
          assert.deepEqual(
            mine.map((h) => [h.path, h.startLine, h.score.toFixed(6)]),
            theirs.map((h) => [h.path, h.startLine, h.score.toFixed(6)]),
            `${mode}: ${query}`,
          );
        }
      }
      await assert.rejects(e.index({ roots: [roots[bob]!] }), denied(new RegExp(`role ${bob} has read on ${CODEBASE}; indexing needs write`)));
    } finally {
      await e.close();
      await aliceEngine.close();
    }
    const seen = await rowsSeen(bob);
    const owner = await rowsSeen(alice);
    for (const t of ['codebases', 'files', 'chunks', 'embedding_cache', 'term_stats']) assert.equal(seen[t], owner[t], t);
    const c = await sql(bob);
    assert.equal((await c.query('DELETE FROM chunks')).rowCount, 0, 'a reader deletes nothing');
    assert.equal((await c.query(`UPDATE codebases SET model_id = 'x'`)).rowCount, 0, 'a reader updates nothing');
    await assert.rejects(c.query(`INSERT INTO term_stats (codebase_id, lexeme, df) SELECT id, 'zz', 1 FROM codebases`), /row-level security/);
    await assert.rejects(grant(await as(bob), CODEBASE, carol, 'read'), denied(new RegExp(`role ${bob} has read on ${CODEBASE}; granting access needs owner`)));
  });

  test('in the language server, a reader’s folder is searched and not indexed, and the status says why', async () => {
    await grant(await as(alice), CODEBASE, bob, 'read');
    const settings = { model, databaseUrl: urlOf(bob) };
    const s = await LspServer.start({
      roots: [roots[bob]!],
      initializationOptions: settings,
      capabilities: { workspace: { configuration: true } },
      onConfiguration: (items) => items.map((i) => (i.section === 'semcode' ? settings : i.section === 'semcode.codebase' ? CODEBASE : null)),
    });
    try {
      const st = await s.ready();
      assert.match(st.message ?? '', new RegExp(`read-only: ${bob} has read on ${CODEBASE}`));
      assert.ok(!s.events.some((e) => e.kind === 'indexed'), 'no index run');
      const r = await s.conn.sendRequest(searchRequest, { query: 'ring buffer push', k: 3 });
      assert.equal(r.items.length, 3);
    } finally {
      await s.stop();
    }
  });

  test('in the language server, a role without a grant is told so and searches nothing; a writer’s folder is indexed', async () => {
    const start = () => {
      const settings = { model, databaseUrl: urlOf(bob) };
      return LspServer.start({
        roots: [roots[bob]!],
        initializationOptions: settings,
        capabilities: { workspace: { configuration: true } },
        onConfiguration: (items) => items.map((i) => (i.section === 'semcode' ? settings : i.section === 'semcode.codebase' ? CODEBASE : null)),
      });
    };
    await revoke(await as(alice), CODEBASE, bob);
    let s = await start();
    try {
      const st = await s.waitStatus((x) => x.quiescent && x.health === 'error');
      assert.match(st.message ?? '', new RegExp(`role ${bob} has no access on ${CODEBASE}`));
      await assert.rejects(s.conn.sendRequest(searchRequest, { query: 'ring buffer push', k: 3 }), /not indexed|no access/);
      assert.equal(s.child.exitCode, null, 'the server is still running');
    } finally {
      await s.stop();
    }
    await grant(await as(alice), CODEBASE, bob, 'write');
    appendFileSync(join(roots[bob]!, 'src', 'user-service.ts'), '\nexport function demoteUser(): void {}\n');
    s = await start();
    try {
      await s.ready();
      const run = await s.waitIndexed();
      assert.ok(
        run.changed.some((u) => u.endsWith('user-service.ts')),
        JSON.stringify(run.changed),
      );
      const r = await s.conn.sendRequest(searchRequest, { query: 'demote user', k: 3, mode: 'text' });
      assert.ok(
        r.items.some((h) => h.symbol === 'demoteUser'),
        JSON.stringify(r.items.map((h) => h.symbol)),
      );
    } finally {
      await s.stop();
      await grant(await as(alice), CODEBASE, bob, 'read');
    }
  });

  test('write: indexes a change from its own clone; owner: grants and revokes; a revocation holds at the next request', async () => {
    await grant(await as(alice), CODEBASE, bob, 'write');
    appendFileSync(join(roots[bob]!, 'src', 'user-service.ts'), '\nexport function promoteUser(): void {}\n');
    const e = await engineAs(bob);
    try {
      const s = await e.index({ roots: [roots[bob]!] });
      assert.equal(s.changedFiles, 1);
      await assert.rejects(grant(await as(bob), CODEBASE, carol, 'read'), denied(/granting access needs owner/));
      await grant(await as(alice), CODEBASE, carol, 'owner');
      await grant(await as(carol), CODEBASE, dan, 'read'); // an owner grants; dan still lacks the team's table rights
      assert.equal(await revoke(await as(carol), CODEBASE, bob), true);
      await assert.rejects(e.search([roots[bob]!], 'ring buffer', { k: 3 }), /not indexed|no access/);
    } finally {
      await e.close();
    }
    assert.deepEqual(Object.values(await rowsSeen(bob)), Array(TABLES.length).fill(0));
    assert.deepEqual(
      (await accessList(await as(carol), CODEBASE)).map((r) => [r.role, r.level]),
      [
        [alice, 'owner'],
        [carol, 'owner'],
        [dan, 'read'],
      ].sort((x, y) => (x[0]! < y[0]! ? -1 : 1)),
    );
  });

  test('two roles on one shared machine each map their own clone of the codebase, and neither sees nor removes the other’s', async () => {
    await grant(await as(alice), CODEBASE, bob, 'write');
    const onDevbox = async (r: string) => {
      const e = await Engine.open({ db: { url: urlOf(r) }, model, host: 'shared-devbox' });
      await e.nameCodebases([{ root: roots[r]!, name: CODEBASE }]);
      return e;
    };
    const [a, b] = [await onDevbox(alice), await onDevbox(bob)];
    try {
      await a.index({ roots: [roots[alice]!] });
      await b.index({ roots: [roots[bob]!] }); // once "two folders with one name" (codebase_name_taken)
      const hits = await b.search([roots[bob]!], 'ring buffer push', { k: 3 });
      assert.equal(hits[0]?.root, realpathSync(roots[bob]!));
      assert.equal((await a.search([roots[alice]!], 'ring buffer push', { k: 3 }))[0]?.root, realpathSync(roots[alice]!));
    } finally {
      await a.close();
      await b.close();
    }
    const mine = async (r: string) =>
      (await (await sql(r)).query<{ path: string }>(`SELECT path FROM codebase_roots WHERE host = 'shared-devbox'`)).rows.map((x) => x.path);
    assert.deepEqual(await mine(bob), [realpathSync(roots[bob]!)]);
    assert.equal((await (await sql(bob)).query(`DELETE FROM codebase_roots WHERE host = 'shared-devbox'`)).rowCount, 1, 'only its own');
    assert.deepEqual(await mine(alice), [realpathSync(roots[alice]!)]);
    await grant(await as(alice), CODEBASE, bob, 'read');
  });

  test('under the policies a reader’s vector search uses the HNSW index, and full-text candidates the GIN index', async () => {
    await grant(await as(alice), CODEBASE, bob, 'read');
    const c = await sql(bob);
    const cb = (await c.query<{ id: number; dim: number }>('SELECT id, dimension AS dim FROM codebases WHERE name = $1', [CODEBASE])).rows[0]!;
    const vec = `[${Array(cb.dim).fill(0.1).join(',')}]`;
    const plan = async (client: pg.Client, q: string) =>
      (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${q}`)).rows.map((r) => r['QUERY PLAN']).join('\n');
    await c.query('SET enable_seqscan = off'); // the table is small: ask whether the index can serve, as at scale
    const vector = await plan(
      c,
      `SELECT id FROM chunks c WHERE ${hnswScope(cb.id, cb.dim)} ORDER BY c.embedding::vector(${cb.dim}) <=> '${vec}'::vector(${cb.dim}) LIMIT 10`,
    );
    assert.match(vector, new RegExp(`Index Scan using ${hnswIndexName(cb.id)}`));
    // A reader's own full-text match cannot use the GIN index under the policies (@@ is not LEAKPROOF) ...
    assert.doesNotMatch(await plan(c, `SELECT id FROM chunks c WHERE c.codebase_id = ${cb.id} AND c.tsv @@ to_tsquery('simple', 'ring')`), /chunks_tsv/);
    // ... so candidates come from semcode_text_candidates, which runs its query as the schema's owner:
    const owner = await sql('postgres');
    await owner.query('SET enable_seqscan = off');
    assert.match(
      await plan(owner, `SELECT c.id FROM chunks c WHERE c.codebase_id = ${cb.id} AND c.tsv @@ to_tsquery('simple', 'ring')`),
      /Bitmap Index Scan on chunks_tsv/,
    );
    const viaFunction = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM semcode_text_candidates($1, 'ring', $2::sparsevec, 50, NULL, NULL)`, [
      cb.id,
      queryBm25Vector(['ring'], [1]),
    ]);
    assert.ok(Number(viaFunction.rows[0]!.n) > 0);
  });

  test('two roles indexing one codebase at once, from clones at different commits: no duplicate chunk, no half-indexed file', async () => {
    await grant(await as(alice), CODEBASE, bob, 'write');
    // Different content in the two clones: one file differs, one exists only in bob's.
    appendFileSync(join(roots[alice]!, 'src', 'cache.go'), '\nfunc aliceOnly() int { return 1 }\n');
    appendFileSync(join(roots[bob]!, 'src', 'cache.go'), '\nfunc bobOnly() int { return 2 }\n');
    writeFileSync(join(roots[bob]!, 'src', 'extra.py'), 'def bob_extra():\n    return 3\n');
    const [a, b] = [await engineAs(alice), await engineAs(bob)];
    try {
      const runs = await Promise.all([a.index({ roots: [roots[alice]!], waitForLease: true }), b.index({ roots: [roots[bob]!], waitForLease: true })]);
      assert.equal(runs.length, 2);
    } finally {
      await a.close();
      await b.close();
    }
    const c = await sql('postgres');
    const dup = await c.query(
      `SELECT ch.path, ch.start_line, count(*) AS n FROM chunks ch JOIN codebases cb ON cb.id = ch.codebase_id
        WHERE cb.name = $1 GROUP BY 1, 2 HAVING count(*) > 1`,
      [CODEBASE],
    );
    assert.deepEqual(dup.rows, []);
    // Each file's chunks are all from the one version its row records: the last completed write won whole.
    const go = await c.query<{ content: string }>(
      `SELECT string_agg(ch.content, '\n' ORDER BY ch.start_line) AS content FROM chunks ch JOIN codebases cb ON cb.id = ch.codebase_id
        WHERE cb.name = $1 AND ch.path = 'src/cache.go'`,
      [CODEBASE],
    );
    const text = go.rows[0]!.content;
    assert.ok(text.includes('aliceOnly') !== text.includes('bobOnly'), 'one version of cache.go, not a mix');
    await grant(await as(alice), CODEBASE, bob, 'read');
  });

  test('the CLI as each level (none, read, write, owner): search, status, index, train, grant, revoke, access', async () => {
    const cli = (...args: string[]) => {
      const r = spawnSync(process.execPath, [join(__dirname, '..', 'bin', 'semcode.js'), ...args, '--db', urlOf(bob), '--json'], { encoding: 'utf8' });
      const out = r.stdout.trim().split('\n').pop() ?? '';
      const error = r.status === 0 ? null : ((JSON.parse(out) as { error: { code: string; message: string } }).error ?? null);
      return { code: r.status, error, out };
    };
    const ops = {
      search: () => cli('search', 'ring buffer push', '--codebase', CODEBASE),
      status: () => cli('status', '--codebase', CODEBASE),
      index: () => cli('index', '--root', roots[bob]!, '--codebase', CODEBASE, '--model', model),
      train: () => cli('train', '--root', roots[bob]!, '--codebase', CODEBASE, '--epochs', '1'),
      grant: () => cli('grant', '--codebase', CODEBASE, '--role', carol, '--level', 'read'),
      revoke: () => cli('revoke', '--codebase', CODEBASE, '--role', carol),
      access: () => cli('access'),
    };
    type Op = keyof typeof ops;
    // What each level may do; a refusal is exit 2 naming the level needed (for none: the codebase is not there for it).
    const may: Record<string, Op[]> = {
      none: ['access'],
      read: ['search', 'status', 'access'],
      write: ['search', 'status', 'index', 'train', 'access'],
      owner: ['search', 'status', 'index', 'train', 'grant', 'revoke', 'access'],
    };
    const needs: Record<Op, string> = { search: 'read', status: 'read', index: 'write', train: 'write', grant: 'owner', revoke: 'owner', access: 'read' };
    try {
      for (const level of ['none', 'read', 'write', 'owner'] as const) {
        if (level === 'none') await revoke(await as(alice), CODEBASE, bob);
        else await grant(await as(alice), CODEBASE, bob, level);
        for (const op of Object.keys(ops) as Op[]) {
          const r = ops[op]();
          const what = `${level}: ${op} (${r.out.slice(0, 300)})`;
          if (may[level]!.includes(op)) {
            // train fine-tunes only the shipped kind of model, on enough documented functions: with this test's model it
            // refuses, past the permission check
            if (op === 'train' && r.code !== 0) assert.ok(['model_not_trainable', 'insufficient_training_data'].includes(r.error?.code ?? ''), what);
            else assert.equal(r.code, 0, what);
            continue;
          }
          assert.equal(r.code, 2, what);
          if (level === 'none') assert.match(r.error!.message, new RegExp(`no access|no codebase named ${CODEBASE}|is not indexed`), what);
          else assert.match(r.error!.message, new RegExp(`role ${bob} has ${level} on ${CODEBASE}; \\w+( \\w+)? needs ${needs[op]}`), what);
        }
        const seen = (JSON.parse(ops.access().out) as { access: { role: string; level: string }[] }).access;
        assert.equal(seen.find((a) => a.role === bob)?.level, level === 'none' ? undefined : level, `${level}: access lists bob's own level`);
      }
    } finally {
      await grant(await as(alice), CODEBASE, bob, 'read');
    }
  });

  test('the administration commands, as child processes: exit 0, 1 for usage, 2 with one line for a refusal', () => {
    const cli = (...args: string[]) => {
      const r = spawnSync(process.execPath, [join(__dirname, '..', 'bin', 'semcode.js'), ...args], { encoding: 'utf8' });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    assert.equal(cli('team', 'init', '--db', made.url).code, 0, 'init again changes nothing');
    const list = cli('access', '--db', urlOf(alice), '--codebase', CODEBASE, '--json');
    assert.equal(list.code, 0, list.stderr);
    const rows = (JSON.parse(list.stdout) as { access: { role: string; level: string }[] }).access;
    assert.deepEqual(rows.find((r) => r.role === alice)?.level, 'owner');
    const refused = cli('grant', '--db', urlOf(dan), '--codebase', CODEBASE, '--role', dan, '--level', 'owner');
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^semcode: .*permission denied/);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    const notOwner = cli('grant', '--db', urlOf(bob), '--codebase', CODEBASE, '--role', bob, '--level', 'owner');
    assert.equal(notOwner.code, 2);
    assert.match(notOwner.stderr, new RegExp(`role ${bob} has read on ${CODEBASE}; granting access needs owner`));
    const granted = cli('grant', '--db', urlOf(alice), '--codebase', CODEBASE, '--role', carol, '--level', 'write');
    assert.equal(granted.code, 0, granted.stderr);
    assert.match(granted.stdout, new RegExp(`${carol} has write on ${CODEBASE}`));
    assert.equal(cli('revoke', '--db', urlOf(alice), '--codebase', CODEBASE, '--role', carol).code, 0);
    for (const args of [
      ['grant', '--db', made.url, '--codebase', CODEBASE, '--role', carol],
      ['grant', '--db', made.url, '--codebase', CODEBASE, '--role', carol, '--level', 'admin'],
      ['grant', '--codebase', CODEBASE, '--role', carol, '--level', 'read'],
      ['team', 'promote', '--db', made.url],
      ['team', 'add', '--db', made.url],
      ['team', 'add', '--db', made.url, '--role', `sc_nobody_${tag}`],
      ['grant', '--db', urlOf(alice), '--codebase', CODEBASE, '--role', `sc_nobody_${tag}`, '--level', 'read'],
    ]) {
      assert.equal(cli(...args).code, 1, args.join(' '));
    }
  });
});
