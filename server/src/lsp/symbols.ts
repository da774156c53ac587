/**
 * workspace/symbol: symbols whose name matches the query, then chunks that match it by meaning, one entry
 * per symbol. Name matches come first: someone typing a name wants that name. The meaning side is a vector
 * search: the name matches already are the lexical side, and BM25 over chunk text would add most of the
 * time of a hybrid search (30 of 35 ms at 10k chunks on PGlite) for matches on words in bodies.
 */
import { type SymbolInformation, SymbolKind } from 'vscode-languageserver/node';
import type { ChunkRef } from '../chunk';
import type { Engine } from '../engine';
import { isSemcodeError } from '../errors';
import { symbolsByName } from '../search/related';
import { fileUri } from './paths';

const NAME_LIMIT = 50;
const SEMANTIC_K = 30;
const MAX_RESULTS = 100;

const KINDS: Record<string, SymbolKind> = {
  function: SymbolKind.Function,
  method: SymbolKind.Method,
  class: SymbolKind.Class,
  interface: SymbolKind.Interface,
  type: SymbolKind.Struct,
  enum: SymbolKind.Enum,
  module: SymbolKind.Module,
  block: SymbolKind.Namespace,
  lines: SymbolKind.File,
};

export function symbolKind(kind: string): SymbolKind {
  return KINDS[kind] ?? SymbolKind.Variable;
}

/** A symbol found: its chunk (a named one) and the folder it is in. */
interface SymbolEntry extends ChunkRef {
  symbol: string;
  root: string;
}

function entry(c: ChunkRef, symbol: string, root: string): SymbolEntry {
  return { path: c.path, startLine: c.startLine, endLine: c.endLine, symbol, kind: c.kind, language: c.language, root };
}

/** `Outer.Inner.method` -> name `method`, container `Outer.Inner`. */
export function splitSymbol(symbol: string): { name: string; container?: string } {
  const cut = symbol.lastIndexOf('.');
  return cut <= 0 ? { name: symbol } : { name: symbol.slice(cut + 1), container: symbol.slice(0, cut) };
}

export async function workspaceSymbols(engine: Engine, roots: readonly string[], query: string): Promise<SymbolInformation[]> {
  const q = (query ?? '').trim();
  if (!q) return [];
  const indexed = await engine.indexedCodebases([...roots]);
  if (!indexed.length) return [];
  const given = new Map(indexed.map((c) => [c.codebase.name, c.root]));
  const [byName, byMeaning] = await Promise.all([
    engine.session((s, _, via) =>
      Promise.all(indexed.map(async (c) => (await symbolsByName(s, c.codebase, q, NAME_LIMIT, via)).map((m) => ({ ...m, root: c.root })))),
    ),
    engine
      .searchCodebases(
        indexed.map((c) => c.codebase),
        q,
        { k: SEMANTIC_K, mode: 'vector' },
      )
      .catch((e: unknown) => {
        // A query without a word (only punctuation) matches no name and means nothing: no symbols.
        if (isSemcodeError(e, 'empty_query')) return null;
        throw e;
      }),
  ]);
  if (!byMeaning) return [];
  const names = byName.flat().sort((a, b) => a.rank - b.rank || (a.symbol?.length ?? 0) - (b.symbol?.length ?? 0));
  const found: SymbolEntry[] = [];
  const seen = new Set<string>();
  const add = (f: SymbolEntry) => {
    // A long symbol is split into several chunks: one entry for it.
    const key = `${f.root}\0${f.path}\0${f.symbol}`;
    if (seen.has(key)) return;
    seen.add(key);
    found.push(f);
  };
  for (const m of names) if (m.symbol) add(entry(m, m.symbol, m.root));
  for (const h of byMeaning) if (h.symbol) add(entry(h, h.symbol, given.get(h.codebase)!));
  return found.slice(0, MAX_RESULTS).map((f) => {
    const { name, container } = splitSymbol(f.symbol);
    return {
      name,
      kind: symbolKind(f.kind),
      location: {
        uri: fileUri(f.root, f.path),
        range: { start: { line: f.startLine - 1, character: 0 }, end: { line: f.endLine, character: 0 } },
      },
      ...(container ? { containerName: container } : {}),
    };
  });
}
