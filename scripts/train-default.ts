/**
 * Trains Semcode's shipped default model (models/default/) on the mined corpus pairs.
 *
 *   node --import tsx scripts/train-default.ts [--cache DIR] [--pairs FILE] [--out models/default] [--dim 256]
 *        [--vocab 16000] [--dtype fp32|fp16] [--epochs N] [--seed 1] [--max-per-language N]
 *        [--eval-queries N] [--val-per-language N]
 *
 * Reads `${cache}/pairs.jsonl` (scripts/corpus/mine.ts: `{...pair, split}`, split by source). The TRAIN split
 * is balanced: each language keeps at most --max-per-language pairs (a seeded sample), after a validation
 * slice of --val-per-language pairs per language is set aside from it (progress MRR during training and the
 * tuning of the score-fusion weight; never the test split). The tokenizer vocabulary is learnt from the
 * balanced training texts only (queries + code as the engine embeds it: `path + "\n" + code`).
 *
 * Evaluation on the TEST split (sources never seen in training), per language: each query (at most
 * --eval-queries per language, a seeded sample) ranks against ALL test code chunks of its language. Systems:
 * the exported model (table as stored, dtype rounding included), BM25 (metrics.ts Bm25, code only, no path),
 * reciprocal rank fusion (k = 60) of the two full rankings, and score fusion cos + w · bm25 / max bm25 with w
 * tuned on the validation slice. Writes the model folder with a model card README.md. Deterministic for a seed.
 */
import { existsSync, readFileSync, statSync, readdirSync } from 'node:fs';
import { availableParallelism, homedir } from 'node:os';
import * as path from 'node:path';
import { exportModel, asExported, tableBytes, SHIPPED_MODEL_MAX_BYTES, type TableDtype } from '../server/src/model/export';
import { Bm25, mrrAt, recallAt } from '../server/src/train/metrics';
import { queryTerms } from '../server/src/text/terms';
import type { StaticModel } from '../server/src/model/staticModel';
import { CodeTokenizer } from '../server/src/model/tokenizer';
import { train, formatProgress, TRAIN_DEFAULTS, type TrainPair } from '../server/src/train/trainer';
import { eachArg } from './args';
import { byLanguage, readJsonl, shuffled } from './corpus/pairRows';
import type { Pair } from '../server/src/train/pair';

interface Args {
  cache: string;
  pairs: string | null;
  out: string;
  dim: number;
  vocab: number;
  dtype: TableDtype;
  epochs: number;
  seed: number;
  maxPerLanguage: number;
  evalQueries: number;
  valPerLanguage: number;
  lr: number | undefined;
  batch: number | undefined;
}

/** A mined pair as pairs.jsonl stores it, with the split it belongs to. */
type Row = Pair & { split: 'train' | 'test' };

function usage(msg: string): never {
  process.stderr.write(
    `train-default: ${msg}\nusage: train-default.ts [--cache DIR] [--pairs FILE] [--out DIR] [--dim N] [--vocab N] [--dtype fp32|fp16] ` +
      `[--epochs N] [--seed N] [--max-per-language N] [--eval-queries N] [--val-per-language N] [--lr X] [--batch N]\n`,
  );
  process.exit(1);
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    cache: process.env.SEMCODE_CORPUS_DIR || path.join(homedir(), '.cache', 'semcode-corpus'),
    pairs: null,
    out: 'models/default',
    dim: 256,
    vocab: 16000,
    dtype: 'fp32',
    epochs: TRAIN_DEFAULTS.epochs,
    seed: 1,
    maxPerLanguage: 25000,
    evalQueries: 1500,
    valPerLanguage: 500,
    lr: undefined,
    batch: undefined,
  };
  eachArg(argv, usage, (arg, { value, int }) => {
    if (arg === '--cache') a.cache = value();
    else if (arg === '--pairs') a.pairs = value();
    else if (arg === '--out') a.out = value();
    else if (arg === '--dim') a.dim = int();
    else if (arg === '--vocab') a.vocab = int();
    else if (arg === '--dtype') {
      const v = value();
      if (v !== 'fp32' && v !== 'fp16') usage('--dtype must be fp32 or fp16');
      a.dtype = v;
    } else if (arg === '--epochs') a.epochs = int();
    else if (arg === '--seed') a.seed = int();
    else if (arg === '--max-per-language') a.maxPerLanguage = int();
    else if (arg === '--eval-queries') a.evalQueries = int();
    else if (arg === '--val-per-language') a.valPerLanguage = int();
    else if (arg === '--lr') a.lr = Number(value());
    else if (arg === '--batch') a.batch = int();
    else usage(`unknown argument ${arg}`);
  });
  if (a.dim < 1 || a.vocab < 100 || a.epochs < 1) usage('--dim, --vocab and --epochs must be positive');
  return a;
}

