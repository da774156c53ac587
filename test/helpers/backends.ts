// The storage suites run once per database driver: embedded PGlite and a real PostgreSQL + pgvector.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DbTarget } from '../../server/src/store/open';
import { createTestDatabase } from './pg';

export interface TestBackend {
  name: 'pglite' | 'postgres';
  /** a fresh, empty database for one suite */
  create(): Promise<{ target: DbTarget; cleanup: () => Promise<void> }>;
}

export const BACKENDS: TestBackend[] = [
  {
    name: 'pglite',
    create() {
      const dir = mkdtempSync(join(tmpdir(), 'semcode-pglite-'));
      const cleanup = () => {
        rmSync(dir, { recursive: true, force: true });
        return Promise.resolve();
      };
      return Promise.resolve({ target: { dir }, cleanup });
    },
  },
  {
    name: 'postgres',
    async create() {
      const db = await createTestDatabase();
      return { target: { url: db.url }, cleanup: () => db.drop() };
    },
  },
];
