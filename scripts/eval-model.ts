/**
 * Held-out doc → code retrieval through the shipped CLI: the model (vector), Okapi BM25, the engine's hybrid
 * and the engine's text mode, measured in the same run on the same chunks.
 *
 *   npm run eval:model -- [--cache DIR] [--pairs FILE] [--split test|val] [--queries report|tune|all] [--sample N]
 *                         [--seed 1] [--model DIR] [--work DIR] [--keep] [--json FILE] [--tune]
 *
 * Data: `${cache}/pairs.jsonl` from scripts/corpus/mine.ts (split by package). `--split test` (default) takes
 * the held-out packages' pairs; `--split val` the validation slice of the train split exactly as
 * scripts/train-default.ts sets it aside (pairs never trained on, from packages that were), for comparison
 * only. A missing corpus is exit 2 with the commands that fetch it; nothing is ever substituted.
 *
 * Queries are split in two halves by file (a hash of package and path): `tune` chose the hybrid weights
 * (server/src/search/fusion.ts), `report` (the default) is what this prints; every chunk of the split stays
 * a candidate either way. `--tune` runs the weight grid on the tune half instead: the real Searcher's
 * candidates (Searcher.fusionCandidates, the engine's SQL) fused in memory for each pair of weights. The
 * validation slice is no tuning set for this: the model has seen its packages and scores MRR@10 0.84 there
 * against 0.46 on held-out ones, so it would undervalue the word signals.
 *
 * Method: each pair's code side (the function without its doc comment, as the miner produced it) becomes one
 * file, `<language>/<package>/<original path>` (`-2`, `-3`... before the extension when a package path
 * repeats), one root per language, so every query ranks against all chunks of its language, as in
 * train-default.ts. The chunker is run here on every file to check it yields one chunk equal to the code
 * (counts are printed; the exceptions, about 2%, are the first windows of functions over 120 lines, which
 * no longer parse as one function and are cut into blocks): every chunk of a file maps to its pair, and a
 * pair's rank is its first chunk's. Then `semcode index` indexes the roots into a fresh embedded database and
 * `semcode search --queries FILE --json -k 10` runs each mode, as child processes. BM25 is computed here
 * (server/src/train/metrics.ts Bm25: k1 1.2, b 0.75, identifiers split and lowercased, no stopwords) over the
 * same chunk texts, no path. --sample N evaluates N seeded queries per language (all chunks stay candidates);
 * --model DIR evaluates another model folder the same way.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import * as path from 'node:path';
import { Engine } from '../server/src/engine';
import { createChunker } from '../server/src/index/chunker';
import { DEFAULT_FUSION, type FusionCandidate, fuseScores } from '../server/src/search/fusion';
import { Searcher } from '../server/src/search/search';
import type { ScoredChunk } from '../server/src/store/chunkQueries';
import { vectorLiteral } from '../server/src/store/indexStore';
import { Bm25, mrrAt, pairedBootstrap, recallAt } from '../server/src/train/metrics';
import { eachArg } from './args';
import { byLanguage, readJsonl, shuffled } from './corpus/pairRows';
import type { Pair } from '../server/src/train/pair';

const REPO = path.resolve(__dirname, '..');
const CLI = path.join(REPO, 'bin', 'semcode.js');
const K = 10;
/** The issue's goals, in MRR@10 over BM25 on the same queries. */
const GOAL_MODEL_OVER_BM25 = 0.08;
const GOAL_HYBRID_OVER_BM25 = 0.19;
/** train-default.ts's validation slice: at most this many pairs per language, and at most 10% of them. */
const VAL_PER_LANGUAGE = 500;

type Half = 'report' | 'tune' | 'all';

interface Args {
  cache: string;
  pairs: string | null;
  split: 'test' | 'val';
  queries: Half | null;
  tune: boolean;
  sample: number;
  seed: number;
  model: string | null;
  work: string | null;
  keep: boolean;
  json: string | null;
}

/** A mined pair as pairs.jsonl stores it, with the split it belongs to. */
type PairRow = Pair & { split: 'train' | 'test' };

const log = (msg: string) => process.stderr.write(`${msg}\n`);

