import { hostname } from 'node:os';
import { defaultCodebaseName } from '../identity/codebaseName';
import { stemStoredTerms, symbolWords } from '../text/terms';
import { SemcodeError } from '../errors';
import { ACCESS_POLICIES_V2_SQL, ACCESS_SCHEMA_SQL, ROOTS_PER_ROLE_SQL } from './accessSchema';
import { LIMITS_SCHEMA_SQL } from './limitsSchema';
import type { Db, Queryable } from './db';
import { hnswIndexName } from './indexStore';
import { recountTermStats } from './termStats';

/**
 * Versioned schema. Each entry runs once, in its own transaction, in order; the same SQL serves PGlite and
 * PostgreSQL. Never edit a released entry: add a new one.
 *
 * Vectors are stored untyped (`vector`) because codebases in one database may use models of different
 * dimensions; each codebase gets its own partial HNSW index over `embedding::vector(dim)`, which also
 * scopes every vector search to one codebase without a post-filter.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  /** a data step after the SQL, in the same transaction (for values only the server's code can compute) */
  after?: (tx: Queryable) => Promise<void>;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE codebases (
  id          serial PRIMARY KEY,
  root        text NOT NULL UNIQUE,          -- the root's real path (a logical name in team mode)
  model_id    text,                          -- what produced the vectors, null until the first index
  model_hash  text,
  dimension   int,
  hnsw_dim    int,                           -- dimension of the HNSW index, null while it is not built
  n_chunks    int NOT NULL DEFAULT 0,        -- corpus statistics for BM25, refreshed after indexing
  avg_tokens  double precision NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now(),
  indexed_at  timestamptz
);

CREATE TABLE files (
  codebase_id  int NOT NULL REFERENCES codebases(id) ON DELETE CASCADE,
  path         text NOT NULL,
  content_hash text NOT NULL,
  size         bigint NOT NULL,
  language     text,
  PRIMARY KEY (codebase_id, path)
);

CREATE TABLE chunks (
  id           bigserial PRIMARY KEY,
  codebase_id  int NOT NULL,
  path         text NOT NULL,
  start_line   int NOT NULL,
  end_line     int NOT NULL,
  symbol       text,
  kind         text NOT NULL,
  language     text NOT NULL,
  content      text NOT NULL,
  content_hash text NOT NULL,
  embedding    vector NOT NULL,
  tsv          tsvector NOT NULL,             -- identifiers split on camelCase/snake_case, lowercased
  n_tokens     int NOT NULL,                  -- document length for BM25
  FOREIGN KEY (codebase_id, path) REFERENCES files(codebase_id, path) ON DELETE CASCADE
);
CREATE INDEX chunks_by_file ON chunks (codebase_id, path);
CREATE INDEX chunks_tsv ON chunks USING gin (tsv);

-- Vectors by (model files, exact model input): a branch switch, a second root or a re-chunked file with
-- the same text never calls the model again, and a changed model never reuses them.
CREATE TABLE embedding_cache (
  model_hash text NOT NULL,
  input_hash text NOT NULL,
  embedding  vector NOT NULL,
  PRIMARY KEY (model_hash, input_hash)
);

-- Document frequencies per codebase for BM25 (refreshed after indexing runs that change enough chunks).
CREATE TABLE term_stats (
  codebase_id int NOT NULL REFERENCES codebases(id) ON DELETE CASCADE,
  lexeme      text NOT NULL,
  df          int NOT NULL,
  PRIMARY KEY (codebase_id, lexeme)
);
`,
  },
  {
    version: 2,
    name: 'fine-tuned model versions and training runs',
    sql: `
-- The fine-tuned model version a codebase's index uses (semcode train): its name and folder in the user's
-- state directory. Kept across a rebuild, so re-indexing without --model stays on the version.
ALTER TABLE codebases ADD COLUMN model_version text;
ALTER TABLE codebases ADD COLUMN model_version_dir text;

