import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SEARCH_MODES, type SearchMode } from '../chunk';
import { SemcodeError, errorMessage } from '../errors';
import type { Backend } from '../embed/embedder';
import { recordedModelRef } from '../embed/modelResolve';
import { Engine, type EngineConfig } from '../engine';
import type { IndexSummary } from '../index/indexer';
import { rebuildCommand } from '../index/indexer';
import { distinctRoots } from '../index/roots';
import { type Codebase, codebaseLabel } from '../store/codebases';
import { isPostgresUrl } from '../store/open';
import { globToRegex } from '../search/glob';
import type { SearchHit } from '../search/search';
import { progressReporter } from './progress';
import { streamsCommand } from './streamCommands';
import { workerCommand } from './workerCommand';
import { teamCommand } from './teamCommands';

const USAGE = `usage:
  semcode index  --root DIR [--root DIR ...] [--codebase NAME] [--db URL | --db-dir DIR] [--model NAME_OR_PATH] [--rebuild] [--json]
  semcode search QUERY (--root DIR | --codebase NAME) [--db URL | --db-dir DIR] [--model NAME_OR_PATH] [-k N]
                 [--mode hybrid|vector|text] [--glob PATTERN] [--lang LANG] [--json]
  semcode search --queries FILE --root DIR ...      (one query per line, the model loaded once)
  semcode status [--root DIR | --codebase NAME] [--db URL | --db-dir DIR] [--model NAME_OR_PATH] [--json]
  semcode train  (--root DIR | --codebase NAME) [--db URL | --db-dir DIR] [--seed N] [--epochs N] [--json]
                 (fine-tunes the index's model on the codebase's documented functions; saves a new version
                 in \${XDG_STATE_HOME:-~/.local/state}/semcode/models only if held-out search improves)

team mode (a shared PostgreSQL database; each developer connects as their own role, in the URL):
  semcode team init   --db URL                 (the schema's owner, once: the group role members join)
  semcode team add    --db URL --role ROLE     (an existing login role joins; team remove takes it out)
  semcode grant       --db URL --codebase NAME --role ROLE --level read|write|owner   (an owner of the codebase)
  semcode revoke      --db URL --codebase NAME --role ROLE
  semcode access      --db URL [--codebase NAME] [--json]      (who has what, on the codebases you may see)
  semcode team limit  --db URL --role ROLE [--searches-per-minute N] [--index-runs-per-hour N] [--connections N]
                      (the team's admin; N or none; a limit on the group role semcode_team holds for every member)
  semcode team limits --db URL [--role ROLE] [--json]

the JetStream pipeline (NATS: --nats URL or SEMCODE_NATS_URL; --nats-creds FILE or SEMCODE_NATS_TOKEN):
  semcode index --nats URL --db postgres://... --root DIR    (jobs go to the workers; the run waits for them)
  semcode worker --nats URL --db postgres://... [--model NAME_OR_PATH] [--concurrency N] [--codebase NAME]
                 (until SIGTERM; with --codebase, refuses to start with a model other than its index's)
  semcode streams [--json]                       (streams: messages, bytes, sequences, consumers)
  semcode streams info NAME [--json]             (one stream and its consumers)
  semcode streams consumer STREAM NAME [--json]  (pending, ack pending, redelivered, waiting, last delivery and ack)
  semcode streams dead [--json]                  (jobs the workers gave up on, with their reasons)

common options:
  --codebase NAME    the codebase's name, the same on every machine (default: the repository's origin remote,
                     else the folder's name); with --root it names that folder, alone it selects the codebase
  --db URL           a PostgreSQL + pgvector server (postgres://...)
  --db-dir DIR       the embedded database directory (default \${XDG_CACHE_HOME:-~/.cache}/semcode)
  --model NAME       a model directory or hub id (default: SEMCODE_MODEL, else the model shipped with semcode)
  --backend B        cpu (default; Semcode's own static models then run as static-js, a JS table lookup) or wasm
  --max-file-size N  skip files larger than N bytes (default 1048576)
  --ignore PATTERN   extra gitignore-style pattern (repeatable)
  --follow-links     also follow symbolic links that lead outside the root (skipped by default)
exit status: 0 success, 1 usage error, 2 runtime error`;

