/**
 * Mines (documentation → code) pairs from the source corpus and writes the train/test split.
 *
 *   node --import tsx scripts/corpus/mine.ts [--cache DIR] [--out FILE] [--held-out 0.12] [--seed 1]
 *   node --import tsx scripts/corpus/mine.ts --roots DIR [DIR ...] [--subdir-sources] [--out FILE]
 *
 * Corpus mode reads `${cache}/sources.json` ([{id, kind, name, version, license, languages, dir}], cache =
 * --cache, else $SEMCODE_CORPUS_DIR, else ~/.cache/semcode-corpus) and walks every source with the indexer's
 * Walker and chunker, so pairs are cut exactly like indexed chunks. Files inside a vendored copy of an
 * evaluation hold-out project are dropped (and counted). Pairs are mined, deduplicated across the whole
 * corpus (vendored copies must not straddle the split), split by source with about --held-out of each
 * language's pairs held out, and written as JSONL `{...pair, split}` to --out (default
 * `${cache}/pairs.jsonl`). Counts per language × split go to stdout, progress to stderr.
 *
 * --roots mines arbitrary trees instead (development, or any local code): each root is one source, or with
 * --subdir-sources each top-level entry of a root is one (a stdlib's packages as separate sources, so the
 * split has something to split). Its default output is `${cache}/pairs.roots.jsonl`, never the corpus file.
 */
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { createChunker } from '../../server/src/index/chunker';
import { Walker } from '../../server/src/index/walker';
import { isVendoredHoldout } from '../../server/src/train/holdout';
import { eachArg } from '../args';
import { dedupePairs, minePairs, newMineStats, splitBySource, type Pair } from '../../server/src/train/pairs';

interface SourceEntry {
  /** absent in fetch.ts's output: the directory name then */
  id?: string;
  kind?: string;
  name?: string;
  version?: string;
  license?: string;
  languages?: string[];
  dir: string;
}

interface Args {
  cache: string;
  out: string | null;
  roots: string[];
  subdirSources: boolean;
  heldOut: number;
  seed: number;
}

function usage(msg: string): never {
  process.stderr.write(`mine: ${msg}\nusage: mine.ts [--cache DIR] [--out FILE] [--held-out SHARE] [--seed N] [--roots DIR... [--subdir-sources]]\n`);
  process.exit(1);
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    cache: process.env.SEMCODE_CORPUS_DIR || path.join(homedir(), '.cache', 'semcode-corpus'),
    out: null,
    roots: [],
    subdirSources: false,
    heldOut: 0.12,
    seed: 1,
  };
  eachArg(argv, usage, (arg, { value, values }) => {
    if (arg === '--cache') a.cache = value();
    else if (arg === '--out') a.out = value();
    else if (arg === '--held-out') a.heldOut = Number(value());
    else if (arg === '--seed') a.seed = Number(value());
    else if (arg === '--subdir-sources') a.subdirSources = true;
    else if (arg === '--roots') a.roots.push(...values('directory'));
    else usage(`unknown argument ${arg}`);
  });
  if (!(a.heldOut >= 0 && a.heldOut < 1)) usage('--held-out must be in [0, 1)');
  if (!Number.isInteger(a.seed)) usage('--seed must be an integer');
  return a;
}

/** Where a sources.json entry's files are: `dir` absolute, else relative to the cache, else sources/<id>. */
function sourceDir(cache: string, s: SourceEntry & { id: string }): string {
  if (path.isAbsolute(s.dir)) return s.dir;
  const rel = path.resolve(cache, s.dir);
  if (existsSync(rel)) return rel;
  return path.join(cache, 'sources', s.id);
}