function usage(msg: string): never {
  process.stderr.write(
    `eval-model: ${msg}\nusage: eval-model.ts [--cache DIR] [--pairs FILE] [--split test|val] [--queries report|tune|all] ` +
      `[--sample N] [--seed N] [--model DIR] [--work DIR] [--keep] [--json FILE] [--tune]\n`,
  );
  process.exit(1);
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    cache: process.env.SEMCODE_CORPUS_DIR || path.join(homedir(), '.cache', 'semcode-corpus'),
    pairs: null,
    split: 'test',
    queries: null,
    tune: false,
    sample: 0,
    seed: 1,
    model: null,
    work: null,
    keep: false,
    json: null,
  };
  eachArg(argv, usage, (arg, { value, int }) => {
    if (arg === '--cache') a.cache = value();
    else if (arg === '--pairs') a.pairs = value();
    else if (arg === '--split') {
      const v = value();
      if (v !== 'test' && v !== 'val') usage('--split is test or val');
      a.split = v;
    } else if (arg === '--queries') {
      const v = value();
      if (v !== 'report' && v !== 'tune' && v !== 'all') usage('--queries is report, tune or all');
      a.queries = v;
    } else if (arg === '--tune') a.tune = true;
    else if (arg === '--sample') a.sample = int();
    else if (arg === '--seed') a.seed = int();
    else if (arg === '--model') a.model = path.resolve(value());
    else if (arg === '--work') a.work = path.resolve(value());
    else if (arg === '--keep') a.keep = true;
    else if (arg === '--json') a.json = value();
    else usage(`unknown argument ${arg}`);
  });
  if (a.tune && a.queries && a.queries !== 'tune') usage('--tune tunes on the tune half only (--queries tune): the report half must stay unseen');
  a.queries ??= a.tune ? 'tune' : 'report';
  return a;
}

/** Which half a pair's query belongs to: a hash of its package and file, so one file's pairs stay together. */
function halfOf(p: { source: string; path: string }): 'tune' | 'report' {
  return createHash('sha1').update(`${p.source}\0${p.path}`).digest()[0]! & 1 ? 'report' : 'tune';
}

/** The pairs to evaluate, by language: the held-out packages, or train-default.ts's validation slice. */
function selectSplit(rows: PairRow[], split: 'test' | 'val', seed: number): Map<string, PairRow[]> {
  if (split === 'test') return byLanguage(rows.filter((r) => r.split === 'test'));
  const out = new Map<string, PairRow[]>();
  for (const [lang, list] of byLanguage(rows.filter((r) => r.split === 'train'))) {
    const s = shuffled(list, seed * 7919 + lang.length * 31 + lang.charCodeAt(0));
    out.set(lang, s.slice(0, Math.min(VAL_PER_LANGUAGE, Math.floor(list.length * 0.1))));
  }
  return out;
}

/** Package directory name: the manifest name (`zod`, `python3-numpy`) when sources.json has it. */
function packageNames(cache: string): Map<string, string> {
  const file = path.join(cache, 'sources.json');
  const names = new Map<string, string>();
  if (!existsSync(file)) return names;
  type Entry = { id?: string; dir: string; name?: string };
  const j = JSON.parse(readFileSync(file, 'utf8')) as Entry[] | { sources: Entry[] };
  for (const s of Array.isArray(j) ? j : j.sources) if (s.name) names.set(s.id ?? path.basename(s.dir), s.name);
  return names;
}

interface LangSet {
  language: string;
  root: string;
  pairs: PairRow[];
  /** relative file path → pair index */
  fileOf: Map<string, number>;
  /** chunk texts as the chunker cut them, and the pair each belongs to */
  chunks: string[];
  chunkPair: number[];
  /** indices of the pairs used as queries */
  queries: number[];
  exact: number;
  single: number;
  multi: number;
  none: number;
}