const log = (msg: string) => process.stderr.write(`${msg}\n`);
const codeText = (p: { path: string; code: string }) => `${p.path}\n${p.code}`;

/** Every BM25 score of a query (0 for documents sharing no word), from the Bm25 instance's own index. */
function bm25Scores(bm: Bm25, query: string, out: Float64Array): void {
  out.fill(0);
  const inner = bm as unknown as { postings: Map<string, { docs: Int32Array; tfs: Float64Array }>; norm: Float64Array };
  for (const t of queryTerms(query)) {
    const p = inner.postings.get(t);
    if (!p) continue;
    const idf = bm.idf(t);
    for (let i = 0; i < p.docs.length; i++) {
      const d = p.docs[i]!;
      const tf = p.tfs[i]!;
      out[d] = out[d]! + (idf * tf * (bm.k1 + 1)) / (tf + inner.norm[d]!);
    }
  }
}

/** Rank (1-based) of `target` in `scores`, ties counted against it. */
function rankOf(scores: ArrayLike<number>, target: number): number {
  const self = scores[target]!;
  let r = 1;
  for (let j = 0; j < scores.length; j++) if (j !== target && scores[j]! >= self) r++;
  return r;
}

/** 1-based ranks of every document by descending score (ties: lower index first). */
function ranksOf(scores: Float64Array, order: Int32Array, ranks: Int32Array): void {
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((x, y) => scores[y]! - scores[x]! || x - y);
  for (let i = 0; i < order.length; i++) ranks[order[i]!] = i + 1;
}

interface LangEval {
  queries: number;
  candidates: number;
  model: number[];
  bm25: number[];
  rrf: number[];
  /** score fusion ranks, one list per weight */
  fused: Map<number, number[]>;
}

const FUSION_WEIGHTS = [0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3];

/**
 * Ranks of the right code for each query of `queries` (indices into `pool`), against every code of `pool`.
 */
function evaluateLanguage(model: StaticModel, tok: CodeTokenizer, pool: readonly Row[], queries: readonly number[], weights: readonly number[]): LangEval {
  const n = pool.length;
  const d = model.dim;
  const codes = new Float32Array(n * d);
  for (let i = 0; i < n; i++) model.embed(tok.encode(codeText(pool[i]!)), codes.subarray(i * d, (i + 1) * d));
  const bm = new Bm25(pool.map((p) => p.code));
  const cos = new Float64Array(n);
  const bms = new Float64Array(n);
  const fused = new Float64Array(n);
  const order = new Int32Array(n);
  const rm = new Int32Array(n);
  const rb = new Int32Array(n);
  const q = new Float32Array(d);
  const res: LangEval = { queries: queries.length, candidates: n, model: [], bm25: [], rrf: [], fused: new Map(weights.map((w) => [w, []])) };
  for (const qi of queries) {
    const p = pool[qi]!;
    model.embed(tok.encode(p.query), q);
    for (let j = 0; j < n; j++) {
      let s = 0;
      const o = j * d;
      for (let k = 0; k < d; k++) s += q[k]! * codes[o + k]!;
      cos[j] = s;
    }
    bm25Scores(bm, p.query, bms);
    res.model.push(rankOf(cos, qi));
    // BM25 ranks only documents sharing a word with the query: a right answer with score 0 is not found
    res.bm25.push(bms[qi]! > 0 ? rankOf(bms, qi) : Infinity);
    ranksOf(cos, order, rm);
    ranksOf(bms, order, rb);
    for (let j = 0; j < n; j++) fused[j] = 1 / (60 + rm[j]!) + (bms[j]! > 0 ? 1 / (60 + rb[j]!) : 0);
    res.rrf.push(rankOf(fused, qi));
    let max = 0;
    for (let j = 0; j < n; j++) if (bms[j]! > max) max = bms[j]!;
    const inv = max > 0 ? 1 / max : 0;
    for (const w of weights) {
      for (let j = 0; j < n; j++) fused[j] = cos[j]! + w * bms[j]! * inv;
      res.fused.get(w)!.push(rankOf(fused, qi));
    }
  }
  return res;
}

