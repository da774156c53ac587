/**
 * From pieces to chunks: a piece longer than the limits is cut into overlapping windows that prefer to end
 * before a blank or outdented line, a line longer than MAX_CHUNK_CHARS (minified code) into character slices,
 * and each window becomes a Chunk with its lines, symbol, kind and content hash. The same cutting serves
 * symbols, `block` pieces and the `lines` windows of files without a grammar.
 */
import { createHash } from 'node:crypto';
import type { Chunk } from '../chunk';
import { type Piece, isBlank } from './sourceText';

/** Character cap per chunk: keeps minified or generated one-liners from becoming one giant chunk. */
export const MAX_CHUNK_CHARS = 8000;

function indentWidth(line: string): number {
  let w = 0;
  for (const ch of line) {
    if (ch === ' ') w++;
    else if (ch === '\t') w += 4;
    else break;
  }
  return w;
}
/**
 * Cuts a piece into windows of at most `size` lines and MAX_CHUNK_CHARS characters, `overlap` lines shared
 * between neighbours. A window prefers to end before a blank or outdented line so parts read as units.
 */
export function emitWindows(out: Chunk[], relPath: string, language: string, piece: Piece, size: number, overlap: number, trim: boolean): void {
  const { lines } = piece;
  const n = lines.length;
  const charEnd = (start: number): number => {
    let chars = 0;
    let e = start;
    while (e < n && e - start < size) {
      chars += lines[e]!.length + 1;
      if (chars > MAX_CHUNK_CHARS + 1 && e > start) break;
      e++;
    }
    return e;
  };
  let start = 0;
  while (start < n) {
    if (lines[start]!.length > MAX_CHUNK_CHARS) {
      emitLongLine(out, relPath, language, piece, start);
      start++;
      continue;
    }
    let end = charEnd(start);
    if (end < n && end - start >= 4) {
      // look for a better cut in the last 40% of the window
      let best = end;
      let bestScore = Infinity;
      for (let e = end; e >= start + Math.ceil((end - start) * 0.6); e--) {
        const next = lines[e]!;
        const score = isBlank(next) ? -1 : indentWidth(next);
        if (score < bestScore) {
          bestScore = score;
          best = e;
        }
      }
      end = best;
    }
    emitRange(out, relPath, language, piece, start, end, trim);
    if (end >= n) break;
    // no overlap into a window that stopped at an over-long line: it would only repeat the same lines
    const shared = lines[end]!.length > MAX_CHUNK_CHARS ? 0 : Math.min(overlap, Math.floor((end - start) / 2));
    start = Math.max(end - shared, start + 1);
  }
}

function emitRange(out: Chunk[], relPath: string, language: string, piece: Piece, s: number, e: number, trim: boolean): void {
  const { lines, rows } = piece;
  if (trim) {
    while (s < e && isBlank(lines[s]!)) s++;
    while (e > s && isBlank(lines[e - 1]!)) e--;
    if (s >= e) return;
  }
  // an unsplit piece reports its whole range (a class covers its elided methods)
  const startRow = s === 0 && !trim ? piece.startRow : rows[s]!;
  const endRow = e === lines.length && !trim ? piece.endRow : rows[e - 1]!;
  out.push(makeChunk(relPath, language, piece, startRow, endRow, lines.slice(s, e).join('\n')));
}

function emitLongLine(out: Chunk[], relPath: string, language: string, piece: Piece, i: number): void {
  const line = piece.lines[i]!;
  const row = piece.rows[i]!;
  for (let a = 0; a < line.length;) {
    let b = Math.min(line.length, a + MAX_CHUNK_CHARS);
    // never split a surrogate pair
    if (b < line.length && /[\uDC00-\uDFFF]/.test(line[b]!)) b--;
    const content = line.slice(a, b);
    if (/\S/.test(content)) out.push(makeChunk(relPath, language, piece, row, row, content));
    a = b;
  }
}

function makeChunk(relPath: string, language: string, piece: Piece, startRow: number, endRow: number, content: string): Chunk {
  return {
    path: relPath,
    startLine: startRow + 1,
    endLine: endRow + 1,
    symbol: piece.symbol,
    kind: piece.kind,
    language,
    content,
    hash: createHash('sha256').update(content).digest('hex'),
  };
}
