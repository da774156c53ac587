/**
 * The chunk type family: every shape of a chunk in Semcode is one of these three, or one of them extended
 * with what it adds (store/chunks.ts StoredChunk, store/chunkQueries.ts IndexedChunk, search/search.ts
 * SearchHit, protocol/lspExt.ts SearchResultItem, lsp/symbols.ts SymbolEntry). Bottom layer: the protocol
 * and so the client share it.
 */

/** Where a chunk is. */
export interface ChunkLocation {
  /** posix path relative to the root the file came from */
  path: string;
  /** 1-based, inclusive */
  startLine: number;
  /** 1-based, inclusive */
  endLine: number;
}

/** A chunk as results name it: where it is and what it is, without its text. */
export interface ChunkRef extends ChunkLocation {
  /** symbol name (e.g. `UserService.getUser`), null for line windows and grouped top-level code */
  symbol: string | null;
  /** function | method | class | interface | type | enum | module | block | lines */
  kind: string;
  /** language id (typescript, tsx, javascript, python, go, rust, java, c, cpp, text, ...) */
  language: string;
}

/** One unit of code that is embedded and searched: the chunker's output. */
export interface Chunk extends ChunkRef {
  /** the exact source text of the chunk */
  content: string;
  /** sha256 hex of content */
  hash: string;
}

/**
 * How a search ranks: cosine, BM25 or both fused. Here rather than in protocol/lspExt.ts, which the CLI
 * does not bundle (it loads vscode-languageserver-protocol); lspExt.ts takes it from here.
 */
export type SearchMode = 'hybrid' | 'vector' | 'text';
export const SEARCH_MODES: readonly SearchMode[] = ['hybrid', 'vector', 'text'];

/**
 * Best score first; equal scores by path, then line (then codebase, when results span several), so the
 * same index and query rank the same way every time, whatever order the rows were written in.
 */
export function byScore(a: ChunkLocation & { score: number; codebase?: string }, b: ChunkLocation & { score: number; codebase?: string }): number {
  return (
    b.score - a.score ||
    (a.path < b.path ? -1 : a.path > b.path ? 1 : 0) ||
    a.startLine - b.startLine ||
    ((a.codebase ?? '') < (b.codebase ?? '') ? -1 : (a.codebase ?? '') > (b.codebase ?? '') ? 1 : 0)
  );
}
