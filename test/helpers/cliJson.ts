// The shapes of the CLI's --json output (server/src/cli/main.ts), so that the suites read it typed rather
// than as JSON.parse's `any`. Built from the types the CLI serialises; only what the suites read matters.
import type { CodebaseStatus } from '../../server/src/engine';
import type { IndexSummary } from '../../server/src/index/indexer';
import type { SearchHit } from '../../server/src/search/search';
import type { FinetuneResult } from '../../server/src/train/finetune';

export interface ErrorBody {
  code: string;
  message: string;
}

/** A failed command: one object on stdout. */
export interface ErrorJson {
  error: ErrorBody;
}

/** `index --json` */
export type IndexJson = IndexSummary & { backend?: string; database: string; location: string };

export type HitJson = Pick<SearchHit, 'path' | 'startLine' | 'endLine' | 'score' | 'symbol' | 'kind' | 'language' | 'root' | 'snippet'>;

/** `search --json`: one line per query, with its results or (in a batch) its error. */
export interface SearchJson {
  query: string;
  results: HitJson[];
}
export interface QueryErrorJson {
  query: string;
  error: ErrorBody;
}

/** A line of a `search --queries` batch: results, or the query's error. */
export interface BatchLineJson {
  query: string;
  results?: HitJson[];
  error?: ErrorBody;
}

/** `status --json` */
export interface StatusJson {
  database: string;
  location: string;
  model: string | null;
  modelVersion: string | null;
  dimension: number | null;
  backend: string;
  embedsWith: string | null;
  backends: Record<string, string>;
  files: number;
  chunks: number;
  codebases: CodebaseStatus[];
}

/** `train --json` */
export type TrainJson = Omit<FinetuneResult, 'reindex'> & { reindexed: { chunks: number; embedded: number; seconds: number } | null };

/** stdout holding one JSON object, read as the command's output shape T. */
export function parseJson<T>(stdout: string): T {
  return JSON.parse(stdout) as T;
}

/** stdout holding one JSON object per line, each read as T. */
export function parseJsonLines<T>(stdout: string): T[] {
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as T);
}
