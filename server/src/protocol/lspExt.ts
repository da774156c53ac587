/**
 * Semcode's extensions to the Language Server Protocol, shared by the client and the server so both sides
 * agree on every type (as vscode-eslint and rust-analyzer's lsp_ext do).
 */
import { NotificationType, RequestType, RequestType0 } from 'vscode-languageserver-protocol';

export type SearchMode = 'hybrid' | 'vector' | 'text';

export interface SearchParams {
  query: string;
  k?: number;
  mode?: SearchMode;
  glob?: string;
  language?: string;
}

export interface SearchResultItem {
  /** file URI */
  uri: string;
  /** workspace-relative posix path */
  path: string;
  /** 1-based, inclusive */
  startLine: number;
  endLine: number;
  symbol: string | null;
  kind: string;
  language: string;
  score: number;
  snippet: string;
}

export interface SearchResult {
  items: SearchResultItem[];
}

export const searchRequest = new RequestType<SearchParams, SearchResult, void>('semcode/search');
export const reindexRequest = new RequestType0<void, void>('semcode/reindex');
export const rebuildRequest = new RequestType0<void, void>('semcode/rebuild');

export type Health = 'ok' | 'warning' | 'error';

export interface ServerStatus {
  health: Health;
  /** nothing is being indexed right now */
  quiescent: boolean;
  message?: string;
  model: string | null;
  backend: string | null;
  dimension: number | null;
  files: number;
  chunks: number;
  /** files waiting to be indexed */
  queue: number;
  lastError: string | null;
}

export const statusNotification = new NotificationType<ServerStatus>('semcode/status');

/** Settings passed as initializationOptions (section `semcode` of the VS Code configuration). */
export interface SemcodeSettings {
  model?: string;
  /** postgres:// URL of a shared server; empty = the embedded database */
  databaseUrl?: string;
  /** the embedded database directory; empty = the per-user default */
  databaseDir?: string;
  ignore?: string[];
  maxFileSize?: number;
  backend?: 'cpu' | 'wasm';
}
