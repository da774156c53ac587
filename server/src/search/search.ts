import { SemcodeError } from '../errors';
import type { Db } from '../store/db';
import { type Codebase, hnswScope, vectorLiteral } from '../store/indexStore';
import { DEFAULT_FUSION, type FusionCandidate, type FusionWeights, fuseScores, nameMatch } from './fusion';
import { BM25_B, BM25_K1, queryBm25Vector } from '../text/bm25Vector';
import { globToRegex } from './glob';
import { queryTerms, searchTerms, stem } from '../text/terms';
import type { ChunkRef } from './related';

export type SearchMode = 'hybrid' | 'vector' | 'text';
export const SEARCH_MODES: readonly SearchMode[] = ['hybrid', 'vector', 'text'];

export interface SearchOptions {
  k?: number;
  mode?: SearchMode;
  /** path glob, e.g. `*.ts` or `src/**` */
  glob?: string;
  /** language id, e.g. `typescript` */
  language?: string;
}

export interface SearchHit extends ChunkRef {
  root: string;
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

export interface Row {
  id: string;
  path: string;
  start_line: number;
  end_line: number;
  symbol: string | null;
  kind: string;
  language: string;
  content: string;
  score: number;
  /** hybrid search's two scores, when the query computed them */
  cos?: number | null;
  text?: number | null;
}

const ROW_COLUMNS = 'c.id::text AS id, c.path, c.start_line, c.end_line, c.symbol, c.kind, c.language, c.content';

export interface SearcherOptions {
  /** hybrid search's weights (fusion.ts); DEFAULT_FUSION unless given */
  fusion?: Partial<FusionWeights>;
}

export class Searcher {
  private readonly fusion: FusionWeights;

  constructor(
    private readonly db: Db,
    private readonly embedQuery: QueryEmbedder | null,
    opts: SearcherOptions = {},
  ) {
    this.fusion = { ...DEFAULT_FUSION, ...opts.fusion };
  }

  /** Searches the codebases (all indexed with one model) and merges their results by score. */
  async search(codebases: Codebase[], query: string, opts: SearchOptions = {}): Promise<SearchHit[]> {
    const k = Math.max(1, Math.min(opts.k ?? 10, 1000));
    const mode = opts.mode ?? 'hybrid';
    if (!SEARCH_MODES.includes(mode)) throw new SemcodeError('usage', `unknown search mode ${String(mode)}: use ${SEARCH_MODES.join(', ')}`);
    // Nothing to match: without a word, every mode returned arbitrary chunks.
    if (!queryTerms(query).length) throw new SemcodeError('empty_query', 'the query has no words to search for');
    if (opts.glob) globToRegex(opts.glob); // an invalid glob is the caller's mistake, before any work
    let vector: string | null = null;
    if (mode !== 'text') {
      if (!this.embedQuery) throw new SemcodeError('usage', `search mode ${mode} needs a model`);
      vector = vectorLiteral(await this.embedQuery(query));
    }
    const hits: SearchHit[] = [];
    for (const cb of codebases) {
      for (const row of await this.searchOne(cb, query, vector, mode, k, opts)) hits.push(toHit(cb.root, row));
    }
    hits.sort((a, b) => b.score - a.score);
    return hits.slice(0, k);
  }

  private async searchOne(cb: Codebase, query: string, vector: string | null, mode: SearchMode, k: number, opts: SearchOptions): Promise<Row[]> {
    if (mode === 'vector') return this.vectorSearch(cb, vector!, k, opts);
    if (mode === 'text') return this.textSearch(cb, await this.bm25Terms(cb, query), k, opts);
    const cands = await this.fusionCandidates(cb, query, vector!, Math.max(HYBRID_DEPTH, k * 3), opts);
    const fused = fuseScores(cands, this.fusion);
    return cands
      .map(({ cos: _c, text: _t, name: _n, ...r }, i) => ({ ...r, score: fused[i]! }))
      .sort((a, b) => b.score - a.score)
      .slice(0, k);
  }

