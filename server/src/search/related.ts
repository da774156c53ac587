/**
 * The language server's lookups that are not a text query: the chunk under the cursor, the chunks nearest
 * to it (hover's "Related code") and symbols by name (workspace/symbol). Their SQL is in
 * store/chunkQueries.ts; what a name query asks for is decided here.
 */
import { type CandidatePath, type ChunkScope, type NameMatch, chunksNamed } from '../store/chunkQueries';
import type { Queryable } from '../store/db';
import { wordsOf } from '../text/terms';

/**
 * Symbols whose name contains every identifier of the query (case and `_` insensitive), each starting one of
 * the name's words: "getUs" finds `UserService.getUser`. Exact names rank first, then prefixes, then shorter names.
 */
export async function symbolsByName(db: Queryable, cb: Pick<ChunkScope, 'id'>, query: string, limit = 50, via: CandidatePath = 'direct'): Promise<NameMatch[]> {
  const idents = queryIdentifiers(query);
  if (!idents.length) return [];
  return chunksNamed(db, cb.id, idents, idents.join(query.includes('.') ? '.' : ''), limit, via);
}

/** The query's identifiers as the index stores whole words: lowercase [a-z0-9], `get_user` → `getuser`. */
export function queryIdentifiers(query: string): string[] {
  const out: string[] = [];
  for (const raw of query.match(/[A-Za-z0-9_]+/g) ?? []) {
    // wordsOf yields the whole identifier first, then its parts.
    const w = wordsOf(raw)[0];
    if (w && !out.includes(w)) out.push(w);
  }
  return out;
}