const OPTIONS = {
  root: { type: 'string', multiple: true },
  codebase: { type: 'string' },
  db: { type: 'string' },
  'db-dir': { type: 'string' },
  model: { type: 'string' },
  backend: { type: 'string' },
  rebuild: { type: 'boolean' },
  json: { type: 'boolean' },
  k: { type: 'string', short: 'k' },
  mode: { type: 'string' },
  glob: { type: 'string' },
  lang: { type: 'string' },
  queries: { type: 'string' },
  'max-file-size': { type: 'string' },
  ignore: { type: 'string', multiple: true },
  'follow-links': { type: 'boolean' },
  seed: { type: 'string' },
  epochs: { type: 'string' },
  role: { type: 'string' },
  level: { type: 'string' },
  'searches-per-minute': { type: 'string' },
  'index-runs-per-hour': { type: 'string' },
  connections: { type: 'string' },
  nats: { type: 'string' },
  'nats-creds': { type: 'string' },
  concurrency: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }));
  } catch (e) {
    return usage(errorMessage(e));
  }
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 1;
  }
  let engine: Engine | null = null;
  try {
    const cfg = engineConfig(values, command === 'index');
    const run = async () => {
      engine = await Engine.open(cfg);
      return engine;
    };
    switch (command) {
      case 'index':
        return await indexCommand(values, rest, run);
      case 'search':
        return await searchCommand(values, rest, run);
      case 'status':
        return await statusCommand(values, rest, run);
      case 'train':
        return await trainCommand(values, rest, run);
      case 'streams':
        return await streamsCommand(rest, values, (m) => new UsageError(m));
      case 'worker': {
        if (rest.length) throw new UsageError(`worker takes no positional arguments: ${rest.join(' ')}`);
        if (!values.db) throw new UsageError('a worker needs --db postgres://... : the embedded database is one process’s alone, workers share a server');
        if (!cfg.nats) throw new UsageError('worker needs --nats nats://HOST:PORT (or SEMCODE_NATS_URL)');
        const concurrency = positiveInt('--concurrency', values.concurrency, 1);
        return await workerCommand(await run(), cfg.nats, concurrency, values.codebase);
      }
      case 'team':
      case 'grant':
      case 'revoke':
      case 'access':
        return await teamCommand(command, rest, values, (m) => new UsageError(m));
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (e) {
    const err = describeError(e);
    // Scripts read the code, not the prose: with --json the error is also one object on stdout.
    if (values.json) process.stdout.write(`${JSON.stringify({ error: err })}\n`);
    if (err.code === 'usage' || err.code === 'empty_query') return usage(err.message, !!values.json || err.code === 'empty_query');
    process.stderr.write(`semcode: ${err.message}\n`);
    return 2;
  } finally {
    await (engine as Engine | null)?.close().catch(() => {});
  }
}

function usage(message: string, brief = false): number {
  process.stderr.write(brief ? `semcode: ${message}\n` : `semcode: ${message}\n${USAGE}\n`);
  return 1;
}

/** The typed code and one line for any failure: a SemcodeError's own, `usage`, or `internal`. */
function describeError(e: unknown): { code: string; message: string } {
  if (e instanceof UsageError) return { code: 'usage', message: e.message };
  if (e instanceof SemcodeError) return { code: e.code, message: e.message };
  return { code: 'internal', message: `internal error: ${errorMessage(e)}` };
}

/** A path on one line: control characters (a newline in a file name) would break line-based output. */
function printable(path: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return /[\u0000-\u001f\u007f]/.test(path) ? JSON.stringify(path) : path;
}

/** Roots each once (by real path, none inside another), saying on stderr which were left out. */
async function uniqueRoots(v: Values): Promise<string[]> {
  const { roots, dropped } = await distinctRoots(requireRoots(v));
  for (const d of dropped) process.stderr.write(`semcode: note: ${d}\n`);
  return roots;
}

/** One warning per codebase whose last full index run did not finish: results may miss files. */
function warnIncomplete(codebases: Codebase[]): void {
  for (const c of codebases) {
    if (c.incomplete) {
      process.stderr.write(
        `semcode: warning: index incomplete for ${codebaseLabel(c)} (a run did not finish): run ${rebuildCommand(c).replace(/ --rebuild$/, '')}\n`,
      );
    }
  }
}

/** Only `index` creates an embedded database: elsewhere a mistyped --db-dir is "no index at …", not a new one. */
function engineConfig(v: Values, create: boolean): EngineConfig {
  if (v.db && v['db-dir']) throw new UsageError('--db and --db-dir are exclusive');
  if (v.db && !isPostgresUrl(v.db)) throw new UsageError(`--db takes a postgres:// URL (for a directory use --db-dir): ${v.db}`);
  if (v.backend && v.backend !== 'cpu' && v.backend !== 'wasm') throw new UsageError(`--backend is cpu or wasm, not ${v.backend}`);
  // SEMCODE_NATS_URL alone sends jobs to workers only with a shared database: the embedded one stays in-process.
  const natsUrl = v.nats ?? (v.db ? process.env.SEMCODE_NATS_URL : undefined);
  return {
    db: v.db ? { url: v.db } : { dir: v['db-dir'], create },
    model: v.model,
    backend: v.backend as Backend | undefined,
    nats: natsUrl ? { url: natsUrl, credsFile: v['nats-creds'], token: process.env.SEMCODE_NATS_TOKEN } : undefined,
  };
}

function requireRoots(v: Values): string[] {
  if (!v.root?.length) throw new UsageError(v.codebase === undefined ? '--root DIR is required' : '--root DIR is required here');
  return v.root;
}

/**
 * The folders a writing command (index, train) works on: --root, or the folder of --codebase NAME on this
 * machine. A name given with one root names that root's codebase.
 */
async function rootsToWrite(v: Values, engine: Engine): Promise<string[]> {
  if (v.root?.length) {
    const roots = await uniqueRoots(v);
    if (v.codebase !== undefined) {
      if (roots.length !== 1) throw new UsageError('--codebase names one root: index several roots one by one');
      await engine.nameCodebases([{ root: roots[0]!, name: v.codebase }]);
    }
    return roots;
  }
  if (v.codebase === undefined) throw new UsageError('--root DIR (or --codebase NAME) is required');
  const [cb] = await engine.codebasesNamed([v.codebase]);
  if (!cb!.root) throw new UsageError(`codebase ${cb!.name} has no folder on this machine: give --root DIR`);
  return [cb!.root];
}

/** The codebases a reading command (search, status) asks for: of --root (named by --codebase), or by name. */
async function codebasesToRead(v: Values, engine: Engine): Promise<Codebase[]> {
  if (!v.root?.length) return engine.codebasesNamed(v.codebase === undefined ? [] : [v.codebase]);
  return engine.codebasesFor(await rootsToWrite(v, engine));
}

function positiveInt(name: string, s: string | undefined, dflt: number): number {
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${name} takes a positive integer, not ${s}`);
  return n;
}

async function indexCommand(v: Values, rest: string[], open: () => Promise<Engine>): Promise<number> {
  if (rest.length) throw new UsageError(`index takes no positional arguments: ${rest.join(' ')}`);
  const maxFileSize = positiveInt('--max-file-size', v['max-file-size'], 1 << 20);
  if (!v.root?.length && v.codebase === undefined) requireRoots(v);
  if (v.nats && !v.db) throw new UsageError('--nats needs --db postgres://...: the workers write to a shared database, not the embedded one');
  const engine = await open();
  const roots = await rootsToWrite(v, engine);
  const bar = progressReporter();
  // Ctrl-C stops the run where it is (with NATS: its jobs no worker has started are withdrawn); a second one
  // ends the process at once.
  const cancel = new AbortController();
  const onInterrupt = () => {
    if (cancel.signal.aborted) process.exit(130);
    process.stderr.write('\nsemcode: cancelling (Ctrl-C again to quit at once)\n');
    cancel.abort();
  };
  process.on('SIGINT', onInterrupt);
  let summary: IndexSummary;
  try {
    summary = await engine.index({
      roots,
      rebuild: v.rebuild,
      walk: { maxFileSize, ignorePatterns: v.ignore, followExternalLinks: v['follow-links'] },
      onProgress: (p) => bar.update(p),
      signal: cancel.signal,
    });
  } catch (e) {
    if (!cancel.signal.aborted) throw e;
    bar.done();
    process.stderr.write('semcode: indexing cancelled; what was stored stays, and the next run goes on from there\n');
    return 130;
  } finally {
    process.off('SIGINT', onInterrupt);
    bar.done();
  }
  const embedder = engine.activeEmbedder;
  const out = { ...summary, backend: embedder?.backend, database: engine.db.kind, location: engine.db.location };
  if (v.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else {
    const skipped = Object.entries(summary.skipped)
      .filter(([, n]) => n > 0)
      .map(([r, n]) => `${r} ${n}`);
    process.stdout.write(
      `indexed ${summary.roots.join(', ')}\n` +
        `  files ${summary.files} (changed ${summary.changedFiles}, unchanged ${summary.unchangedFiles}, deleted ${summary.deletedFiles})\n` +
        `  chunks ${summary.chunks}: embedded ${summary.embedded}, reused ${summary.reused}\n` +
        `  skipped ${skipped.length ? skipped.join(', ') : 'none'}; ignored ${summary.ignored}\n` +
        `  model ${summary.modelId} (dim ${summary.dimension}, ${embedder?.backend}) in ${engine.db.kind} ${engine.db.location}\n` +
        `  ${summary.seconds.toFixed(1)} s${summary.hnswBuilt ? ' (HNSW index built)' : ''}\n`,
    );
  }
  return 0;
}

async function searchCommand(v: Values, rest: string[], open: () => Promise<Engine>): Promise<number> {
  let queries: string[];
  if (v.queries !== undefined) {
    if (rest.length) throw new UsageError('give either QUERY or --queries FILE, not both');
    let text: string;
    try {
      text = readFileSync(v.queries === '-' ? 0 : v.queries, 'utf8');
    } catch (e) {
      throw new SemcodeError('io_error', `cannot read queries from ${v.queries}: ${errorMessage(e)}`);
    }
    queries = text
      .split(/\r?\n/)
      .map((q) => q.trim())
      .filter(Boolean);
  } else {
    if (!rest.length) throw new UsageError('search needs a QUERY (or --queries FILE)');
    queries = [rest.join(' ')];
  }
  const k = positiveInt('-k', v.k, 10);
  const mode = (v.mode ?? 'hybrid') as SearchMode;
  if (!SEARCH_MODES.includes(mode)) throw new UsageError(`--mode is one of ${SEARCH_MODES.join(', ')}, not ${v.mode}`);
  if (v.glob !== undefined) globToRegex(v.glob); // an invalid glob is a usage error before anything opens
  if (!v.root?.length && v.codebase === undefined) throw new UsageError('--root DIR (or --codebase NAME) is required');
  const engine = await open();
  const codebases = await codebasesToRead(v, engine);
  warnIncomplete(codebases);
  const opts = { k, mode, glob: v.glob, language: v.lang };
  if (queries.length === 1) {
    const hits = await engine.searchCodebases(codebases, queries[0]!, opts);
    if (v.json) process.stdout.write(`${JSON.stringify({ query: queries[0], results: hits.map(jsonHit) })}\n`);
    else printHits(queries[0]!, hits, false);
    return 0;
  }
  // A batch answers every query: one that fails gets its own line with the error, and the exit status says
  // that something failed (2), after the rest are answered.
  let failed = 0;
  for (const query of queries) {
    try {
      const hits = await engine.searchCodebases(codebases, query, opts);
      if (v.json) process.stdout.write(`${JSON.stringify({ query, results: hits.map(jsonHit) })}\n`);
      else printHits(query, hits, true);
    } catch (e) {
      failed++;
      const error = describeError(e);
      if (v.json) process.stdout.write(`${JSON.stringify({ query, error })}\n`);
      else process.stdout.write(`# ${query}\nerror (${error.code}): ${error.message}\n`);
    }
  }
  if (failed) process.stderr.write(`semcode: ${failed} of ${queries.length} queries failed\n`);
  return failed ? 2 : 0;
}

