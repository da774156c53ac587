/** semcode/search over the workspace folders indexed so far. */
import { SemcodeError } from '../errors';
import type { Engine } from '../engine';
import type { SearchParams, SearchResult } from '../protocol/lspExt';
import { fileUri } from './paths';

export async function searchWorkspace(engine: Engine, roots: readonly string[], params: SearchParams, indexing: boolean): Promise<SearchResult> {
  if (typeof params?.query !== 'string') throw new SemcodeError('usage', 'semcode/search needs a query string');
  const indexed = await engine.indexedCodebases([...roots]);
  if (!indexed.length) {
    // While the first index is being built there is nothing to search yet: say so instead of failing.
    if (indexing) return { items: [], indexing: true };
    throw new SemcodeError('not_indexed', roots.length ? 'the workspace is not indexed yet; run Semcode: Reindex' : 'no workspace folder is open');
  }
  const given = new Map(indexed.map((c) => [c.codebase.root, c.root]));
  const hits = await engine.searchCodebases(
    indexed.map((c) => c.codebase),
    params.query,
    { k: params.k, mode: params.mode, glob: params.glob, language: params.language },
  );
  return {
    items: hits.map((h) => ({
      uri: fileUri(given.get(h.root) ?? h.root, h.path),
      path: h.path,
      startLine: h.startLine,
      endLine: h.endLine,
      symbol: h.symbol,
      kind: h.kind,
      language: h.language,
      score: h.score,
      snippet: h.snippet,
    })),
    ...(indexing ? { indexing: true } : {}),
  };
}
