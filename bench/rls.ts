/**
 * Team-mode search benchmark: what row-level security costs a member's search on a shared PostgreSQL server.
 *
 *   node --import tsx bench/rls.ts [--chunks 300000] [--codebases 20] [--readable 2] [--queries 200]
 *                                  [--warmup 20] [--recall 100] [--seed 1]
 *
 * The corpus is bench/search.ts's (the first N chunks of real code, embedded with the generated benchmark
 * model and cached under ~/.cache/semcode-bench/), spread over C codebases by whole files (file i goes to
 * codebase i mod C), loaded into a temporary database as the indexer writes it, each codebase with its own
 * partial HNSW index. A fresh login role joins the team (`team init`/`team add`), may read R of the
 * codebases, and has a (generous) per-role search limit, so every search it makes pays the charge too.
 *
 * Timed, interleaved per query (the order of the two alternating): Engine.searchCodebases over the R readable
 * codebases as that member (policies on, full-text candidates through the definer functions, the rate-limit
 * charge) and the same call as the schema's owner (exempt from the policies), in each mode. Goal: member /
 * owner ≤ 1.3 at p50 and p95. Recall@10 of the member's vector search (query vectors: bench/queries.txt
 * embedded, topped up with seeded random chunks of the readable codebases) against exact search over the
 * readable codebases, run as the member with index scans off. Goal ≥ 0.95.
 * Needs PostgreSQL + pgvector (SEMCODE_TEST_PG_URL or postgres://postgres@127.0.0.1:5432/postgres) as a role
 * that may create databases and roles; both are dropped at the end.
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { SEARCH_MODES, type SearchMode } from '../server/src/chunk';
import { openEmbedder } from '../server/src/embed/embedder';
import { Engine } from '../server/src/engine';
import { mulberry32 } from '../server/src/model/random';
import { Searcher } from '../server/src/search/search';
import { grant, teamAdd, teamInit } from '../server/src/store/access';
import type { Codebase } from '../server/src/store/codebases';
import { hnswIndexName, vectorLiteral } from '../server/src/store/indexStore';
import { setLimits } from '../server/src/store/limits';
import { openDb } from '../server/src/store/open';
import { adminUrl, createTestDatabase, urlAs } from '../test/helpers/pg';
import {
  type Corpus,
  type Dist,
  benchModel,
  buildCorpus,
  cleanUpAll,
  cleanUpOnSignals,
  codeVersion,
  dbSettings,
  dist,
  knnSql,
  load,
  loadAvg,
  log,
  ms,
  nproc,
  onCleanup,
  prefixCorpus,
  readQueries,
  secs,
  vectorOf,
} from './search';

const K = 10;
const GOALS = { ratio: 1.3, recall: 0.95 };

const { values } = parseArgs({
  options: {
    chunks: { type: 'string', default: '300000' },
    codebases: { type: 'string', default: '20' },
    readable: { type: 'string', default: '2' },
    queries: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '20' },
    recall: { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
  },
});
const int = (name: keyof typeof values, min: number): number => {
  const v = String(values[name]);
  const n = Number(v.replace(/_/g, '').replace(/k$/i, '000'));
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer >= ${min}, got ${v}`);
  return n;
};
const args = {
  chunks: int('chunks', 1),
  codebases: int('codebases', 1),
  readable: int('readable', 1),
  queries: int('queries', 1),
  warmup: int('warmup', 0),
  recall: int('recall', 1),
  seed: int('seed', 0),
};
if (args.readable > args.codebases) throw new Error('--readable must not exceed --codebases');

/** The corpus's files dealt out to `n` codebases (file i to codebase i mod n), each a Corpus of its own. */
function split(corpus: Corpus, n: number): Corpus[] {
  const picks: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < corpus.chunks.length; i++) picks[corpus.chunks[i]!.f % n]!.push(i);
  return picks.map((idx) => {
    const fileIndex = new Map<number, number>();
    const files: Corpus['files'] = [];
    const vectors = new Float32Array(idx.length * corpus.dim);
    const chunks = idx.map((i, j) => {
      const c = corpus.chunks[i]!;
      let f = fileIndex.get(c.f);
      if (f === undefined) {
        f = files.length;
        fileIndex.set(c.f, f);
        files.push(corpus.files[c.f]!);
      }
      vectors.set(vectorOf(corpus, i), j * corpus.dim);
      return { ...c, f };
    });
    return { files, chunks, vectors, dim: corpus.dim };
  });
}

/** Runs `sql` on the server as the administrator (roles are the cluster's, not the database's). */
async function asAdmin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl() });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

interface Recall {
  recall: number;
  idRecall: number;
  queries: number;
  usesIndex: boolean;
}