  /**
   * What hybrid search fuses, for one codebase: the union of the top `depth` chunks by cosine and by BM25,
   * each with both scores (the vector query also scores its rows' BM25, the text query its rows' cosine, so
   * a chunk just below one list's cut does not count as scoring zero there) and its symbol-name match.
   * Public for tuning the fusion weights (scripts/eval-model.ts --tune), which must see exactly these.
   */
  async fusionCandidates(cb: Codebase, query: string, vector: string, depth: number, opts: SearchOptions = {}): Promise<Array<Row & FusionCandidate>> {
    const bm = await this.bm25Terms(cb, query);
    const [v, t] = await Promise.all([this.vectorSearch(cb, vector, depth, opts, bm), this.textSearch(cb, bm, depth, opts, vector)]);
    const rows = new Map<string, Row & FusionCandidate>();
    for (const r of [...v, ...t]) rows.set(r.id, { ...r, cos: Number(r.cos ?? 0), text: Number(r.text ?? 0), name: 0 });
    // The name match stems on its own: it gets the query's words, each with its term's idf.
    const idfOf = new Map(bm.terms.map((t, i) => [t, bm.idf[i]!]));
    const all = queryTerms(query);
    const words = (all.length > MAX_QUERY_TERMS ? all.filter((w) => idfOf.has(stem(w))) : all).map((word) => ({ word, idf: idfOf.get(stem(word)) ?? 0 }));
    for (const r of rows.values()) r.name = nameMatch(words, r.symbol);
    return [...rows.values()];
  }

  /** Nearest chunks by cosine; with `bm`, each row's BM25 score too (as `text`), for hybrid search. */
  private async vectorSearch(cb: Codebase, vector: string, k: number, opts: SearchOptions, bm?: Bm25Terms): Promise<Row[]> {
    if (!cb.dimension) return [];
    const filter = buildFilter(opts, bm ? 5 : 3);
    const dim = Math.trunc(cb.dimension);
    const id = Math.trunc(cb.id);
    const cos = `1 - (c.embedding::vector(${dim}) <=> $1::vector(${dim}))`;
    // Evaluated for the rows the index scan returns, not for the codebase.
    const text = bm
      ? `, (SELECT ${bm25Sum('c', bm.avg)}
              FROM unnest(ts_filter(setweight(c.tsv, 'A', $3::text[]), '{a}')) u
              JOIN unnest($3::text[], $4::float8[]) AS q(lexeme, idf) ON q.lexeme = u.lexeme) AS text`
      : '';
    // hnswScope: the partial HNSW index's own predicate, with literals.
    const r = await this.db.query<Row>(
      `SELECT ${ROW_COLUMNS}, ${cos} AS score, ${cos} AS cos${text}
         FROM chunks c
        WHERE ${hnswScope(id, dim)}${filter.sql}
        ORDER BY c.embedding::vector(${dim}) <=> $1::vector(${dim})
        LIMIT $2`,
      [vector, k, ...(bm ? [bm.terms, bm.idf] : []), ...filter.params],
    );
    // Iterative scans return rows in approximately relaxed order.
    return r.rows.map((x) => ({ ...x, score: Number(x.score) })).sort((a, b) => b.score - a.score);
  }

