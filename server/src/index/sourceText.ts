/**
 * The text being chunked, and the pieces cut from it. SourceText splits a file into rows (CRLF, LF and lone
 * CR alike) and maps tree-sitter's offsets back to rows; a Piece is a run of content lines with the source row
 * of each, what the symbol extraction (symbolExtractor.ts) produces and the windowing (chunkWindows.ts)
 * emits as chunks. Shared by both, so it lives apart from either.
 */
type Node = import('web-tree-sitter').Node;

/** Text to be emitted as one or more chunks: content lines and the source row each came from. */
export interface Piece {
  symbol: string | null;
  kind: string;
  /** rows the piece covers (a class covers its methods although their bodies are not in its lines) */
  startRow: number;
  endRow: number;
  lines: string[];
  rows: number[];
}

export class SourceText {
  readonly lines: string[];
  readonly normalized: string;
  private readonly starts: number[];

  constructor(text: string) {
    this.lines = text.split(/\r\n|\n|\r/);
    // Parsing the '\n'-joined text keeps tree-sitter's offsets aligned with our rows even for lone-CR files.
    this.normalized = this.lines.join('\n');
    this.starts = new Array<number>(this.lines.length);
    let at = 0;
    for (let i = 0; i < this.lines.length; i++) {
      this.starts[i] = at;
      at += this.lines[i]!.length + 1;
    }
  }

  /** row (0-based) holding UTF-16 offset `index` of the normalized text */
  rowAt(index: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  lineStart(row: number): number {
    return this.starts[row]!;
  }

  lineEnd(row: number): number {
    return this.starts[row]! + this.lines[row]!.length;
  }

  startRow(node: Node): number {
    return this.rowAt(node.startIndex);
  }

  /** last row with text of the node (a node ending in a newline does not own the next row) */
  endRow(node: Node): number {
    return this.rowAt(Math.max(node.startIndex, node.endIndex - 1));
  }

  contiguous(symbol: string | null, kind: string, startRow: number, endRow: number): Piece {
    const rows: number[] = [];
    for (let r = startRow; r <= endRow; r++) rows.push(r);
    return { symbol, kind, startRow, endRow, rows, lines: this.lines.slice(startRow, endRow + 1) };
  }
}

export const isBlank = (s: string): boolean => !/\S/.test(s);