/** The member's vector search against exact search over the same codebases, both run as the member. */
async function measureRecall(member: Engine, readable: Codebase[], queryVectors: Float32Array[], parts: Corpus[]): Promise<Recall> {
  const vectors = queryVectors.slice(0, args.recall);
  const rand = mulberry32(args.seed);
  while (vectors.length < args.recall) {
    const part = parts[Math.floor(rand() * parts.length)]!;
    vectors.push(vectorOf(part, Math.floor(rand() * part.chunks.length)));
  }
  const plan = await member.session(async (s) => {
    const r = await s.query<Record<string, string>>(`EXPLAIN ${knnSql(readable[0]!)}`, [vectorLiteral(vectors[0]!)]);
    return r.rows.map((row) => Object.values(row)[0]).join('\n');
  });
  const usesIndex = plan.includes(hnswIndexName(readable[0]!.id));
  if (!usesIndex) log(`  WARNING: the member's vector query does not use ${hnswIndexName(readable[0]!.id)}:\n${plan}`);
  let hits = 0;
  let idHits = 0;
  for (const v of vectors) {
    const lit = vectorLiteral(v);
    const found = await member.session((s, _, via) =>
      new Searcher(s, null, { candidates: via }).searchPrepared(readable, { query: 'recall', k: K, mode: 'vector', vector: lit }, { k: K, mode: 'vector' }),
    );
    const exact = await member.session((s) =>
      s.transaction(async (tx) => {
        await tx.query('SET LOCAL enable_indexscan = off');
        const rows: { id: string; d: number }[] = [];
        for (const cb of readable) rows.push(...(await tx.query<{ id: string; d: number }>(knnSql(cb), [lit])).rows);
        return rows.sort((a, b) => a.d - b.d).slice(0, K);
      }),
    );
    const kth = Number(exact[exact.length - 1]?.d ?? Infinity);
    const exactIds = new Set(exact.map((r) => r.id));
    let h = 0;
    for (const r of found) {
      if (exactIds.has(r.id)) idHits++;
      if (1 - r.score <= kth + 1e-6) h++;
    }
    hits += Math.min(h, K);
  }
  return { recall: hits / (K * vectors.length), idRecall: idHits / (K * vectors.length), queries: vectors.length, usesIndex };
}

async function main(): Promise<void> {
  const machine = { nproc: nproc(), loadStart: loadAvg(), code: codeVersion() };
  log(`nproc ${machine.nproc}, load average ${machine.loadStart}; ${args.chunks} chunks over ${args.codebases} codebases, ${args.readable} readable`);
  const queries = readQueries();
  const model = await benchModel();
  const corpus = prefixCorpus(await buildCorpus(args.chunks, model), args.chunks);
  const parts = split(corpus, args.codebases);
  let queryVectors: Float32Array[];
  {
    const e = await openEmbedder({ model: model.dir });
    try {
      queryVectors = await e.embed(queries);
    } finally {
      await e.close();
    }
  }

  const tdb = await createTestDatabase('semcode_bench_rls');
  const dropDb = onCleanup(() => tdb.drop());
  const tag = `${process.pid}`;
  const member = `semcode_bench_member_${tag}`;
  const group = `semcode_bench_team_${tag}`;
  const dropRoles = onCleanup(async () => {
    await asAdmin(`DROP ROLE IF EXISTS ${member}`).catch(() => {});
    await asAdmin(`DROP ROLE IF EXISTS ${group}`).catch(() => {});
  });
  const owner = await Engine.open({ db: { url: tdb.url, pool: { statementTimeoutMs: 0 } }, model: model.dir, host: 'bench' });
  const closeOwner = onCleanup(() => owner.close());
  let memberEngine: Engine | null = null;
  try {
    log(`  ${await dbSettings(owner.db)}`);
    const names = parts.map((_, i) => `bench/cb${String(i).padStart(2, '0')}`);
    const t0 = performance.now();
    let hnswMs = 0;
    for (const [i, part] of parts.entries()) {
      const loaded = await load(owner, `/bench/rls/cb${i}`, part, model, names[i]);
      hnswMs += loaded.hnswMs;
      log(`  loaded ${names[i]}: ${part.chunks.length} chunks from ${part.files.length} files (HNSW ${secs(loaded.hnswMs)} s)`);
    }
    const loadMs = performance.now() - t0;

    // The member: a login role in the team that may read the first `readable` codebases.
    await asAdmin(`CREATE ROLE ${member} LOGIN`);
    const admin = await openDb({ url: tdb.url });
    try {
      await teamInit(admin, group);
      await teamAdd(admin, member, group);
      for (const name of names.slice(0, args.readable)) await grant(admin, name, member, 'read');
      await setLimits(admin, group, { searchesPerMinute: 1_000_000 });
    } finally {
      await admin.close();
    }
    memberEngine = await Engine.open({ db: { url: urlAs(tdb.url, member) }, model: model.dir, host: 'bench-member' });
    const m = memberEngine;
    const readableOwner = await owner.codebasesNamed(names.slice(0, args.readable));
    const readableMember = await m.codebasesNamed(names.slice(0, args.readable));
    const seen = (await m.session((_, c) => c.all())).length;
    if (seen !== args.readable) throw new Error(`the member sees ${seen} codebases, expected ${args.readable}`);

    const modes = [...SEARCH_MODES];
    const byMode = <T>(f: (mode: SearchMode) => T) => Object.fromEntries(modes.map((x) => [x, f(x)])) as Record<SearchMode, T>;
    const run = (e: Engine, cbs: Codebase[], q: string, mode: SearchMode) => e.searchCodebases(cbs, q, { mode, k: K });
    for (let i = 0; i < args.warmup; i++) {
      for (const mode of modes) {
        await run(owner, readableOwner, queries[i % queries.length]!, mode);
        await run(m, readableMember, queries[i % queries.length]!, mode);
      }
    }
    const samples = { owner: byMode(() => [] as number[]), member: byMode(() => [] as number[]) };
    let differing = 0;
    let tieOnly = 0;
    for (let i = 0; i < args.queries; i++) {
      const q = queries[i % queries.length]!;
      for (const mode of modes) {
        const order = i % 2 ? (['member', 'owner'] as const) : (['owner', 'member'] as const);
        const got: Record<string, string> = {};
        for (const who of order) {
          const t = performance.now();
          const hits = who === 'owner' ? await run(owner, readableOwner, q, mode) : await run(m, readableMember, q, mode);
          samples[who][mode].push(performance.now() - t);
          got[who] = hits.map((h) => `${h.score.toFixed(9)}:${h.id}`).join(',');
        }
        // Scores may differ in the last bits (float sums in another order), and then so may which of two
        // equal-scored chunks is 10th: only a different score list is a different result.
        const scores = (x: string) => x.replace(/:\d+/g, '');
        if (got.owner !== got.member) tieOnly++;
        if (scores(got.owner!) !== scores(got.member!)) {
          tieOnly--;
          differing++;
          if (process.env.SEMCODE_BENCH_DEBUG) log(`  differs: ${mode} ${q}\n    owner  ${got.owner}\n    member ${got.member}`);
        }
      }
    }
    log(
      `  timed ${args.queries} queries per mode and principal; results with other scores for the member than the owner: ${differing}; other chunks at equal scores: ${tieOnly}`,
    );
    const recall = await measureRecall(m, readableMember, queryVectors, parts.slice(0, args.readable));
    const d = { owner: byMode((x) => dist(samples.owner[x])), member: byMode((x) => dist(samples.member[x])) };
    print(d, recall, { ...machine, loadEnd: loadAvg(), loadMs, hnswMs, differing, tieOnly, readable: readableMember.map((c) => c.name) });
  } finally {
    await memberEngine?.close();
    await closeOwner();
    await dropDb();
    await dropRoles();
  }
}

