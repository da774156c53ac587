/**
 * textDocument/hover on a symbol: a "Related code" section with the three chunks of the same codebase
 * nearest to the symbol's chunk by meaning, as links that open them. Hovering a symbol's own name uses
 * the chunk under the cursor; hovering a use of a symbol (a call, a type) uses the chunk that defines it.
 */
import { readFile } from 'node:fs/promises';
import type { Hover, Position } from 'vscode-languageserver/node';
import type { Engine } from '../engine';
import { symbolsByName } from '../search/related';
import { snippetOf } from '../search/search';
import { type CandidatePath, type ChunkWithVector, type ScoredChunk, chunkAt, relatedChunks } from '../store/chunkQueries';
import type { Queryable } from '../store/db';
import type { Codebase } from '../store/indexStore';
import { fileUri, locate, uriToPath } from './paths';
import { splitSymbol } from './symbols';

const RELATED = 3;

export async function relatedHover(engine: Engine, roots: readonly string[], uri: string, position: Position): Promise<Hover | null> {
  const fsPath = uriToPath(uri);
  if (!fsPath) return null;
  const where = locate(roots, fsPath);
  if (!where) return null;
  const indexed = (await engine.indexedCodebases([where.root]))[0];
  if (!indexed) return null;
  const word = await wordAt(fsPath, position);
  if (word !== '') await engine.charge('search'); // '' (no word under the cursor) searches nothing
  const related = await engine.session(async (s, _, via) => {
    const chunk = await symbolChunk(s, indexed.codebase, where.rel, position.line + 1, word, via);
    return chunk ? relatedChunks(s, indexed.codebase, chunk, RELATED) : [];
  });
  if (!related.length) return null;
  return { contents: { kind: 'markdown', value: relatedMarkdown(where.root, related) } };
}

/**
 * The chunk of the symbol under the cursor: the innermost chunk at the position when the word is its
 * name (or the position's chunk when the file cannot be read), else the chunk defining a symbol of that
 * name (this file first). Null when the cursor is on no symbol.
 */
async function symbolChunk(db: Queryable, cb: Codebase, rel: string, line: number, word: string | null, via: CandidatePath): Promise<ChunkWithVector | null> {
  const here = await chunkAt(db, cb, rel, line);
  if (word === null) return here?.symbol ? here : null;
  if (!word) return null;
  if (here?.symbol && here.symbol.split('.').includes(word)) return here;
  const named = (await symbolsByName(db, cb, word, 20, via)).filter((m) => m.symbol && splitSymbol(m.symbol).name === word);
  const def = named.find((m) => m.path === rel) ?? named[0];
  if (!def) return null;
  return chunkAt(db, cb, def.path, def.startLine);
}

/** The identifier at the position in the file on disk; '' when none, null when the file cannot be read. */
async function wordAt(fsPath: string, pos: Position): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(fsPath, 'utf8');
  } catch {
    return null;
  }
  const line = text.split(/\r\n|\n|\r/)[pos.line] ?? '';
  // LSP positions count UTF-16 code units by default, as JavaScript strings do.
  const isWord = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_$]/.test(c);
  let s = Math.min(pos.character, line.length);
  let e = s;
  while (s > 0 && isWord(line[s - 1])) s--;
  while (isWord(line[e])) e++;
  return line.slice(s, e);
}

function escapeText(s: string): string {
  return s.replace(/[\\`*_[\]<>|]/g, '\\$&');
}

export function relatedMarkdown(root: string, related: ScoredChunk[]): string {
  const lines = ['**Related code**', ''];
  for (const r of related) {
    const label = `${r.symbol ?? r.kind} — ${r.path}:${r.startLine}`;
    const target = `${fileUri(root, r.path)}#L${r.startLine}`;
    const snippet = snippetOf(r.content);
    lines.push(`- [${escapeText(label)}](${target})${snippet ? ` — ${escapeText(snippet)}` : ''}`);
  }
  return lines.join('\n');
}
