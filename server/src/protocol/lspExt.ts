/**
 * Semcode's extensions to the Language Server Protocol, shared by the client and the server so both sides
 * agree on every type (as vscode-eslint and rust-analyzer's lsp_ext do).
 */
import { NotificationType, RequestType, RequestType0 } from 'vscode-languageserver-protocol';
import type { ChunkRef, SearchMode } from '../chunk';

/** Checked by the server (server/src/lsp/params.ts): a wrong value is InvalidParams naming it. */
export interface SearchParams {
  query: string;
  /** results wanted, 1 to 200 (default 10) */
  k?: number;
  mode?: SearchMode;
  glob?: string;
  language?: string;
}

/** A result on the wire: the chunk (its path workspace-relative, posix), its file's URI, score and snippet. */
export interface SearchResultItem extends ChunkRef {
  /** file URI */
  uri: string;
  score: number;
  snippet: string;
}

export interface SearchResult {
  items: SearchResultItem[];
  /** the index is still being built or updated: results cover what is indexed so far */
  indexing?: boolean;
  /** why there are no items when that is not a failure, e.g. "the query has no words to search for" */
  message?: string;
}

export const searchRequest = new RequestType<SearchParams, SearchResult, void>('semcode/search');
/** Walks every workspace folder again (only changed files cost anything); resolves when that run ends. */
export const reindexRequest = new RequestType0<void, void>('semcode/reindex');
/** Forgets the index and builds it again with the configured model; resolves when that run ends. */
export const rebuildRequest = new RequestType0<void, void>('semcode/rebuild');
/** Stops the running index run (as cancelling its progress does) and drops queued work. */
export const cancelRequest = new RequestType0<void, void>('semcode/cancel');

/** Pausing stops taking new indexing work (the job in flight finishes); searches keep being answered. */
export interface PauseResult {
  paused: boolean;
}
export const pauseRequest = new RequestType0<PauseResult, void>('semcode/pause');
export const resumeRequest = new RequestType0<PauseResult, void>('semcode/resume');

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
  /** indexing is paused by the user (semcode/pause) */
  paused?: boolean;
  /** 0..100 while indexing, when known */
  percent?: number;
  lastError: string | null;
}

export const statusNotification = new NotificationType<ServerStatus>('semcode/status');

/** Sent after each index run: what it re-indexed, so a client (or a test) can see exactly which files changed. */
export interface IndexedParams {
  /** 'full': every file of these folders was hash-checked; 'paths': only files reported by the watcher or saved */
  kind: 'full' | 'paths';
  /** folder URIs the run covered */
  roots: string[];
  /** URIs of files whose chunks were (re)written, at most 1000 (see changedCount) */
  changed: string[];
  changedCount: number;
  /** URIs of files removed from the index, at most 1000 (see deletedCount) */
  deleted: string[];
  deletedCount: number;
  /** chunk vectors computed by the model in this run (0 when every input was already embedded) */
  embedded: number;
  /** chunk vectors taken from the embedding cache */
  reused: number;
  /** files hash-checked */
  files: number;
  seconds: number;
}

export const indexedNotification = new NotificationType<IndexedParams>('semcode/indexed');

/** Settings passed as initializationOptions (section `semcode` of the VS Code configuration). */
export interface SemcodeSettings {
  model?: string;
  /** postgres:// URL of a shared server; empty = the embedded database */
  databaseUrl?: string;
  /** the embedded database directory; empty = the per-user default */
  databaseDir?: string;
  /** connections to the shared server at most (default 4); PostgreSQL only */
  databasePoolSize?: number;
  ignore?: string[];
  maxFileSize?: number;
  backend?: 'cpu' | 'wasm';
  /** follow symbolic links whose target is outside the workspace folder (default: skip them) */
  followExternalLinks?: boolean;
  /** semcode.codebase of each workspace folder that sets one, by the folder's path (a resource setting) */
  codebases?: Record<string, string>;
}

/** A JetStream stream, as `semcode streams` and the stream-status panel show it. */
export interface StreamStatus {
  name: string;
  subjects: string[];
  messages: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
  /** when the first and the last message were stored (ISO), null while the stream is empty */
  firstTime: string | null;
  lastTime: string | null;
  consumers: number;
}

/** A consumer of a stream, with the figures NATS reports for it. */
export interface ConsumerStatus {
  stream: string;
  name: string;
  /** messages the consumer has not been given yet */
  pending: number;
  /** given out and not yet acknowledged */
  ackPending: number;
  /** given out more than once and still unacknowledged (NATS counts only those) */
  redelivered: number;
  /** pull requests waiting for messages */
  waiting: number;
  /** the last message given out and the last acknowledged in order: stream sequence and when (ISO, null: never) */
  delivered: { streamSeq: number; time: string | null };
  ackFloor: { streamSeq: number; time: string | null };
}

/** A stream with its consumers (`semcode streams info NAME`). */
export interface StreamDetail extends StreamStatus {
  consumerList: ConsumerStatus[];
}

/** A job the workers gave up on, from the dead-letter stream. */
export interface DeadJobStatus {
  id: string;
  codebaseId: number;
  /** the job's files (paths relative to the codebase's root) */
  files: string[];
  code: string;
  reason: string;
  deliveries: number;
  /** when it was given up (ISO) */
  time: string;
}