  /**
   * BM25 over chunks that match ANY of the query's rarer terms (an AND query matches almost nothing for
   * natural language). The GIN index finds the candidates, their stored BM25 vectors rank them (one inner
   * product each, in C), and the best `k` are scored exactly from their tsvectors with the codebase's current
   * average length (bm25Vector.ts says what the stored vectors approximate).
   */
  private async textSearch(cb: Codebase, bm: Bm25Terms, k: number, opts: SearchOptions, vector?: string): Promise<Row[]> {
    const { terms, idf, avg } = bm;
    const generating = candidateTerms(bm);
    if (!generating.length) return [];
    const withCos = vector !== undefined && !!cb.dimension;
    const filter = buildFilter(opts, withCos ? 7 : 6);
    const dim = Math.trunc(cb.dimension ?? 0);
    const cos = withCos ? `, 1 - (c.embedding::vector(${dim}) <=> $6::vector(${dim})) AS cos` : '';
    const id = Math.trunc(cb.id);
    const r = await this.db.query<Row>(
      `WITH q AS (SELECT * FROM unnest($1::text[], $2::float8[]) AS q(lexeme, idf)),
       cand AS (
         SELECT c.id FROM chunks c
          WHERE c.codebase_id = ${id} AND c.tsv @@ to_tsquery('simple', $3)${filter.sql}
          ORDER BY c.bm25 <#> $4::sparsevec
          LIMIT $5),
       scored AS (
         -- setweight + ts_filter cut each candidate's tsvector down to the query's lexemes in C, so only
         -- those few rows are unnested.
         SELECT c.id, ${bm25Sum('c', avg)} AS score
           FROM cand JOIN chunks c ON c.id = cand.id
           CROSS JOIN LATERAL unnest(ts_filter(setweight(c.tsv, 'A', $1::text[]), '{a}')) u
           JOIN q ON q.lexeme = u.lexeme
          GROUP BY c.id
          ORDER BY score DESC)
       SELECT ${ROW_COLUMNS}, scored.score, scored.score AS text${cos} FROM scored JOIN chunks c ON c.id = scored.id ORDER BY scored.score DESC`,
      [terms, idf, generating.join(' | '), queryBm25Vector(terms, idf), Math.trunc(k), ...(withCos ? [vector] : []), ...filter.params],
    );
    return r.rows.map((x) => ({ ...x, score: Number(x.score) }));
  }

  /** The query's words with their idf (document frequencies from term_stats) and the codebase's average length. */
  private async bm25Terms(cb: Codebase, query: string): Promise<Bm25Terms> {
    const terms = searchTerms(query);
    const stats = terms.length
      ? await this.db.query<{ lexeme: string; df: number }>(
          'SELECT lexeme, df FROM term_stats WHERE codebase_id = $1 AND lexeme = ANY($2::text[])',
          [Math.trunc(cb.id), terms],
        )
      : { rows: [] };
    const df = new Map(stats.rows.map((r) => [r.lexeme, Number(r.df)]));
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

/**
 * The BM25 sum over `u` (the chunk's lexemes that are query words, with positions) joined to `q` (lexeme,
 * idf), for the chunk row aliased `alias` (its n_tokens is the document length).
 */
function bm25Sum(alias: string, avgTokens: number): string {
  const tf = 'coalesce(array_length(u.positions, 1), 1)::float8';
  return `sum(q.idf * (${tf} * ${BM25_K1 + 1}::float8)
            / (${tf} + ${BM25_K1}::float8 * (1 - ${BM25_B}::float8 + ${BM25_B}::float8 * ${alias}.n_tokens / ${avgTokens}::float8)))`;
}

interface Filter {
  sql: string;
  params: unknown[];
}

/** Path-glob and language filters as SQL with parameters numbered from `first`. */
function buildFilter(opts: SearchOptions, first: number): Filter {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (opts.language) {
    params.push(normalizeLanguage(opts.language));
    parts.push(`c.language = $${first + params.length - 1}`);
  }
  if (opts.glob) {
    params.push(globToRegex(opts.glob));
    parts.push(`c.path ~ $${first + params.length - 1}`);
  }
  return { sql: parts.map((p) => ` AND ${p}`).join(''), params };
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

function toHit(root: string, r: Row): SearchHit {
  return {
    id: r.id,
    root,
    path: r.path,
    startLine: r.start_line,
    endLine: r.end_line,
    symbol: r.symbol,
    kind: r.kind,
    language: r.language,
    score: r.score,
    snippet: snippetOf(r.content),
    content: r.content,
  };
}

/**
 * The first line that says something: skips blank lines, braces, bare comment markers like `/**`, and
 * decorators/annotations (`@property`, `@Override`), which say nothing about what the code does.
 */
export function snippetOf(content: string): string {
  for (const line of content.split(/\r\n|\n|\r/)) {
    const t = line.trim().replace(/^(\/\*+|\*+|\/\/+|#+)\s*/, '').replace(/\s*\*+\/$/, '');
    if (/^@[\w.]+(\(.*\))?$/.test(t)) continue;
    if (/[A-Za-z0-9]/.test(t)) return t.length > 160 ? `${t.slice(0, 157)}...` : t;
  }
  return content.trim().slice(0, 160);
}
