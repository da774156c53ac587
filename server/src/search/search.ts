import { type ChunkRef, SEARCH_MODES, type SearchMode, byScore } from '../chunk';
import { SemcodeError } from '../errors';
import { type CandidatePath, type ChunkFilter, type ScoredChunk, textSearch, vectorSearch } from '../store/chunkQueries';
import { vectorLiteral } from '../store/chunks';
import type { Queryable } from '../store/db';
import type { Codebase } from '../store/indexStore';
import { documentFrequencies } from '../store/termStats';
import { DEFAULT_FUSION, type FusionCandidate, type FusionWeights, fuseScores, nameMatch } from './fusion';
import { globToRegex } from './glob';
import { queryTerms, searchTerms, stem } from '../text/terms';

export interface SearchOptions {
  k?: number;
  mode?: SearchMode;
  /** path glob, e.g. `*.ts` or `src/**` */
  glob?: string;
  /** language id, e.g. `typescript` */
  language?: string;
}

/** A search result: the chunk, its row id, where it was found and how well it matched. */
export interface SearchHit extends ChunkRef {
  id: string;
  /** the codebase's name, and its folder on this machine (null when it has none here) */
  codebase: string;
  root: string | null;
  score: number;
  snippet: string;
}

/** Embeds the query text; the caller makes sure it is the model the codebase was indexed with. */
export type QueryEmbedder = (query: string) => Promise<ArrayLike<number>>;

/** Rows fetched from each list before fusing: deeper than k so a chunk both lists like can rise. */
const HYBRID_DEPTH = 50;
/** Query terms in more than this share of chunks don't generate candidates (they still score). */
const COMMON_TERM_SHARE = 0.05;
/**
 * Chunks a text query may rank by its BM25 vector, as a sum of document frequencies: the rarest terms
 * generate candidates until it is reached, so a vague query cannot scan the whole codebase. The others
 * still score every candidate. Each candidate costs about 2 µs (heap fetch and inner product): at 100k
 * chunks 8,000 made hybrid search 26 ms at p50 on PGlite, 4,000 makes it 20.
 */
const CANDIDATE_BUDGET = 4000;
/**
 * Query terms kept for BM25, those found in the codebase with the highest idf first: a pasted file of 16,000 distinct words failed on
 * pgvector's sparsevec limit, and past a few hundred terms the common ones add cost, not ranking.
 */
export const MAX_QUERY_TERMS = 256;

export interface SearcherOptions {
  /** hybrid search's weights (fusion.ts); DEFAULT_FUSION unless given */
  fusion?: Partial<FusionWeights>;
  /** how full-text candidates are found (chunkQueries.ts): 'definer' for a role the policies restrict */
  candidates?: CandidatePath;
}

/** A query checked and embedded: everything a search needs before it reads the database. */
export interface PreparedQuery {
  query: string;
  k: number;
  mode: SearchMode;
  /** pgvector literal of the query's embedding; null in text mode */
  vector: string | null;
}

/**
 * Checks a query and embeds it, with no database work: the engine does this before it takes a connection,
 * so a search never holds one while it waits for the model.
 */
export async function prepareQuery(query: string, opts: SearchOptions, embedQuery: QueryEmbedder | null): Promise<PreparedQuery> {
  const k = Math.max(1, Math.min(opts.k ?? 10, 1000));
  const mode = opts.mode ?? 'hybrid';
  if (!SEARCH_MODES.includes(mode)) throw new SemcodeError('usage', `unknown search mode ${String(mode)}: use ${SEARCH_MODES.join(', ')}`);
  // Nothing to match: without a word, every mode returned arbitrary chunks.
  if (!queryTerms(query).length) throw new SemcodeError('empty_query', 'the query has no words to search for');
  if (opts.glob) globToRegex(opts.glob); // an invalid glob is the caller's mistake, before any work
  let vector: string | null = null;
  if (mode !== 'text') {
    if (!embedQuery) throw new SemcodeError('usage', `search mode ${mode} needs a model`);
    vector = vectorLiteral(await embedQuery(query));
  }
  return { query, k, mode, vector };
}

export class Searcher {
  private readonly fusion: FusionWeights;
  private readonly candidates: CandidatePath;

