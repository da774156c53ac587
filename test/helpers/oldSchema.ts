// A database as an earlier release left it: only its first `released` migrations applied, for upgrade tests.
import type { Db } from '../../server/src/store/db';
import { MIGRATIONS, migrate } from '../../server/src/store/migrations';
import type { DbTarget } from '../../server/src/store/open';
import { PgPoolDb } from '../../server/src/store/pgPool';
import { PgliteDb } from '../../server/src/store/pglite';

export async function openWithMigrations(target: DbTarget, released: number): Promise<Db> {
  const later = MIGRATIONS.splice(released);
  try {
    const db = target.url ? await PgPoolDb.open(target.url) : await PgliteDb.open(target.dir!);
    await migrate(db);
    return db;
  } finally {
    MIGRATIONS.push(...later);
  }
}
