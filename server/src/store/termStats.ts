/**
 * BM25 statistics kept current file by file, for watcher runs. A full recount (chunks.ts `refreshTermStats`,
 * ts_stat over every chunk of the codebase) takes seconds at 100k chunks and PGlite answers nothing else
 * meanwhile; counting the lexemes of the files being replaced, before and after, costs milliseconds.
 */
import type { Queryable } from './db';

export interface TermCounts {
  /** lexeme -> number of chunks containing it (what ts_stat calls ndoc) */
  lexemes: Map<string, number>;
  chunks: number;
  /** sum of the chunks' lengths in words */
  tokens: number;
}

/** Document frequencies, chunk count and total length of these files' chunks as stored now. */
export async function termCounts(db: Queryable, codebaseId: number, paths: string[]): Promise<TermCounts> {
  if (!paths.length) return { lexemes: new Map(), chunks: 0, tokens: 0 };
  const lex = await db.query<{ lexeme: string; n: number }>(
    `SELECT u.lexeme, count(*)::int AS n
       FROM chunks c CROSS JOIN LATERAL unnest(c.tsv) u
      WHERE c.codebase_id = $1 AND c.path = ANY($2::text[])
      GROUP BY u.lexeme`,
    [codebaseId, paths],
  );
  const tot = await db.query<{ chunks: number; tokens: number }>(
    `SELECT count(*)::int AS chunks, coalesce(sum(n_tokens), 0)::float8 AS tokens
       FROM chunks WHERE codebase_id = $1 AND path = ANY($2::text[])`,
    [codebaseId, paths],
  );
  return {
    lexemes: new Map(lex.rows.map((r) => [r.lexeme, Number(r.n)])),
    chunks: Number(tot.rows[0]!.chunks),
    tokens: Number(tot.rows[0]!.tokens),
  };
}

/**
 * Moves the codebase's statistics from `before` to `after` (the same files' counts). Run it in the
 * transaction that changed the chunks, so a crash cannot leave the two apart.
 */
export async function applyTermDelta(tx: Queryable, codebaseId: number, before: TermCounts, after: TermCounts): Promise<void> {
  const delta = new Map<string, number>();
  for (const [l, n] of after.lexemes) delta.set(l, n);
  for (const [l, n] of before.lexemes) delta.set(l, (delta.get(l) ?? 0) - n);
  for (const [l, n] of delta) if (n === 0) delta.delete(l);
  const dChunks = after.chunks - before.chunks;
  const dTokens = after.tokens - before.tokens;
  if (!delta.size && !dChunks && !dTokens) return;
  const lexemes = [...delta.keys()];
  if (lexemes.length) {
    await tx.query(
      `INSERT INTO term_stats (codebase_id, lexeme, df)
       SELECT $1, d.lexeme, d.n FROM unnest($2::text[], $3::int[]) AS d(lexeme, n)
       ON CONFLICT (codebase_id, lexeme) DO UPDATE SET df = term_stats.df + EXCLUDED.df`,
      [codebaseId, lexemes, lexemes.map((l) => delta.get(l)!)],
    );
    await tx.query('DELETE FROM term_stats WHERE codebase_id = $1 AND lexeme = ANY($2::text[]) AND df <= 0', [codebaseId, lexemes]);
  }
  // The average length follows from the total: (avg * n + added words - removed words) / (n + added - removed).
  await tx.query(
    `UPDATE codebases
        SET avg_tokens = CASE WHEN n_chunks + $2 > 0 THEN greatest(0, (avg_tokens * n_chunks + $3) / (n_chunks + $2)) ELSE 0 END,
            n_chunks = greatest(0, n_chunks + $2)
      WHERE id = $1`,
    [codebaseId, dChunks, dTokens],
  );
}

export const NO_TERMS: TermCounts = { lexemes: new Map(), chunks: 0, tokens: 0 };

/**
 * Recounts a codebase's BM25 statistics from its chunks: document frequencies, chunk count, average length.
 * The codebase's row is locked first, so two recounts (or a recount and a watcher's delta) run one after
 * the other instead of both deleting and both inserting the same lexemes.
 */
export async function recountTermStats(tx: Queryable, codebaseId: number): Promise<void> {
  const id = Math.trunc(codebaseId);
  await tx.query('SELECT 1 FROM codebases WHERE id = $1 FOR UPDATE', [id]);
  await tx.query('DELETE FROM term_stats WHERE codebase_id = $1', [id]);
  await tx.query(
    `INSERT INTO term_stats (codebase_id, lexeme, df)
     SELECT ${id}, word, ndoc FROM ts_stat('SELECT tsv FROM chunks WHERE codebase_id = ${id}')`,
  );
  await tx.query(
    `UPDATE codebases SET n_chunks = s.n, avg_tokens = s.avg, indexed_at = now()
       FROM (SELECT count(*)::int AS n, coalesce(avg(n_tokens), 0)::float8 AS avg FROM chunks WHERE codebase_id = $1) s
      WHERE id = $1`,
    [id],
  );
}

/** Document frequencies of these lexemes in the codebase; a lexeme no chunk contains is absent. */
export async function documentFrequencies(db: Queryable, codebaseId: number, lexemes: string[]): Promise<Map<string, number>> {
  if (!lexemes.length) return new Map();
  const r = await db.query<{ lexeme: string; df: number }>('SELECT lexeme, df FROM term_stats WHERE codebase_id = $1 AND lexeme = ANY($2::text[])', [
    Math.trunc(codebaseId),
    lexemes,
  ]);
  return new Map(r.rows.map((x) => [x.lexeme, Number(x.df)]));
}
