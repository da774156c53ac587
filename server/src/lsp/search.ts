/** semcode/search over the workspace folders indexed so far (params already checked: params.ts). */
import { SemcodeError, isSemcodeError } from '../errors';
import type { Engine } from '../engine';
import type { SearchHit } from '../search/search';
import type { SearchParams, SearchResult, SearchResultItem } from '../protocol/lspExt';
import { fileUri } from './paths';

export async function searchWorkspace(engine: Engine, roots: readonly string[], params: SearchParams, indexing: boolean): Promise<SearchResult> {
  const marked = indexing ? { indexing: true } : {};
  const indexed = await engine.indexedCodebases([...roots]);
  if (!indexed.length) {
    // While the first index is being built there is nothing to search yet: say so instead of failing.
    if (indexing) return { items: [], ...marked };
    throw new SemcodeError('not_indexed', roots.length ? 'the workspace is not indexed yet; run Semcode: Reindex' : 'no workspace folder is open');
  }
  const given = new Map(indexed.map((c) => [c.codebase.name, c.root]));
  let hits: SearchHit[];
  try {
    hits = await engine.searchCodebases(
      indexed.map((c) => c.codebase),
      params.query,
      { k: params.k, mode: params.mode, glob: params.glob, language: params.language },
    );
  } catch (e) {
    // Nothing to search for (empty, or only punctuation) is an answer with the reason, not a failure.
    if (isSemcodeError(e, 'empty_query')) return { items: [], message: e.message, ...marked };
    throw e;
  }
  return {
    items: hits.map((h): SearchResultItem => ({
      uri: fileUri(given.get(h.codebase)!, h.path),
      path: h.path,
      startLine: h.startLine,
      endLine: h.endLine,
      symbol: h.symbol,
      kind: h.kind,
      language: h.language,
      score: h.score,
      snippet: h.snippet,
    })),
    ...marked,
  };
}
