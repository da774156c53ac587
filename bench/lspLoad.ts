/**
 * Search latency through one language server under concurrent load on PostgreSQL with a bounded pool (the
 * figures test/lsp-load.test.ts leaves to a benchmark).
 *
 *   npm run build && node --import tsx bench/lspLoad.ts [--concurrency 50] [--pool 10] [--rounds 10] [--root DIR ...]
 *
 * The server (dist/server.js over stdio, the shipped model) indexes a copy of real code (default: this repo's
 * node_modules/vscode-languageserver/lib and node_modules/pg/lib) into a temporary database with
 * semcode.databasePoolSize = --pool. Then, interleaved per round: `concurrency` semcode/search requests
 * (hybrid, k 10, bench/queries.txt) sent one after another with one in flight (the baseline), and the same
 * number sent at once. Prints p50/p95/max per request for both, the ratio of the burst's p95 to the
 * baseline's p50 and p95, and how many failed; asserts nothing.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { searchRequest } from '../server/src/protocol/lspExt';
import { DEFAULT_MODEL, LspServer } from '../test/helpers/lspServer';
import { createTestDatabase } from '../test/helpers/pg';
import { codeVersion, dist, loadAvg, log, ms, nproc, readQueries } from './search';

const REPO = resolve(__dirname, '..');
const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '50' },
    pool: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '10' },
    root: { type: 'string', multiple: true },
  },
});
const concurrency = Number(values.concurrency);
const pool = Number(values.pool);
const rounds = Number(values.rounds);
for (const [k, v] of Object.entries({ concurrency, pool, rounds })) if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a whole number >= 1`);
const sources = (values.root ?? [join(REPO, 'node_modules/vscode-languageserver/lib'), join(REPO, 'node_modules/pg/lib')]).map((r) => resolve(r));

async function main(): Promise<void> {
  const loadStart = loadAvg();
  const queries = readQueries();
  const work = mkdtempSync(join(tmpdir(), 'semcode-bench-lspload-'));
  const made = await createTestDatabase('semcode_bench_lspload');
  let s: LspServer | undefined;
  try {
    const root = join(work, 'project');
    for (const src of sources) cpSync(src, join(root, basename(resolve(src, '..')), basename(src)), { recursive: true });
    const t0 = performance.now();
    s = await LspServer.start({ roots: [root], initializationOptions: { model: DEFAULT_MODEL, databaseUrl: made.url, databasePoolSize: pool } });
    await s.ready();
    const indexed = s.events.find((e) => e.kind === 'indexed');
    const run = indexed?.kind === 'indexed' ? indexed.indexed : null;
    log(
      `indexed ${sources.join(', ')} in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${run ? `${run.files} files, ${run.embedded + run.reused} chunks` : '?'}`,
    );
    const server = s;
    const search = async (i: number) => {
      const t = performance.now();
      const r = await server.conn.sendRequest(searchRequest, { query: queries[i % queries.length]!, k: 10 });
      if (!r.items.length) throw new Error(`no results for ${queries[i % queries.length]}`);
      return performance.now() - t;
    };
    for (let i = 0; i < 20; i++) await search(i); // warm-up: the model, the pool's connections, caches
    const alone: number[] = [];
    const burst: number[] = [];
    const failures: string[] = [];
    const burstWall: number[] = [];
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < concurrency; i++) alone.push(await search(round * concurrency + i));
      const t = performance.now();
      const settled = await Promise.allSettled(Array.from({ length: concurrency }, (_, i) => search(round * concurrency + i)));
      burstWall.push(performance.now() - t);
      for (const r of settled) {
        if (r.status === 'fulfilled') burst.push(r.value);
        else failures.push(String(r.reason));
      }
      log(`round ${round + 1}/${rounds}: ${concurrency} at once took ${ms(burstWall[burstWall.length - 1]!)} ms`);
    }
    const [a, b, w] = [dist(alone), dist(burst), dist(burstWall)];
    const out = [
      '',
      `== Semcode language-server load benchmark: ${concurrency} concurrent semcode/search (hybrid, k 10) on a pool of ${pool}, ${rounds} rounds, PostgreSQL, the shipped model`,
      `   machine: nproc ${nproc()}; load average at start ${loadStart}, at end ${loadAvg()}; code: ${codeVersion()}`,
      '',
      `   one in flight (baseline):   p50 ${ms(a.p50)} ms, p95 ${ms(a.p95)} ms, max ${ms(a.max)} ms (${a.n} requests)`,
      `   ${concurrency} at once, per request:   p50 ${ms(b.p50)} ms, p95 ${ms(b.p95)} ms, max ${ms(b.max)} ms (${b.n} answered, ${failures.length} failed)`,
      `   a whole burst:              p50 ${ms(w.p50)} ms, p95 ${ms(w.p95)} ms; throughput ${((concurrency / w.mean) * 1000).toFixed(0)} searches/s vs ${(1000 / a.mean).toFixed(0)} one at a time`,
      `   burst p95 / baseline p50: ${(b.p95 / a.p50).toFixed(1)}; burst p95 / baseline p95: ${(b.p95 / a.p95).toFixed(1)}` +
        ` (${concurrency} requests share 2 cores and ${pool} connections: a request waits for those ahead of it)`,
    ];
    if (failures.length) out.push(`   failures: ${[...new Set(failures)].slice(0, 3).join(' | ')}`);
    console.log(out.join('\n'));
  } finally {
    await s?.stop();
    await made.drop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench/lspLoad: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