interface Metrics {
  mrr10: number;
  r1: number;
  r10: number;
}
const metrics = (ranks: number[]): Metrics => ({ mrr10: mrrAt(ranks, 10), r1: recallAt(ranks, 1), r10: recallAt(ranks, 10) });
const f3 = (x: number) => x.toFixed(3);

function humanBytes(n: number): string {
  return n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

function folderFiles(dir: string, rel = ''): Array<{ file: string; bytes: number }> {
  const out: Array<{ file: string; bytes: number }> = [];
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...folderFiles(dir, r));
    else out.push({ file: r, bytes: statSync(path.join(dir, r)).size });
  }
  return out;
}

interface SourceInfo {
  kind?: string;
  name?: string;
  version?: string;
  license?: string;
  languages?: string[];
  dir?: string;
}

function readSources(cache: string): SourceInfo[] {
  const file = path.join(cache, 'sources.json');
  if (!existsSync(file)) return [];
  const j = JSON.parse(readFileSync(file, 'utf8')) as SourceInfo[] | { sources: SourceInfo[] };
  return Array.isArray(j) ? j : j.sources;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const pairsFile = args.pairs ?? path.join(args.cache, 'pairs.jsonl');
  if (!existsSync(pairsFile)) usage(`${pairsFile} not found (run scripts/corpus/mine.ts first)`);
  const t0 = Date.now();
  const rows = await readJsonl<Row>(pairsFile);
  const trainRows = rows.filter((r) => r.split === 'train');
  const testRows = rows.filter((r) => r.split === 'test');
  log(`read ${rows.length} pairs (${trainRows.length} train, ${testRows.length} test) from ${pairsFile}`);

  // Balance: per language a validation slice, then at most maxPerLanguage training pairs (seeded samples).
  const trainByLang = byLanguage(trainRows);
  const testByLang = byLanguage(testRows);
  const used: Row[] = [];
  const val: Row[] = [];
  const counts = new Map<string, { trainAll: number; trainUsed: number; val: number; test: number; evalQueries: number }>();
  for (const [lang, list] of trainByLang) {
    const s = shuffled(list, args.seed * 7919 + lang.length * 31 + lang.charCodeAt(0));
    const v = Math.min(args.valPerLanguage, Math.floor(list.length * 0.1));
    val.push(...s.slice(0, v));
    const t = s.slice(v, v + args.maxPerLanguage);
    used.push(...t);
    counts.set(lang, { trainAll: list.length, trainUsed: t.length, val: v, test: testByLang.get(lang)?.length ?? 0, evalQueries: 0 });
  }
  for (const [lang, list] of testByLang) if (!counts.has(lang)) counts.set(lang, { trainAll: 0, trainUsed: 0, val: 0, test: list.length, evalQueries: 0 });
  for (const [lang, c] of counts) log(`  ${lang.padEnd(11)} train ${c.trainAll} → used ${c.trainUsed}, val ${c.val}, test ${c.test}`);

  // Tokenizer from the balanced training texts only.
  const tTok = Date.now();
  const tokenizer = CodeTokenizer.learn(
    (function* () {
      for (const p of used) {
        yield p.query;
        yield codeText(p);
      }
    })(),
    { maxSize: args.vocab },
  );
  log(`tokenizer: ${tokenizer.size} tokens in ${((Date.now() - tTok) / 1000).toFixed(1)} s`);

  const trainPairs: TrainPair[] = shuffled(used, args.seed).map((p) => ({ query: p.query, code: codeText(p) }));
  const valPairs: TrainPair[] = val.map((p) => ({ query: p.query, code: codeText(p) }));
  const tTrain = Date.now();
  const progress: string[] = [];
  const model = train({
    pairs: trainPairs,
    heldOut: valPairs,
    tokenizer,
    dim: args.dim,
    epochs: args.epochs,
    seed: args.seed,
    lr: args.lr,
    batchSize: args.batch,
    logEvery: 50,
    onProgress: (p) => {
      const line = formatProgress(p, args.epochs);
      if (p.kind !== 'steps') progress.push(line);
      log(`train: ${line}`);
    },
  });
  const trainMs = Date.now() - tTrain;
  log(`trained in ${(trainMs / 1000).toFixed(1)} s`);

  // Evaluate what the folder computes (table folded and rounded to the stored dtype).
  const exported = asExported(model, args.dtype);
  const tEval = Date.now();
  // fusion weight, tuned on the validation slice (train split, pairs not trained on), per language pooled
  const valByLang = byLanguage(val);
  const valFused = new Map<number, number[]>(FUSION_WEIGHTS.map((w) => [w, []]));
  for (const [, pool] of valByLang) {
    const e = evaluateLanguage(
      exported,
      tokenizer,
      pool,
      pool.map((_, i) => i),
      FUSION_WEIGHTS,
    );
    for (const w of FUSION_WEIGHTS) valFused.get(w)!.push(...e.fused.get(w)!);
  }
  let bestW = 0;
  let bestMrr = -1;
  for (const w of FUSION_WEIGHTS) {
    const m = mrrAt(valFused.get(w)!, 10);
    log(`  fusion w ${w}: validation MRR@10 ${f3(m)}`);
    if (m > bestMrr + 1e-12) {
      bestMrr = m;
      bestW = w;
    }
  }
  log(`fusion weight w = ${bestW} (validation MRR@10 ${f3(bestMrr)})`);

  const results = new Map<string, LangEval>();
  for (const [lang, pool] of testByLang) {
    const qs = shuffled(
      pool.map((_, i) => i),
      args.seed * 104729 + lang.length,
    )
      .slice(0, args.evalQueries)
      .sort((x, y) => x - y);
    const e = evaluateLanguage(exported, tokenizer, pool, qs, [bestW]);
    results.set(lang, e);
    counts.get(lang)!.evalQueries = qs.length;
    log(`  test ${lang}: ${qs.length} queries × ${pool.length} chunks: model MRR@10 ${f3(mrrAt(e.model))} bm25 ${f3(mrrAt(e.bm25))} rrf ${f3(mrrAt(e.rrf))}`);
  }
  const evalMs = Date.now() - tEval;

  const table: string[] = [];
  table.push(
    '| language | queries | chunks | model MRR@10 | R@1 | R@10 | BM25 MRR@10 | R@1 | R@10 | RRF MRR@10 | R@1 | R@10 | score fusion MRR@10 | R@1 | R@10 |',
  );
  table.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const pooled = { model: [] as number[], bm25: [] as number[], rrf: [] as number[], fused: [] as number[], q: 0, c: 0 };
  const rowOf = (name: string, q: number | string, c: number | string, m: number[], b: number[], r: number[], f: number[]) => {
    const cells = [m, b, r, f].flatMap((x) => {
      const v = metrics(x);
      return [f3(v.mrr10), f3(v.r1), f3(v.r10)];
    });
    return `| ${name} | ${q} | ${c} | ${cells.join(' | ')} |`;
  };
  for (const [lang, e] of results) {
    const f = e.fused.get(bestW)!;
    table.push(rowOf(lang, e.queries, e.candidates, e.model, e.bm25, e.rrf, f));
    pooled.model.push(...e.model);
    pooled.bm25.push(...e.bm25);
    pooled.rrf.push(...e.rrf);
    pooled.fused.push(...f);
    pooled.q += e.queries;
    pooled.c += e.candidates;
  }
  table.push(rowOf('**pooled**', pooled.q, pooled.c, pooled.model, pooled.bm25, pooled.rrf, pooled.fused));
  log(table.join('\n'));

  // Export, then the card (which lists the exported files' sizes).
  const out = path.resolve(args.out);
  const tableSize = tableBytes(model.vocabSize, model.dim, args.dtype);
  const meta = {
    trained_on: 'Semcode corpus (corpus/manifest.json), doc-comment → code pairs',
    seed: args.seed,
    vocab_size: tokenizer.size,
    dim: model.dim,
    epochs: args.epochs,
    max_per_language: args.maxPerLanguage,
    fusion_weight: bestW,
  };
  await exportModel(model, tokenizer, out, { dtype: args.dtype, meta, maxBytes: SHIPPED_MODEL_MAX_BYTES });
  const sources = readSources(args.cache);
  const pm = metrics(pooled.model);
  const pb = metrics(pooled.bm25);
  const card = (files: Array<{ file: string; bytes: number }>) => `# Semcode default model

A static code-search embedding model: one ${model.dim}-dimensional vector per token of a ${tokenizer.size}-token
code-aware WordPiece vocabulary, ${model.pooling} (log term frequency) pooling with IDF weights folded into the
rows, L2-normalised. No transformer layers: the ONNX graph is a table lookup, so embedding is very fast on CPU.
Written by \`node --import tsx scripts/train-default.ts ${process.argv.slice(2).join(' ')}\`.

## Data

(documentation → code) pairs mined by \`scripts/corpus/mine.ts\` from the sources below (\`corpus/SOURCES.md\`):
the query is the first sentence(s) of a function's doc comment, the code is the function's chunk (as the
indexer cuts it) without that comment. The split is by source package: every test pair comes from a package
that contributed nothing to training. Projects in \`corpus/eval-holdout.txt\` are excluded everywhere.

| language | train pairs (mined) | train pairs used | validation slice | test pairs | test queries evaluated |
| --- | ---: | ---: | ---: | ---: | ---: |
${[...counts.entries()].map(([l, c]) => `| ${l} | ${c.trainAll} | ${c.trainUsed} | ${c.val} | ${c.test} | ${c.evalQueries} |`).join('\n')}

Training pairs are balanced: each language keeps at most ${args.maxPerLanguage} (a seeded sample), so Java does
not dominate. The validation slice (train split, never trained on) only tracks progress and tunes the score-fusion
weight. Code is trained in the engine's model-input form, \`path + "\\n" + chunk text\`.

Sources (${sources.length}):

| source | version | license | languages |
| --- | --- | --- | --- |
${sources.map((s) => `| ${s.kind}: ${s.name} | ${s.version} | ${s.license} | ${(s.languages ?? []).join(', ')} |`).join('\n')}

## Model

- tokenizer: Semcode CodeTokenizer (camelCase/snake_case split, lowercased, WordPiece), vocabulary ${tokenizer.size}
  learnt from the balanced training texts only (queries + code), max length ${tokenizer.maxLength} tokens
- dimension ${model.dim}, table dtype ${args.dtype}: table ${tableSize} bytes (${humanBytes(tableSize)}; budget ${SHIPPED_MODEL_MAX_BYTES})
- training: symmetric InfoNCE with in-batch negatives, sparse Adagrad; ${args.epochs} epochs, batch ${args.batch ?? TRAIN_DEFAULTS.batchSize},
  lr ${args.lr ?? TRAIN_DEFAULTS.lr}, temperature ${TRAIN_DEFAULTS.temperature}, seed ${args.seed} (deterministic: same data + seed → same table)
- training time ${(trainMs / 1000).toFixed(0)} s on a machine with ${availableParallelism()} CPU cores (Node ${process.version}); evaluation ${(evalMs / 1000).toFixed(0)} s

Files:

| file | bytes |
| --- | ---: |
${files.map((f) => `| ${f.file} | ${f.bytes} (${humanBytes(f.bytes)}) |`).join('\n')}

Training log (validation slice MRR@10: ${valPairs.length} pairs ranked against each other, all languages mixed):

\`\`\`
${progress.join('\n')}
\`\`\`

## Held-out evaluation (test split)

Each test query ranks against **all test code chunks of its language** (at most ${args.evalQueries} queries per
language, a seeded sample; the candidates are every test chunk). Ties count against the right answer.
- model: cosine of the exported model's vectors (the table as stored in ${args.dtype}); code embedded as
  \`path + "\\n" + code\`, queries as typed.
- BM25: Okapi k1 1.2, b 0.75 (\`server/src/train/metrics.ts\` Bm25), identifiers split, no stopwords, code text only
  (no path); a right answer sharing no word with the query is not found.
- RRF: reciprocal rank fusion (k = 60) of the model's and BM25's full rankings.
- score fusion: cosine + w × BM25 / (the query's best BM25 score), w = ${bestW} tuned on the validation slice
  (grid ${FUSION_WEIGHTS.join(', ')}; validation MRR@10 ${f3(bestMrr)}), not on the test split.

${table.join('\n')}

Pooled: model MRR@10 ${f3(pm.mrr10)} vs BM25 ${f3(pb.mrr10)} — ${pm.mrr10 > pb.mrr10 ? 'the model alone beats BM25' : 'the model alone does NOT beat BM25'}.
`;
  // The card lists file sizes, its own included: write it twice so README.md's size is final.
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path.join(out, 'README.md'), card(folderFiles(out)));
  writeFileSync(path.join(out, 'README.md'), card(folderFiles(out)));
  writeFileSync(path.join(out, 'README.md'), card(folderFiles(out)));
  log(
    `wrote ${out} (${folderFiles(out)
      .map((f) => `${f.file} ${humanBytes(f.bytes)}`)
      .join(', ')}) in ${((Date.now() - t0) / 1000).toFixed(0)} s total`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`train-default: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(2);
});