function readSources(cache: string): (SourceEntry & { id: string })[] {
  const file = path.join(cache, 'sources.json');
  if (!existsSync(file)) usage(`${file} not found (fetch the corpus first, or mine local trees with --roots)`);
  // fetch.ts writes { manifest, sources: [...] } whose entries are named by their directory.
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as SourceEntry[] | { sources?: SourceEntry[] };
  const list = Array.isArray(parsed) ? parsed : parsed.sources;
  if (!Array.isArray(list)) throw new Error(`${file}: expected a list of sources`);
  return list
    .map((s) => ({ ...s, id: s.id ?? path.basename(s.dir) }))
    .sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const rootsMode = args.roots.length > 0;
  const out = args.out ?? path.join(args.cache, rootsMode ? 'pairs.roots.jsonl' : 'pairs.jsonl');
  const jobs: Array<{ id: string; dir: string }> = rootsMode
    ? args.roots.map((r) => ({ id: path.resolve(r), dir: path.resolve(r) }))
    : readSources(args.cache).map((s) => ({ id: s.id, dir: sourceDir(args.cache, s) }));

  const chunker = await createChunker();
  const stats = newMineStats();
  const all: Pair[] = [];
  let files = 0;
  let holdoutFiles = 0;
  const started = Date.now();
  for (const [n, job] of jobs.entries()) {
    if (!existsSync(job.dir)) {
      process.stderr.write(`mine: ${job.id}: ${job.dir} is missing, skipped\n`);
      continue;
    }
    const walker = new Walker();
    const before = all.length;
    for await (const f of walker.walk(job.dir)) {
      // a copy of an evaluation project inside some other package must never reach training data
      if (isVendoredHoldout(f.relPath)) {
        holdoutFiles++;
        continue;
      }
      files++;
      const source = args.subdirSources ? `${job.id}/${f.relPath.split('/')[0]!.replace(/\.[^.]*$/, '')}` : job.id;
      let chunks;
      try {
        chunks = chunker.chunk(f.relPath, f.text);
      } catch (e) {
        process.stderr.write(`mine: ${job.id}/${f.relPath}: ${e instanceof Error ? e.message : String(e)}\n`);
        continue;
      }
      for (const p of minePairs(chunks, source, stats)) all.push(p);
    }
    process.stderr.write(`mine: [${n + 1}/${jobs.length}] ${job.id}: ${walker.stats.files} files, ${all.length - before} pairs\n`);
  }

  const unique = dedupePairs(all);
  const { train, test } = splitBySource(unique, args.heldOut, args.seed);
  mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  const w = createWriteStream(out);
  const write = async (p: Pair, split: 'train' | 'test'): Promise<void> => {
    if (!w.write(`${JSON.stringify({ ...p, split })}\n`)) await once(w, 'drain');
  };
  // file order: the split, then source order as mined
  const testSet = new Set(test);
  for (const p of unique) await write(p, testSet.has(p) ? 'test' : 'train');
  w.end();
  await once(w, 'finish');

  const table = new Map<string, { mined: number; unique: number; train: number; test: number; trainSrc: Set<string>; testSrc: Set<string> }>();
  const row = (lang: string) => {
    let r = table.get(lang);
    if (!r) table.set(lang, (r = { mined: 0, unique: 0, train: 0, test: 0, trainSrc: new Set(), testSrc: new Set() }));
    return r;
  };
  for (const p of all) row(p.language).mined++;
  for (const p of unique) row(p.language).unique++;
  for (const p of train) {
    row(p.language).train++;
    row(p.language).trainSrc.add(p.source);
  }
  for (const p of test) {
    row(p.language).test++;
    row(p.language).testSrc.add(p.source);
  }
  const lines = [['language', 'mined', 'deduped', 'train', 'test', 'test %', 'train src', 'test src']];
  const langs = [...table.keys()].sort();
  for (const lang of langs) {
    const r = table.get(lang)!;
    const pct = r.unique ? ((100 * r.test) / r.unique).toFixed(1) : '-';
    lines.push([lang, r.mined, r.unique, r.train, r.test, pct, r.trainSrc.size, r.testSrc.size].map(String));
  }
  lines.push(['total', all.length, unique.length, train.length, test.length, unique.length ? ((100 * test.length) / unique.length).toFixed(1) : '-', '', ''].map(String));
  const widths = lines[0]!.map((_, c) => Math.max(...lines.map((l) => l[c]!.length)));
  for (const l of lines) process.stdout.write(`${l.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')}\n`);
  const skipped = Object.entries(stats.skipped)
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  process.stdout.write(
    `${files} files (${holdoutFiles} in vendored hold-out copies dropped), ${stats.functions} function/method chunks, ` +
      `${stats.pairs} pairs; skipped: ${skipped || 'none'}\nwrote ${out} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`mine: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(2);
});