/** Writes one file per pair and checks what the chunker makes of it. */
async function materialize(language: string, pairs: PairRow[], root: string, names: Map<string, string>): Promise<LangSet> {
  const chunker = await createChunker();
  const set: LangSet = { language, root, pairs, fileOf: new Map(), chunks: [], chunkPair: [], queries: [], exact: 0, single: 0, multi: 0, none: 0 };
  pairs.forEach((p, i) => {
    const pkg = names.get(p.source) ?? p.source;
    const ext = path.posix.extname(p.path);
    const stem = p.path.slice(0, p.path.length - ext.length);
    let rel = `${pkg}/${p.path}`;
    for (let n = 2; set.fileOf.has(rel); n++) rel = `${pkg}/${stem}-${n}${ext}`;
    set.fileOf.set(rel, i);
    const abs = path.join(root, ...rel.split('/'));
    mkdirSync(path.dirname(abs), { recursive: true });
    const text = `${p.code}\n`;
    writeFileSync(abs, text);
    const chunks = chunker.chunk(rel, text);
    if (chunks.length === 0) set.none++;
    else if (chunks.length > 1) set.multi++;
    else if (chunks[0]!.content === p.code) set.exact++;
    else set.single++;
    for (const c of chunks) {
      set.chunks.push(c.content);
      set.chunkPair.push(i);
    }
  });
  return set;
}

function runCli(args: string[], label: string): string {
  const t = Date.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    log(r.stderr.trim().split('\n').slice(-5).join('\n'));
    throw new Error(`semcode ${label} failed (exit ${r.status})`);
  }
  log(`  semcode ${label}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  return r.stdout;
}

type Mode = 'vector' | 'hybrid' | 'text';
const MODES: Mode[] = ['vector', 'hybrid', 'text'];

interface JsonHit {
  path: string;
  startLine: number;
}

/** Ranks (1-based, Infinity beyond k) of each query's pair in the CLI's results. */
function cliRanks(set: LangSet, mode: Mode, dbDir: string, work: string): number[] {
  const qfile = path.join(work, `queries-${set.language}.txt`);
  writeFileSync(qfile, set.queries.map((i) => set.pairs[i]!.query).join('\n') + '\n');
  const out = runCli(
    ['search', '--queries', qfile, '--root', set.root, '--db-dir', dbDir, '--json', '-k', String(K), '--mode', mode],
    `search ${set.language} ${mode}`,
  );
  const lines = out.split('\n').filter(Boolean);
  if (lines.length !== set.queries.length) throw new Error(`search ${set.language} ${mode}: ${lines.length} result lines for ${set.queries.length} queries`);
  return lines.map((line, qi) => {
    const { query, results } = JSON.parse(line) as { query: string; results: JsonHit[] };
    const want = set.queries[qi]!;
    if (query !== set.pairs[want]!.query) throw new Error(`search ${set.language} ${mode}: result line ${qi + 1} is for another query`);
    const at = results.findIndex((h) => {
      const p = set.fileOf.get(h.path);
      if (p === undefined) throw new Error(`search returned ${h.path}, which is not an evaluation file`);
      return p === want;
    });
    return at >= 0 ? at + 1 : Infinity;
  });
}

/** BM25 ranks of each query's pair over the same chunk texts (code only, no path). */
function bm25Ranks(set: LangSet): number[] {
  const bm = new Bm25(set.chunks);
  return set.queries.map((qi) => {
    const top = bm.rank(set.pairs[qi]!.query, K);
    const at = top.findIndex((d) => set.chunkPair[d] === qi);
    return at >= 0 ? at + 1 : Infinity;
  });
}

const TEXT_WEIGHTS = [0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4];
const NAME_WEIGHTS = [0, 0.2, 0.4, 0.6, 0.8, 1];

/**
 * MRR@10 on the tune half for every pair of fusion weights: each query's hybrid candidates come once from
 * the real Searcher on the index `semcode index` built (hybrid's depth for k = 10), then are fused in memory
 * with fusion.ts's own function, so the grid ranks exactly what `semcode search --mode hybrid` would.
 */
async function tuneGrid(sets: LangSet[], dbDir: string): Promise<string[]> {
  const engine = await Engine.open({ db: { dir: dbDir } });
  const grid = new Map<string, number[]>();
  const key = (t: number, n: number) => `${t}/${n}`;
  try {
    const t0 = Date.now();
    let done = 0;
    const total = sets.reduce((n, s) => n + s.queries.length, 0);
    for (const set of sets) {
      const cbs = await engine.codebasesFor([set.root]);
      const embedder = await engine.embedderFor(cbs);
      const searcher = new Searcher(engine.db, null);
      for (const qi of set.queries) {
        const query = set.pairs[qi]!.query;
        const vector = vectorLiteral((await embedder.embed([query]))[0]!);
        const cands: Array<ScoredChunk & FusionCandidate> = await searcher.fusionCandidates(cbs[0]!, query, vector, 50);
        const mine = cands.map((c) => {
          const p = set.fileOf.get(c.path);
          if (p === undefined) throw new Error(`candidate ${c.path} is not an evaluation file`);
          return p === qi;
        });
        for (const tw of TEXT_WEIGHTS) {
          for (const nw of NAME_WEIGHTS) {
            const fused = fuseScores(cands, { text: tw, name: nw });
            const order = fused.map((_, i) => i).sort((a, b) => fused[b]! - fused[a]!);
            const at = order.slice(0, K).findIndex((i) => mine[i]);
            let list = grid.get(key(tw, nw));
            if (!list) grid.set(key(tw, nw), (list = []));
            list.push(at >= 0 ? at + 1 : Infinity);
          }
        }
        if (++done % 1000 === 0) log(`  tune: ${done}/${total} queries, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      }
    }
  } finally {
    await engine.close();
  }
  const out = [
    `Fusion weight grid, MRR@10 on the tune half (${[...grid.values()][0]!.length} queries); rows: text weight, columns: name weight.`,
    `| text \\ name | ${NAME_WEIGHTS.join(' | ')} |`,
    `| ---: | ${NAME_WEIGHTS.map(() => '---:').join(' | ')} |`,
  ];
  let best = { t: 0, n: 0, m: -1 };
  for (const tw of TEXT_WEIGHTS) {
    const row = NAME_WEIGHTS.map((nw) => {
      const m = mrrAt(grid.get(key(tw, nw))!, K);
      if (m > best.m + 1e-12) best = { t: tw, n: nw, m };
      return f3(m);
    });
    out.push(`| ${tw} | ${row.join(' | ')} |`);
  }
  const current = mrrAt(grid.get(key(DEFAULT_FUSION.text, DEFAULT_FUSION.name)) ?? [], K);
  out.push(
    `best: text ${best.t}, name ${best.n} (MRR@10 ${f3(best.m)}); the engine's DEFAULT_FUSION is text ${DEFAULT_FUSION.text}, ` +
      `name ${DEFAULT_FUSION.name} (${Number.isNaN(current) ? 'not on the grid' : f3(current)})`,
  );
  return out;
}