  constructor(
    private readonly db: Queryable,
    private readonly embedQuery: QueryEmbedder | null,
    opts: SearcherOptions = {},
  ) {
    this.fusion = { ...DEFAULT_FUSION, ...opts.fusion };
    this.candidates = opts.candidates ?? 'direct';
  }

  /** Searches the codebases (all indexed with one model) and merges their results by score. */
  async search(codebases: Codebase[], query: string, opts: SearchOptions = {}): Promise<SearchHit[]> {
    return this.searchPrepared(codebases, await prepareQuery(query, opts, this.embedQuery), opts);
  }

  /** A search whose query is checked and embedded already (prepareQuery). */
  async searchPrepared(codebases: Codebase[], q: PreparedQuery, opts: SearchOptions = {}): Promise<SearchHit[]> {
    const hits: SearchHit[] = [];
    for (const cb of codebases) {
      for (const row of await this.searchOne(cb, q.query, q.vector, q.mode, q.k, opts)) hits.push(toHit(cb, row));
    }
    hits.sort(byScore);
    return hits.slice(0, q.k);
  }

  private async searchOne(cb: Codebase, query: string, vector: string | null, mode: SearchMode, k: number, opts: SearchOptions): Promise<ScoredChunk[]> {
    if (mode === 'vector') return this.vectorSearch(cb, vector!, k, opts);
    if (mode === 'text') return this.textSearch(cb, await this.bm25Terms(cb, query), k, opts);
    const cands = await this.fusionCandidates(cb, query, vector!, Math.max(HYBRID_DEPTH, k * 3), opts);
    const fused = fuseScores(cands, this.fusion);
    return cands
      .map(({ cos: _c, text: _t, name: _n, ...r }, i) => ({ ...r, score: fused[i]! }))
      .sort(byScore)
      .slice(0, k);
  }

  /**
   * What hybrid search fuses, for one codebase: the union of the top `depth` chunks by cosine and by BM25,
   * each with both scores (the vector query also scores its rows' BM25, the text query its rows' cosine, so
   * a chunk just below one list's cut does not count as scoring zero there) and its symbol-name match.
   * Public for tuning the fusion weights (scripts/eval-model.ts --tune), which must see exactly these.
   */
  async fusionCandidates(cb: Codebase, query: string, vector: string, depth: number, opts: SearchOptions = {}): Promise<Array<ScoredChunk & FusionCandidate>> {
    const bm = await this.bm25Terms(cb, query);
    const [v, t] = await Promise.all([this.vectorSearch(cb, vector, depth, opts, bm), this.textSearch(cb, bm, depth, opts, vector)]);
    const rows = new Map<string, ScoredChunk & FusionCandidate>();
    for (const r of [...v, ...t]) rows.set(r.id, { ...r, cos: Number(r.cos ?? 0), text: Number(r.text ?? 0), name: 0 });
    // The name match stems on its own: it gets the query's words, each with its term's idf.
    const idfOf = new Map(bm.terms.map((t, i) => [t, bm.idf[i]!]));
    const all = queryTerms(query);
    const words = (all.length > MAX_QUERY_TERMS ? all.filter((w) => idfOf.has(stem(w))) : all).map((word) => ({ word, idf: idfOf.get(stem(word)) ?? 0 }));
    for (const r of rows.values()) r.name = nameMatch(words, r.symbol);
    return [...rows.values()];
  }

  /** Nearest chunks by cosine; with `bm`, each row's BM25 score too (as `text`), for hybrid search. */
  private vectorSearch(cb: Codebase, vector: string, k: number, opts: SearchOptions, bm?: Bm25Terms): Promise<ScoredChunk[]> {
    return vectorSearch(this.db, cb, vector, k, chunkFilter(opts), bm);
  }

  /**
   * BM25 over chunks that match ANY of the query's rarer terms (candidateTerms), the best `k` scored exactly
   * (store/chunkQueries.ts); with `vector`, each row's cosine too, for hybrid search.
   */
  private textSearch(cb: Codebase, bm: Bm25Terms, k: number, opts: SearchOptions, vector?: string): Promise<ScoredChunk[]> {
    return textSearch(this.db, cb, bm, candidateTerms(bm), k, chunkFilter(opts), vector, this.candidates);
  }