function print(
  d: { owner: Record<SearchMode, Dist>; member: Record<SearchMode, Dist> },
  recall: Recall,
  info: {
    nproc: string;
    loadStart: string;
    loadEnd: string;
    code: string;
    loadMs: number;
    hnswMs: number;
    differing: number;
    tieOnly: number;
    readable: string[];
  },
): void {
  const mark = (ok: boolean) => (ok ? ' ' : '!');
  const out: string[] = [];
  out.push('');
  out.push(
    `== Semcode RLS benchmark: ${args.chunks} chunks over ${args.codebases} codebases; a member that may read ${args.readable} (${info.readable.join(', ')}) vs the schema's owner, same call; k=${K}; ${args.queries} timed runs per mode after ${args.warmup} warm-up`,
  );
  out.push(`   goals: member/owner <= ${GOALS.ratio} at p50 and p95; recall@10 >= ${GOALS.recall}   ('!' marks a missed goal)`);
  out.push(`   machine: nproc ${info.nproc}; load average at start ${info.loadStart}, at end ${info.loadEnd}; code: ${info.code}`);
  out.push(
    `   load: ${secs(info.loadMs)} s in all, of which HNSW builds ${secs(info.hnswMs)} s; member's results with other scores than the owner's: ${info.differing} (other chunks at equal scores: ${info.tieOnly})`,
  );
  out.push('');
  out.push(`   ${'mode'.padEnd(7)} ${'owner p50/p95 ms'.padStart(17)} ${'member p50/p95 ms'.padStart(18)} ${'ratio p50/p95'.padStart(15)}`);
  for (const mode of SEARCH_MODES) {
    const [o, mm] = [d.owner[mode], d.member[mode]];
    const [r50, r95] = [mm.p50 / o.p50, mm.p95 / o.p95];
    out.push(
      `   ${mode.padEnd(7)} ${`${ms(o.p50)}/${ms(o.p95)}`.padStart(17)} ${`${ms(mm.p50)}/${ms(mm.p95)}`.padStart(18)} ${`${r50.toFixed(2)}${mark(r50 <= GOALS.ratio)}/${r95.toFixed(2)}${mark(r95 <= GOALS.ratio)}`.padStart(15)}`,
    );
  }
  out.push('');
  out.push(
    `   recall@10 of the member's vector search vs exact search over its readable codebases: ${recall.recall.toFixed(4)}${mark(recall.recall >= GOALS.recall)} ` +
      `(tie-aware; plain id overlap ${recall.idRecall.toFixed(4)}) over ${recall.queries} query vectors; HNSW index used: ${recall.usesIndex ? 'yes' : 'NO'}`,
  );
  console.log(out.join('\n'));
}

cleanUpOnSignals();
main()
  .catch((e: unknown) => {
    console.error(`bench/rls: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  })
  .finally(cleanUpAll);