const f3 = (x: number) => x.toFixed(3);
const cells = (r: number[]) => [mrrAt(r, K), recallAt(r, 1), recallAt(r, K)].map(f3);
const rr = (r: number[]) => r.map((x) => (x <= K ? 1 / x : 0));

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const pairsFile = args.pairs ?? path.join(args.cache, 'pairs.jsonl');
  if (!existsSync(pairsFile)) {
    process.stderr.write(
      `eval-model: the corpus pairs are missing: ${pairsFile} not found.\n` +
        `Fetch the pinned corpus and mine its pairs first (about 700 MB from the npm registry and Debian):\n` +
        `  node --import tsx scripts/corpus/fetch.ts && node --import tsx scripts/corpus/mine.ts\n` +
        `(or point --cache / SEMCODE_CORPUS_DIR at an existing corpus cache).\n`,
    );
    process.exit(2);
  }
  if (!existsSync(path.join(REPO, 'dist', 'cli.js'))) usage('dist/cli.js is missing: run `npm run build` first (npm run eval:model does)');
  const t0 = Date.now();
  const rows = await readJsonl<PairRow>(pairsFile);
  const bySplit = selectSplit(rows, args.split, args.seed);
  const names = packageNames(args.cache);
  const work = args.work ?? mkdtempSync(path.join(tmpdir(), 'semcode-eval-'));
  mkdirSync(work, { recursive: true });
  const dbDir = path.join(work, 'db');
  if (existsSync(dbDir)) usage(`${dbDir} exists: give a fresh --work directory`);
  log(`eval-model: ${args.split} split of ${pairsFile} (${rows.length} pairs) in ${work}`);

  const sets: LangSet[] = [];
  for (const [lang, pairs] of bySplit) {
    const set = await materialize(lang, pairs, path.join(work, 'code', lang), names);
    const all = pairs.map((_, i) => i).filter((i) => args.queries === 'all' || halfOf(pairs[i]!) === args.queries);
    set.queries =
      args.sample > 0
        ? shuffled(all, args.seed * 104729 + lang.length)
            .slice(0, args.sample)
            .sort((x, y) => x - y)
        : all;
    sets.push(set);
    log(
      `  ${lang.padEnd(11)} ${pairs.length} files → ${set.chunks.length} chunks (one chunk equal to the code: ${set.exact}; ` +
        `one chunk differing: ${set.single}; several chunks: ${set.multi}; none: ${set.none}); ${set.queries.length} queries`,
    );
  }

  const modelArgs = args.model ? ['--model', args.model] : [];
  const indexOut = runCli(['index', ...sets.flatMap((s) => ['--root', s.root]), '--db-dir', dbDir, '--json', ...modelArgs], 'index');
  const summary = JSON.parse(indexOut) as { chunks: number; files: number; modelId: string; dimension: number; backend: string; seconds: number };
  const status = JSON.parse(runCli(['status', '--db-dir', dbDir, '--json'], 'status')) as {
    codebases: Array<{ root: string; chunks: number; files: number }>;
  };
  for (const s of sets) {
    const cb = status.codebases.find((c) => path.resolve(c.root) === path.resolve(s.root));
    if (!cb) throw new Error(`${s.root} missing from semcode status`);
    if (cb.chunks !== s.chunks.length || cb.files !== s.pairs.length) {
      throw new Error(`${s.language}: the index holds ${cb.files} files / ${cb.chunks} chunks, the chunker here made ${s.pairs.length} / ${s.chunks.length}`);
    }
  }
  log(
    `  index: ${summary.files} files, ${summary.chunks} chunks, model ${summary.modelId} (dim ${summary.dimension}, ${summary.backend}) in ${summary.seconds.toFixed(1)} s`,
  );

  if (args.tune) {
    process.stdout.write(`${(await tuneGrid(sets, dbDir)).join('\n')}\n`);
    if (!args.keep && !args.work) rmSync(work, { recursive: true, force: true });
    return;
  }

  const ranks = new Map<string, Record<Mode | 'bm25', number[]>>();
  for (const s of sets) {
    if (!s.queries.length) continue;
    const r = { bm25: bm25Ranks(s) } as Record<Mode | 'bm25', number[]>;
    for (const m of MODES) r[m] = cliRanks(s, m, dbDir, work);
    ranks.set(s.language, r);
  }

  const systems: Array<[string, Mode | 'bm25']> = [
    ['model (vector)', 'vector'],
    ['BM25 (Okapi)', 'bm25'],
    ['hybrid', 'hybrid'],
    ['engine text', 'text'],
  ];
  const pooled = { vector: [], bm25: [], hybrid: [], text: [] } as Record<Mode | 'bm25', number[]>;
  const table: string[] = [];
  table.push(`| language | queries | chunks | ${systems.map(([n]) => `${n} MRR@10 | R@1 | R@10`).join(' | ')} |`);
  table.push(`| --- | ---: | ---: | ${systems.map(() => '---: | ---: | ---:').join(' | ')} |`);
  let chunks = 0;
  let queries = 0;
  for (const s of sets) {
    const r = ranks.get(s.language);
    if (!r) continue;
    for (const [, key] of systems) pooled[key].push(...r[key]);
    chunks += s.chunks.length;
    queries += s.queries.length;
    table.push(`| ${s.language} | ${s.queries.length} | ${s.chunks.length} | ${systems.map(([, key]) => cells(r[key]).join(' | ')).join(' | ')} |`);
  }
  table.push(`| **pooled** | ${queries} | ${chunks} | ${systems.map(([, key]) => cells(pooled[key]).join(' | ')).join(' | ')} |`);
  // every language weighing the same, whatever its number of queries (Rust alone is about 40% of them)
  const langs = [...ranks.values()];
  const macro = (key: Mode | 'bm25') =>
    [mrrAt, (r: number[]) => recallAt(r, 1), (r: number[]) => recallAt(r, K)].map((f) => f3(langs.reduce((s, r) => s + f(r[key], K), 0) / langs.length));
  table.push(`| mean of languages | | | ${systems.map(([, key]) => macro(key).join(' | ')).join(' | ')} |`);

  const m = (r: number[]) => mrrAt(r, K);
  const bm = m(pooled.bm25);
  const worstLang = sets
    .filter((s) => ranks.has(s.language))
    .map((s) => ({ lang: s.language, d: m(ranks.get(s.language)!.hybrid) - m(ranks.get(s.language)!.bm25) }))
    .sort((x, y) => x.d - y.d)[0]!;
  const goals = [
    [
      `model ≥ BM25 + ${GOAL_MODEL_OVER_BM25} (pooled MRR@10)`,
      `${f3(m(pooled.vector))} vs ${f3(bm + GOAL_MODEL_OVER_BM25)}`,
      m(pooled.vector) >= bm + GOAL_MODEL_OVER_BM25,
    ],
    [
      `hybrid ≥ BM25 + ${GOAL_HYBRID_OVER_BM25} (pooled MRR@10)`,
      `${f3(m(pooled.hybrid))} vs ${f3(bm + GOAL_HYBRID_OVER_BM25)}`,
      m(pooled.hybrid) >= bm + GOAL_HYBRID_OVER_BM25,
    ],
    ['hybrid ≥ BM25 in every language', `smallest margin ${worstLang.d >= 0 ? '+' : ''}${f3(worstLang.d)} (${worstLang.lang})`, worstLang.d >= 0],
    ['hybrid ≥ model (pooled MRR@10)', `${f3(m(pooled.hybrid))} vs ${f3(m(pooled.vector))}`, m(pooled.hybrid) >= m(pooled.vector)],
  ] as const;
  const boot = (a: number[], b: number[]) => f3(pairedBootstrap(rr(a), rr(b), 2000, args.seed));

  const out = [
    `Held-out doc → code retrieval (${args.split} split${args.sample ? `, ${args.sample} sampled queries per language` : ''}): ` +
      `${queries} queries, ${chunks} chunks in ${sets.length} languages; model ${summary.modelId} (dim ${summary.dimension}).`,
    `Each query ranks against every chunk of its language. model, hybrid and engine text: \`semcode search --mode vector|hybrid|text\`;`,
    `BM25: Okapi k1 1.2, b 0.75 over the same chunk texts (identifiers split and lowercased, no stopwords, no path).`,
    '',
    ...table,
    '',
    ...goals.map(([name, detail, ok]) => `goal ${ok ? 'PASS' : 'FAIL'}: ${name}: ${detail}`),
    `paired bootstrap P(better), MRR@10: hybrid > BM25 ${boot(pooled.bm25, pooled.hybrid)}, hybrid > model ${boot(pooled.vector, pooled.hybrid)}, model > BM25 ${boot(pooled.bm25, pooled.vector)}`,
    `files cut into one chunk equal to the code: ${sets.reduce((n, s) => n + s.exact, 0)} of ${sets.reduce((n, s) => n + s.pairs.length, 0)}` +
      ` (one differing chunk ${sets.reduce((n, s) => n + s.single, 0)}, several chunks ${sets.reduce((n, s) => n + s.multi, 0)}, none ${sets.reduce((n, s) => n + s.none, 0)})`,
    `run time ${((Date.now() - t0) / 1000).toFixed(0)} s (index ${summary.seconds.toFixed(0)} s)`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  if (args.json) {
    const perLang = Object.fromEntries(
      sets
        .filter((s) => ranks.has(s.language))
        .map((s) => [
          s.language,
          Object.fromEntries(
            systems.map(([, key]) => [
              key,
              { mrr10: m(ranks.get(s.language)![key]), ranks: ranks.get(s.language)![key].map((x) => (Number.isFinite(x) ? x : null)) },
            ]),
          ),
        ]),
    );
    writeFileSync(args.json, JSON.stringify({ split: args.split, sample: args.sample, model: summary.modelId, perLang }, null, 1));
  }
  if (!args.keep && !args.work) rmSync(work, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  process.stderr.write(`eval-model: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(2);
});