  /** The query's words with their idf (document frequencies from term_stats) and the codebase's average length. */
  private async bm25Terms(cb: Codebase, query: string): Promise<Bm25Terms> {
    const terms = searchTerms(query);
    const df = await documentFrequencies(this.db, cb.id, terms);
    const n = Math.max(cb.nChunks, 1);
    const idfOf = (t: string) => {
      const d = Math.min(df.get(t) ?? 0, n);
      return Math.log(1 + (n - d + 0.5) / (d + 0.5));
    };
    const kept = mostInformative(terms, (t) => (df.has(t) ? idfOf(t) : -1), MAX_QUERY_TERMS);
    return { terms: kept, idf: kept.map(idfOf), df, n, avg: cb.avgTokens > 0 ? cb.avgTokens : 100 };
  }
}

/**
 * At most `max` terms, those of highest weight (ties: first in the query), in query order. The caller
 * weighs terms no chunk contains below all others: they cannot match, however rare they look.
 */
export function mostInformative(terms: string[], idf: (t: string) => number, max: number): string[] {
  if (terms.length <= max) return terms;
  const keep = new Set(
    terms
      .map((t, i) => ({ t, i, w: idf(t) }))
      .sort((a, b) => b.w - a.w || a.i - b.i)
      .slice(0, max)
      .map((x) => x.t),
  );
  return terms.filter((t) => keep.has(t));
}

/**
 * The query terms that find candidates: those in at most COMMON_TERM_SHARE of chunks (all terms when none
 * is), rarest first, while their document frequencies add up to CANDIDATE_BUDGET (always at least one).
 */
export function candidateTerms(bm: Pick<Bm25Terms, 'terms' | 'df' | 'n'>): string[] {
  const df = (t: string) => bm.df.get(t) ?? 0;
  const selective = bm.terms.filter((t) => df(t) <= Math.max(bm.n * COMMON_TERM_SHARE, 50));
  const pool = (selective.length ? selective : [...bm.terms]).sort((a, b) => df(a) - df(b));
  const out: string[] = [];
  let total = 0;
  for (const t of pool) {
    if (out.length && total + df(t) > CANDIDATE_BUDGET) break;
    out.push(t);
    total += df(t);
  }
  return out;
}

interface Bm25Terms {
  terms: string[];
  idf: number[];
  df: Map<string, number>;
  /** chunks in the codebase */
  n: number;
  /** their average length in words */
  avg: number;
}

/** The path-glob and language filters as the chunk queries take them. */
function chunkFilter(opts: SearchOptions): ChunkFilter {
  return {
    language: opts.language ? normalizeLanguage(opts.language) : undefined,
    pathRegex: opts.glob ? globToRegex(opts.glob) : undefined,
  };
}

const LANGUAGE_ALIASES: Record<string, string> = {
  ts: 'typescript',
  js: 'javascript',
  py: 'python',
  rs: 'rust',
  golang: 'go',
  'c++': 'cpp',
  cc: 'cpp',
};

export function normalizeLanguage(lang: string): string {
  const l = lang.trim().toLowerCase();
  return LANGUAGE_ALIASES[l] ?? l;
}

function toHit(cb: Codebase, r: ScoredChunk): SearchHit {
  return {
    id: r.id,
    codebase: cb.name,
    root: cb.root,
    path: r.path,
    startLine: r.startLine,
    endLine: r.endLine,
    symbol: r.symbol,
    kind: r.kind,
    language: r.language,
    score: r.score,
    snippet: snippetOf(r.content),
  };
}

/**
 * The first line that says something: skips blank lines, braces, bare comment markers like `/**`, and
 * decorators/annotations (`@property`, `@Override`), which say nothing about what the code does.
 */
export function snippetOf(content: string): string {
  for (const line of content.split(/\r\n|\n|\r/)) {
    const t = line
      .trim()
      .replace(/^(\/\*+|\*+|\/\/+|#+)\s*/, '')
      .replace(/\s*\*+\/$/, '');
    if (/^@[\w.]+(\(.*\))?$/.test(t)) continue;
    if (/[A-Za-z0-9]/.test(t)) return t.length > 160 ? `${t.slice(0, 157)}...` : t;
  }
  return content.trim().slice(0, 160);
}
