// The test infrastructure itself: a real PostgreSQL server with pgvector >= 0.8 (iterative index scans).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase } from './helpers/pg.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let client: pg.Client;

before(async () => {
  db = await createTestDatabase('semcode_infra');
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});

after(async () => {
  await client?.end().catch(() => {});
  await db?.drop();
});

function versionAtLeast(v: string, min: [number, number]): boolean {
  const [major, minor] = v.split('.').map(Number);
  return major! > min[0] || (major === min[0] && minor! >= min[1]);
}

test('pgvector >= 0.8 is installed in a fresh test database', async () => {
  const r = await client.query<{ extversion: string }>("SELECT extversion FROM pg_extension WHERE extname = 'vector'");
  assert.equal(r.rows.length, 1, 'vector extension missing');
  const v = r.rows[0]!.extversion;
  assert.ok(versionAtLeast(v, [0, 8]), `pgvector ${v} is older than 0.8`);
});

test('a cosine HNSW index can be built and queried with iterative scans', async () => {
  await client.query('CREATE TABLE items (id int PRIMARY KEY, tag text NOT NULL, embedding vector(3) NOT NULL)');
  // 200 rows on a half circle in the xy plane (angle 0..pi, so id order is distance order from [1,0]); only every 10th row has tag 'rare', which a filtered k-NN query
  // over a plain HNSW scan (ef_search 40) could miss without iterative scans.
  await client.query(
    `INSERT INTO items
       SELECT i, CASE WHEN i % 10 = 0 THEN 'rare' ELSE 'common' END,
              ARRAY[cos(i * 0.0157), sin(i * 0.0157), 0.1]::vector
       FROM generate_series(1, 200) AS i`,
  );
  await client.query('CREATE INDEX items_embedding_hnsw ON items USING hnsw (embedding vector_cosine_ops)');

  await client.query('BEGIN');
  try {
    await client.query('SET LOCAL enable_seqscan = off');
    await client.query('SET LOCAL hnsw.iterative_scan = relaxed_order');
    await client.query('SET LOCAL hnsw.ef_search = 10');
    const setting = await client.query<{ v: string }>("SELECT current_setting('hnsw.iterative_scan') AS v");
    assert.equal(setting.rows[0]!.v, 'relaxed_order');

    const q = `SELECT id FROM items WHERE tag = 'rare' ORDER BY embedding <=> '[1,0,0.1]' LIMIT 15`;
    const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${q}`)).rows.map((r) => r['QUERY PLAN']).join('\n');
    assert.match(plan, /items_embedding_hnsw/, `the query does not use the HNSW index:\n${plan}`);

    const rows = (await client.query<{ id: number }>(q)).rows;
    // ef_search 10 alone would return at most ~1 'rare' row; iterative scanning keeps going until 15 are found.
    assert.equal(rows.length, 15);
    assert.ok(rows.every((r) => r.id % 10 === 0));
    // relaxed_order may return neighbours slightly out of order: compare as a set (the 15 nearest rare rows).
    const ids = rows.map((r) => r.id).sort((a, b) => a - b);
    assert.deepEqual(
      ids,
      Array.from({ length: 15 }, (_, k) => (k + 1) * 10),
    );
  } finally {
    await client.query('ROLLBACK');
  }
});