-- Every semcode train run, whatever its outcome.
CREATE TABLE training_runs (
  id            serial PRIMARY KEY,
  codebase_id   int NOT NULL REFERENCES codebases(id) ON DELETE CASCADE,
  started_at    timestamptz NOT NULL,
  duration_ms   int NOT NULL,
  base_model    text,                          -- the model trained from (the index's model id)
  seed          int NOT NULL,
  epochs        int NOT NULL,
  pairs_mined   int NOT NULL,                  -- after dedupe
  pairs_train   int NOT NULL,
  pairs_heldout int NOT NULL,
  chunks        int NOT NULL,                  -- candidates each held-out query was ranked against
  mrr_before    double precision,              -- held-out MRR@10, recall@1 and recall@10
  mrr_after     double precision,
  r1_before     double precision,
  r1_after      double precision,
  r10_before    double precision,
  r10_after     double precision,
  bootstrap     double precision,              -- share of paired bootstrap resamples where after > before
  outcome       text NOT NULL CHECK (outcome IN ('saved', 'kept', 'insufficient_data', 'failed')),
  version       text,                          -- the saved version's name and folder (outcome saved)
  version_dir   text,
  message       text
);
CREATE INDEX training_runs_by_codebase ON training_runs (codebase_id, id);
`,
  },
  {
    version: 3,
    name: 'stemmed full-text terms, BM25 term weights as sparse vectors, symbol-name words',
    sql: `
-- Each chunk's BM25 term weights (search/bm25Vector.ts): full-text search ranks its candidates by one
-- inner product in C instead of unnesting each candidate's tsvector.
ALTER TABLE chunks ADD COLUMN bm25 sparsevec;
-- Every text search reads the GIN index's pending list (new entries not yet merged) from end to end; at the
-- default 4 MB that cost 1.6 ms of a 3 ms query at 10k chunks. PGlite has no autovacuum to merge it.
ALTER INDEX chunks_tsv SET (gin_pending_list_limit = 256);
-- The words of the chunk's symbol name alone (null without one): workspace/symbol's candidates, where the
-- content's words matched thousands of chunks for a common prefix at 100k chunks.
ALTER TABLE chunks ADD COLUMN symbol_words tsvector;
CREATE INDEX chunks_symbol_words ON chunks USING gin (symbol_words) WITH (gin_pending_list_limit = 256);
`,
    after: async (tx) => {
      // HNSW indexes now also name the dimension (indexStore.hnswScope); the old ones no longer match the
      // queries, so they go (before the backfill, which would otherwise update them row by row), and the
      // next index run builds the new ones.
      const built = await tx.query<{ id: number }>('SELECT id FROM codebases WHERE hnsw_dim IS NOT NULL');
      for (const { id } of built.rows) await tx.query(`DROP INDEX IF EXISTS ${hnswIndexName(Number(id))}`);
      await tx.query('UPDATE codebases SET hnsw_dim = NULL');
      await backfillBm25(tx);
      await tx.query('ALTER TABLE chunks ALTER COLUMN bm25 SET NOT NULL');
      // Document frequencies of the stemmed terms (IndexStore.refreshTermStats, for every codebase at once).
      await tx.query('DELETE FROM term_stats');
      await tx.query(
        `INSERT INTO term_stats (codebase_id, lexeme, df)
         SELECT c.id, s.word, s.ndoc FROM codebases c
          CROSS JOIN LATERAL ts_stat(format('SELECT tsv FROM chunks WHERE codebase_id = %s', c.id)) s`,
      );
    },
  },
  {
    version: 4,
    name: 'unfinished index runs; duplicate chunks left by concurrent runs',
    sql: `
-- Set when a full index run starts on the codebase and cleared when it finishes: a run that was killed
-- leaves it set, and status and search say the index is incomplete.
ALTER TABLE codebases ADD COLUMN run_started_at timestamptz;
`,
    after: async (tx) => {
      // Two index runs at once on one PostgreSQL codebase could store a file's chunks twice (writes are now
      // serialized per codebase). Exact copies go; the files they came from are marked changed, so the next
      // run chunks them again, and their codebases are marked unfinished until it does.
      const dup = await tx.query<{ codebase_id: number; path: string }>(
        `SELECT DISTINCT a.codebase_id, a.path FROM chunks a JOIN chunks b
            ON a.codebase_id = b.codebase_id AND a.path = b.path AND a.start_line = b.start_line
           AND a.end_line = b.end_line AND a.id > b.id`,
      );
      if (!dup.rows.length) return;
      const ids = dup.rows.map((r) => Number(r.codebase_id));
      const paths = dup.rows.map((r) => r.path);
      await tx.query(
        `DELETE FROM chunks a USING chunks b
          WHERE a.codebase_id = b.codebase_id AND a.path = b.path AND a.start_line = b.start_line
            AND a.end_line = b.end_line AND a.content_hash = b.content_hash AND a.id > b.id`,
      );
      await tx.query(
        `UPDATE files f SET content_hash = 'stale: duplicate chunks'
           FROM unnest($1::int[], $2::text[]) AS d(id, path) WHERE f.codebase_id = d.id AND f.path = d.path`,
        [ids, paths],
      );
      for (const id of new Set(ids)) await recountTermStats(tx, id);
      await tx.query('UPDATE codebases SET run_started_at = now() WHERE id = ANY($1::int[])', [[...new Set(ids)]]);
    },
  },
  {
    version: 5,
    name: 'named codebases; each machine maps its own folders to them',
    sql: `
-- A codebase is known by a name that is the same on every machine (its repository, or what the user
-- chose); each machine's folders are mapped to it here, and every stored path is relative to the folder.
ALTER TABLE codebases ADD COLUMN name text;
CREATE TABLE codebase_roots (
  host        text NOT NULL,                 -- the machine's name
  path        text NOT NULL,                 -- the folder's real path on that machine
  codebase_id int NOT NULL REFERENCES codebases(id) ON DELETE CASCADE,
  PRIMARY KEY (host, path)
);
CREATE INDEX codebase_roots_by_codebase ON codebase_roots (codebase_id);
`,
    after: async (tx) => {
      // The folders were indexed on this machine: each keeps its codebase (nothing is embedded again) under
      // the name a new index of it would get; a second folder of one repository is told apart by its path.
      const rows = await tx.query<{ id: number; root: string }>('SELECT id, root FROM codebases ORDER BY id');
      const taken = new Set<string>();
      for (const { id, root } of rows.rows) {
        let name = defaultCodebaseName(root);
        if (taken.has(name)) name = `${name} (${root})`;
        taken.add(name);
        await tx.query('UPDATE codebases SET name = $2 WHERE id = $1', [id, name]);
        await tx.query('INSERT INTO codebase_roots (host, path, codebase_id) VALUES ($1, $2, $3)', [hostname(), root, id]);
      }
      await tx.query('ALTER TABLE codebases ALTER COLUMN name SET NOT NULL');
      await tx.query('ALTER TABLE codebases ADD CONSTRAINT codebases_name_key UNIQUE (name)');
      await tx.query('ALTER TABLE codebases DROP COLUMN root');
    },
  },
  {
    version: 6,
    name: 'per-codebase permissions enforced by row-level security',
    sql: ACCESS_SCHEMA_SQL,
    after: async (tx) => {
      // Codebases made before permissions belong to whoever owns the schema (it runs migrations).
      await tx.query(`INSERT INTO codebase_access (codebase_id, role, level) SELECT id, created_by, 'owner' FROM codebases ON CONFLICT DO NOTHING`);
      // Cached vectors were shared by every codebase: each codebase of the model keeps its copy (a vector
      // serves only codebases that use its model, so none is lost); vectors of models no index uses go.
      await tx.query('ALTER TABLE embedding_cache DROP CONSTRAINT embedding_cache_pkey');
      await tx.query(
        `INSERT INTO embedding_cache (codebase_id, model_hash, input_hash, embedding)
         SELECT c.id, e.model_hash, e.input_hash, e.embedding FROM embedding_cache e JOIN codebases c ON c.model_hash = e.model_hash
          WHERE e.codebase_id IS NULL`,
      );
      await tx.query('DELETE FROM embedding_cache WHERE codebase_id IS NULL');
      await tx.query('ALTER TABLE embedding_cache ALTER COLUMN codebase_id SET NOT NULL');
      await tx.query('ALTER TABLE embedding_cache ADD PRIMARY KEY (codebase_id, model_hash, input_hash)');
      // Lookups reuse any readable codebase's vector (embeddingCache.ts), so they search by input first.
      await tx.query('CREATE INDEX embedding_cache_by_input ON embedding_cache (model_hash, input_hash)');
    },
  },
  {
    version: 7,
    name: 'per-role rate limits',
    sql: LIMITS_SCHEMA_SQL,
  },
  {
    version: 8,
    name: 'row-level security policies that plan once per statement',
    sql: ACCESS_POLICIES_V2_SQL,
  },
  {
    version: 9,
    name: "each role's own folder mappings",
    sql: ROOTS_PER_ROLE_SQL,
  },
];

/**
 * Brings chunks stored before migration 3 to what the indexer now writes, from what is stored (no file is
 * read again): stemmed terms and BM25 vectors from their tsvectors, symbol-name words from their symbols.
 */
async function backfillBm25(tx: Queryable): Promise<void> {
  let last = '0';
  for (;;) {
    // ORDER BY the bigint column, not the text alias: '10' sorts before '9'.
    const r = await tx.query<{ id: string; tsv: string; n_tokens: number; symbol: string | null }>(
      'SELECT c.id::text AS id, c.tsv::text AS tsv, c.n_tokens, c.symbol FROM chunks c WHERE c.id > $1 ORDER BY c.id LIMIT 2000',
      [last],
    );
    if (!r.rows.length) return;
    await tx.query(
      `UPDATE chunks c SET tsv = u.t::tsvector, bm25 = u.v::sparsevec, symbol_words = u.s::tsvector
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS u(id, t, v, s) WHERE c.id = u.id`,
      [
        r.rows.map((x) => x.id),
        ...transpose(r.rows.map((x) => stemStoredTerms(tsvectorPositions(x.tsv), Number(x.n_tokens)))),
        r.rows.map((x) => symbolWords(x.symbol)),
      ],
    );
    last = r.rows[r.rows.length - 1]!.id;
  }
}

function transpose(terms: { text: string; bm25: string }[]): [string[], string[]] {
  return [terms.map((t) => t.text), terms.map((t) => t.bm25)];
}

/** (lexeme, positions) from PostgreSQL's text form of a tsvector: `'get':2,5 'user':3`. Our lexemes are [a-z0-9]. */
export function tsvectorPositions(tsv: string): [string, number[]][] {
  const out: [string, number[]][] = [];
  for (const m of tsv.matchAll(/'([^']*)'(?::([0-9A-D,]+))?/g)) out.push([m[1]!, m[2] ? m[2].split(',').map((p) => parseInt(p, 10)) : []]);
  return out;
}

/** Two processes opening one fresh PostgreSQL database at once must not both create or migrate it. */
const MIGRATION_LOCK = 'SELECT pg_advisory_xact_lock(7262531)';

export async function migrate(db: Db): Promise<number> {
  // An up-to-date schema needs no DDL at all: a team's writer role, which may not create anything, opens it.
  const latest = Math.max(...MIGRATIONS.map((m) => m.version));
  const at = await schemaVersion(db);
  if (at >= latest) return 0;
  try {
    return await applyMigrations(db);
  } catch (e) {
    const code = (e as { cause?: { code?: string } }).cause?.code;
    if (code !== '42501') throw e; // insufficient_privilege
    throw new SemcodeError(
      'db_error',
      `the index schema in ${db.location} is at version ${at} and this semcode needs ${latest}; only the schema's owner may upgrade it: run semcode index once as that role`,
      { cause: e },
    );
  }
}

