/**
 * The params of every request and notification the server reads, checked at the protocol boundary with
 * one schema each (valibot: 12 KB of dist/server.js; the client never imports this module). A wrong
 * value is an InvalidParams error naming the field, what it must be and what came, never an internal error
 * from deep in the engine or a value silently clamped into range. What a schema lets through is typed
 * (v.InferOutput), and the handlers take the shared protocol types: the compiler keeps the two in step.
 */
import * as v from 'valibot';
import { ErrorCodes, ResponseError } from 'vscode-languageserver/node';
import { SEARCH_MODES } from '../chunk';
import { errorMessage } from '../errors';
import { globToRegex } from '../search/glob';

/** The most results one semcode/search returns: a palette shows 30; more is a bulk export, not a search. */
export const MAX_K = 200;

// Each schema's message is what the value must be; issueMessage adds the field's path and what it got.
const string = () => v.string('a string');
const uinteger = () => v.pipe(v.number('an integer from 0 up'), v.integer('an integer from 0 up'), v.minValue(0, 'an integer from 0 up'));
const object = <E extends v.ObjectEntries>(entries: E) => v.object(entries, 'an object');

const kRange = `an integer from 1 to ${MAX_K}`;

export const searchParams = object({
  query: string(),
  k: v.optional(v.pipe(v.number(kRange), v.integer(kRange), v.minValue(1, kRange), v.maxValue(MAX_K, kRange))),
  mode: v.optional(v.picklist(SEARCH_MODES, `one of ${SEARCH_MODES.join(', ')}`)),
  glob: v.optional(
    v.pipe(
      string(),
      // The glob's own error ("invalid glob ...: why"), here rather than from the engine as a failed search.
      v.rawCheck(({ dataset, addIssue }) => {
        if (!dataset.typed) return;
        try {
          globToRegex(dataset.value);
        } catch (e) {
          addIssue({ message: errorMessage(e) });
        }
      }),
    ),
  ),
  language: v.optional(string()),
});

export const workspaceSymbolParams = object({ query: string() });

const textDocument = object({ uri: string() });
export const hoverParams = object({ textDocument, position: object({ line: uinteger(), character: uinteger() }) });

export const didSaveParams = object({ textDocument });
export const didChangeWatchedFilesParams = object({ changes: v.array(object({ uri: string() }), 'a list') });

const folder = object({ uri: string() });
export const workspaceFoldersChange = object({ added: v.array(folder, 'a list'), removed: v.array(folder, 'a list') });

const MAX_SHOWN = 60;

function shown(input: unknown): string {
  const s = JSON.stringify(input) ?? String(input);
  return s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN - 1)}…` : s;
}

interface SchemaNode {
  wrapped?: SchemaNode;
  entries?: Record<string, SchemaNode>;
  item?: SchemaNode;
  message?: unknown;
}

/** The message of the schema at `path` inside `schema` (a missing key's issue carries its object's message). */
function expected(schema: SchemaNode, path: readonly { key: unknown }[]): string | null {
  let node: SchemaNode | undefined = schema;
  for (const { key } of path) {
    while (node?.wrapped) node = node.wrapped;
    node = typeof key === 'string' ? node?.entries?.[key] : node?.item;
  }
  while (node?.wrapped) node = node.wrapped;
  return typeof node?.message === 'string' ? node.message : null;
}

/** `k must be an integer from 1 to 200, not "abc"`; a check's own message (an invalid glob) as it is. */
export function issueMessage(schema: v.GenericSchema, issue: v.BaseIssue<unknown>): string {
  if (issue.type === 'raw_check') return issue.message;
  const field = v.getDotPath(issue) ?? 'params';
  if (issue.input !== undefined) return `${field} must be ${issue.message}, not ${shown(issue.input)}`;
  return `${field} is missing: it must be ${expected(schema as SchemaNode, issue.path ?? []) ?? issue.message}`;
}

/** The params as the schema reads them, or InvalidParams with every problem in one line. */
export function parseParams<S extends v.GenericSchema>(schema: S, params: unknown): v.InferOutput<S> {
  const r = v.safeParse(schema, params, { abortPipeEarly: true });
  if (r.success) return r.output;
  throw new ResponseError(ErrorCodes.InvalidParams, r.issues.map((i) => issueMessage(schema, i)).join('; '));
}

/** A handler that gets its params checked first; the rest of its arguments (token, progress) pass through. */
export function validated<S extends v.GenericSchema, A extends unknown[], R>(
  schema: S,
  fn: (params: v.InferOutput<S>, ...rest: A) => R,
): (params: unknown, ...rest: A) => R {
  return (params, ...rest) => fn(parseParams(schema, params), ...rest);
}
