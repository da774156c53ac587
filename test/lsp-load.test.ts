// Load on a shared server: many concurrent requests through one language server on a bounded pool are all
// answered, none fails, and the server keeps serving. Latency under this load is the benchmark's to report
// (bench/lsp.ts), never asserted here.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { searchRequest } from '../server/src/protocol/lspExt';
import { DEFAULT_MODEL, LspServer, copyRealCode } from './helpers/lspServer';
import { createTestDatabase } from './helpers/pg';
import { tempDir } from './helpers/workspace';

const QUERIES = [
  'convert a dash separated string to camel case',
  'compare two values deeply for equality',
  'flatten a nested object into dotted keys',
  'escape characters that have a meaning in a regular expression',
  'expand braces in a glob pattern',
  'match balanced pairs of delimiters',
  'queue worker concurrency',
  'ignore files the way gitignore does',
  'prepare a value for a postgres query',
  'split a camel case word into parts',
];

describe('language server on postgres under load', () => {
  const work = tempDir('lsp-load');
  const root = copyRealCode(join(work.dir, 'project'));
  let made: { url: string; drop(): Promise<void> } | undefined;
  let s: LspServer | undefined;
  after(async () => {
    await s?.stop();
    await made?.drop();
    work.cleanup();
  });

  test('50 concurrent searches on a pool of 10 are all answered, and the server serves on', async () => {
    made = await createTestDatabase('semcode_lsp_load');
    s = await LspServer.start({ roots: [root], initializationOptions: { model: DEFAULT_MODEL, databaseUrl: made.url, databasePoolSize: 10 } });
    await s.ready();
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => s!.conn.sendRequest(searchRequest, { query: QUERIES[i % QUERIES.length]!, k: 5 })),
    );
    const failed = results.filter((r) => r.status === 'rejected').map((r) => String(r.reason));
    assert.deepEqual(failed, []);
    for (const r of results) assert.equal((r as PromiseFulfilledResult<{ items: unknown[] }>).value.items.length, 5);
    const after = await s.conn.sendRequest(searchRequest, { query: QUERIES[0]!, k: 3 });
    assert.equal(after.items.length, 3);
    assert.equal(s.child.exitCode, null, 'the server is still running');
  });
});