/** The newest migration applied (0 for an empty database). */
async function schemaVersion(db: Db): Promise<number> {
  const t = await db.query<{ t: string | null }>(`SELECT to_regclass('schema_migrations')::text AS t`);
  if (!t.rows[0]?.t) return 0;
  const r = await db.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
  return Number(r.rows[0]?.v ?? 0);
}

async function applyMigrations(db: Db): Promise<number> {
  // Inside the lock: two first-time runs both creating the extension raced to "duplicate key ... pg_extension".
  await db.transaction(async (tx) => {
    await tx.query(MIGRATION_LOCK);
    await tx.query('CREATE EXTENSION IF NOT EXISTS vector');
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
  version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  });
  let applied = 0;
  for (const m of MIGRATIONS) {
    const done = await db.transaction(async (tx) => {
      await tx.query(MIGRATION_LOCK);
      const seen = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
      if (seen.rows.length) return false;
      for (const stmt of splitStatements(m.sql)) await tx.query(stmt);
      await m.after?.(tx);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      return true;
    });
    if (done) applied++;
  }
  return applied;
}

/**
 * The statements of a migration: split at semicolons outside dollar-quoted function bodies, with comment
 * lines dropped. Our migrations hold no string literal with a semicolon or a `--`.
 */
export function splitStatements(sql: string): string[] {
  const text = sql
    .split('\n')
    .filter((l) => !l.trim().startsWith('--'))
    .map((l) => l.replace(/\s+--.*$/, ''))
    .join('\n');
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    if (text.startsWith('$$', i)) {
      quoted = !quoted;
      i++;
    } else if (text[i] === ';' && !quoted) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((s) => s.trim()).filter(Boolean);
}