function jsonHit(h: SearchHit) {
  return {
    path: h.path,
    startLine: h.startLine,
    endLine: h.endLine,
    score: Number(h.score.toFixed(6)),
    symbol: h.symbol,
    kind: h.kind,
    language: h.language,
    root: h.root,
    snippet: h.snippet,
  };
}

function printHits(query: string, hits: SearchHit[], header: boolean): void {
  const out: string[] = [];
  if (header) out.push(`# ${query}`);
  if (!hits.length) out.push('no results');
  hits.forEach((h, i) => {
    out.push(`${i + 1}. ${printable(h.path)}:${h.startLine}-${h.endLine}${h.symbol ? `  ${h.symbol}` : ''}  (${h.score.toFixed(3)})`);
    out.push(`     ${h.snippet}`);
  });
  process.stdout.write(`${out.join('\n')}\n`);
}

async function statusCommand(v: Values, rest: string[], open: () => Promise<Engine>): Promise<number> {
  if (rest.length) throw new UsageError(`status takes no positional arguments: ${rest.join(' ')}`);
  const engine = await open();
  const roots = v.root?.length ? await rootsToWrite(v, engine) : null;
  const codebases = await engine.status(roots, v.codebase === undefined ? [] : [v.codebase]);
  const { availableBackends } = await import('../embed/embedder');
  const backends = await availableBackends();
  const backend = v.backend ?? 'cpu';
  const first = codebases[0];
  // What computes the vectors, not just the choice: Semcode's static models run as static-js under cpu.
  const { vectorsComputedBy } = await import('../embed/embedWorker');
  const embedsWith = first?.modelId ? vectorsComputedBy(recordedModelRef(first.modelId), v.backend as Backend | undefined) : null;
  const out = {
    database: engine.db.kind,
    location: engine.db.location,
    model: first?.modelId ?? null,
    modelVersion: first?.modelVersion ?? null,
    dimension: first?.dimension ?? null,
    backend,
    embedsWith,
    backends,
    files: codebases.reduce((s, c) => s + c.files, 0),
    chunks: codebases.reduce((s, c) => s + c.chunks, 0),
    codebases,
  };
  if (v.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else {
    const lines = [
      `database ${out.database} ${out.location}`,
      `backend  ${backend}${embedsWith && embedsWith !== backend ? ` (vectors computed by ${embedsWith})` : ''}; ${Object.entries(backends)
        .map(([b, s]) => `${b}: ${s}`)
        .join(', ')}`,
    ];
    if (!codebases.length) lines.push('no codebases indexed');
    for (const c of codebases) {
      lines.push(
        `${c.name}  ${c.root ?? '(no folder on this machine)'}`,
        `  model ${c.modelVersion ? `${c.modelVersion} (fine-tuned) ` : ''}${c.modelId} (dim ${c.dimension}), files ${c.files}, chunks ${c.chunks}, hnsw ${c.hnsw ? 'built' : 'not built'}, indexed ${c.indexedAt ?? 'never'}`,
      );
      if (c.incomplete) lines.push(`  index incomplete: a run did not finish; run ${rebuildCommand(c, {}).replace(/ --rebuild$/, '')}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return 0;
}

function nonNegativeInt(name: string, s: string | undefined, dflt: number): number {
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${name} takes a non-negative integer, not ${s}`);
  return n;
}

async function trainCommand(v: Values, rest: string[], open: () => Promise<Engine>): Promise<number> {
  if (rest.length) throw new UsageError(`train takes no positional arguments: ${rest.join(' ')}`);
  if (!v.root?.length && v.codebase === undefined) requireRoots(v);
  if ((v.root?.length ?? 0) > 1 && (await distinctRoots(v.root!)).roots.length !== 1)
    throw new UsageError('train takes exactly one --root (each codebase gets its own model)');
  const { FINETUNE_DEFAULTS, finetune } = await import('../train/finetune');
  const seed = nonNegativeInt('--seed', v.seed, FINETUNE_DEFAULTS.seed);
  const epochs = positiveInt('--epochs', v.epochs, FINETUNE_DEFAULTS.epochs);
  const maxFileSize = positiveInt('--max-file-size', v['max-file-size'], 1 << 20);
  const engine = await open();
  const roots = await rootsToWrite(v, engine);
  await engine.checkAskedModel(await engine.codebasesFor(roots));
  const bar = progressReporter();
  let r: Awaited<ReturnType<typeof finetune>>;
  try {
    r = await finetune(engine, {
      root: roots[0]!,
      seed,
      epochs,
      walk: { maxFileSize, ignorePatterns: v.ignore, followExternalLinks: v['follow-links'] },
      onLog: (line) => process.stderr.write(`${line}\n`),
      onIndexProgress: (p) => bar.update(p),
    });
  } finally {
    bar.done();
  }
  if (v.json) {
    const { reindex, ...rest } = r;
    process.stdout.write(
      `${JSON.stringify({ ...rest, reindexed: reindex ? { chunks: reindex.chunks, embedded: reindex.embedded, seconds: reindex.seconds } : null })}\n`,
    );
    return 0;
  }
  const f = (x: number) => x.toFixed(4);
  process.stdout.write(
    `${r.outcome === 'saved' ? `saved ${r.version!.name}` : `kept ${r.baseModel}`} for ${r.root}\n` +
      `  pairs ${r.pairs.mined} (train ${r.pairs.train}, held out ${r.pairs.heldOut} by file), ranked against ${r.chunks} chunks\n` +
      `  held-out MRR@10 ${f(r.before.mrr10)} -> ${f(r.after.mrr10)} (recall@1 ${f(r.before.recall1)} -> ${f(r.after.recall1)}, ` +
      `recall@10 ${f(r.before.recall10)} -> ${f(r.after.recall10)}), bootstrap ${f(r.bootstrap)}\n` +
      `  ${r.reason}\n` +
      (r.version ? `  model folder ${r.version.dir}\n  re-embedded ${r.reindex!.chunks} chunks in ${r.reindex!.seconds.toFixed(1)} s\n` : '') +
      `  ${(r.durationMs / 1000).toFixed(1)} s (run ${r.runId})\n`,
  );
  return 0;
}
