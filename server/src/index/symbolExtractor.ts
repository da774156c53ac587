/**
 * From a parsed file to pieces: Extractor walks the tree's top level (descending into namespaces and ERROR
 * nodes), makes a unit per symbol with its doc comments and decorators, cuts a class into its outline (member
 * bodies elided) and one piece per method, then turns the rows no symbol owns into `block` pieces, folding
 * stray closing braces and scope openers into the neighbouring symbol. Which nodes are symbols is
 * symbolDefs.ts's business; cutting pieces into chunk-sized windows is chunkWindows.ts's.
 */
import type { LanguageSpec } from './languages';
import { type Piece, type SourceText, isBlank } from './sourceText';
import { type Def, namedChildren, resolve } from './symbolDefs';

type Node = import('web-tree-sitter').Node;

/** Nested classes up to this many lines stay inline in their parent's chunk. */
const NESTED_CLASS_INLINE_LINES = 3;

/** A top-level stretch of rows owned by a symbol: its own piece first, then its methods' pieces. */
interface Unit {
  startRow: number;
  endRow: number;
  pieces: Piece[];
}

export class Extractor {
  constructor(
    private readonly src: SourceText,
    private readonly spec: LanguageSpec,
  ) {}

  run(root: Node): { pieces: Piece[]; symbols: number } {
    const units: Unit[] = [];
    this.scan(root, '', units);
    units.sort((a, b) => a.startRow - b.startRow);
    return { pieces: this.fillGaps(units), symbols: units.length };
  }

  /** Collects the symbols among `container`'s children, descending into namespaces and the like. */
  private scan(container: Node, prefix: string, units: Unit[]): void {
    const children = namedChildren(container);
    for (let i = 0; i < children.length; i++) {
      const child = children[i]!;
      if (this.spec.attached.has(child.type)) continue;
      if (child.type === 'ERROR') {
        // tree-sitter keeps the well-formed definitions around a syntax error as children of the ERROR node
        this.scan(child, prefix, units);
        continue;
      }
      const r = resolve(child, this.spec);
      if (!r) continue;
      if ('transparent' in r) {
        const inner = r.transparent.childForFieldName('body') ?? r.transparent;
        const q = r.name ? qualify(prefix, r.name) : prefix;
        // a qualifying node's body is itself transparent in some grammars (declaration_list): scan it directly
        this.scan(inner, q, units);
        continue;
      }
      units.push(this.symbolUnit(r.def, this.leadingStart(children, i), prefix, false));
    }
  }

  /** Offset where `children[i]` really starts: its doc comments, decorators and attributes directly above. */
  private leadingStart(children: Node[], i: number): number {
    let start = children[i]!.startIndex;
    let top = this.src.startRow(children[i]!);
    for (let j = i - 1; j >= 0; j--) {
      const c = children[j]!;
      if (!this.spec.attached.has(c.type)) break;
      if (this.src.endRow(c) < top - 1) break; // blank line between: a separate comment
      // a trailing comment of the previous statement (`x = 1; // note`) is not a doc comment
      if (j > 0 && this.src.endRow(children[j - 1]!) >= this.src.startRow(c)) break;
      start = c.startIndex;
      top = this.src.startRow(c);
    }
    return start;
  }

  private symbolUnit(def: Def, start: number, prefix: string, member: boolean): Unit {
    const name = qualify(prefix, def.name);
    const kind = member && def.kind === 'function' ? 'method' : def.kind;
    const startRow = this.src.rowAt(start);
    const endRow = this.src.endRow(def.outer);
    const members = this.spec.containerKinds.has(def.kind) && def.body ? this.members(def.body, name) : [];
    if (members.length === 0) return { startRow, endRow, pieces: [this.src.contiguous(name, kind, startRow, endRow)] };
    // whole lines at the edges: `};` after a C++ class, `export default` before a class expression
    const outline = this.outline(this.src.lineStart(startRow), this.src.lineEnd(endRow), startRow, endRow, members);
    const pieces: Piece[] = [{ symbol: name, kind, startRow, endRow, ...outline }];
    for (const m of members) pieces.push(...m.unit.pieces);
    return { startRow, endRow, pieces };
  }

  /** Methods and sizable nested classes of a class body, each with its own unit. */
  private members(body: Node, owner: string): Array<{ def: Def; start: number; unit: Unit }> {
    const out: Array<{ def: Def; start: number; unit: Unit }> = [];
    const visit = (parent: Node): void => {
      const children = namedChildren(parent);
      for (let i = 0; i < children.length; i++) {
        const child = children[i]!;
        // Java enums keep their methods one level down
        if (child.type === 'enum_body_declarations') {
          visit(child);
          continue;
        }
        if (this.spec.attached.has(child.type)) continue;
        const r = resolve(child, this.spec);
        if (!r || 'transparent' in r || !r.def.body) continue;
        const { def } = r;
        const isFunction = def.kind === 'function' || def.kind === 'method';
        if (!isFunction) {
          if (!this.spec.containerKinds.has(def.kind)) continue;
          if (this.src.endRow(def.outer) - this.src.startRow(def.outer) + 1 <= NESTED_CLASS_INLINE_LINES) continue;
        }
        const start = this.leadingStart(children, i);
        // a member sharing its first line with other code (`class A { m() {} }`) stays in the class chunk:
        // chunks hold whole lines, so splitting it off would repeat that code
        if (/\S/.test(this.src.normalized.slice(this.src.lineStart(this.src.rowAt(start)), start))) continue;
        out.push({ def, start, unit: this.symbolUnit(def, start, owner, true) });
      }
    };
    visit(body);
    return out;
  }

  /**
   * The class text with each member replaced by its signature and an elision marker. Works on offsets so
   * the signature is cut exactly where the body starts (`foo(): T {` keeps `foo(): T `).
   */
  private outline(from: number, to: number, startRow: number, endRow: number, members: Array<{ def: Def; start: number }>): Pick<Piece, 'lines' | 'rows'> {
    const text = this.src.normalized;
    const lines: string[] = [];
    const rows: number[] = [];
    const append = (a: number, b: number): void => {
      if (b <= a) return;
      const parts = text.slice(a, b).split('\n');
      let at = a;
      parts.forEach((part, k) => {
        if (k === 0 && lines.length > 0) {
          // indentation left over from a removed doc comment: the line now starts where this text starts
          if (isBlank(lines[lines.length - 1]!) && part.length > 0) rows[rows.length - 1] = this.src.rowAt(at);
          lines[lines.length - 1] += part;
        } else {
          lines.push(part);
          rows.push(this.src.rowAt(at));
        }
        at += part.length + 1;
      });
    };
    let cursor = from;
    for (const m of members) {
      const body = m.def.body!;
      append(cursor, m.start);
      append(m.def.node.startIndex, body.startIndex);
      if (lines.length === 0) {
        lines.push('');
        rows.push(this.src.rowAt(body.startIndex));
      }
      lines[lines.length - 1] += this.spec.elision;
      cursor = Math.max(cursor, m.def.outer.endIndex);
    }
    append(cursor, to);
    // keep the outline within the class's rows even if a member's offsets were odd
    for (let i = 0; i < rows.length; i++) rows[i] = Math.min(endRow, Math.max(startRow, rows[i]!));
    return { lines, rows };
  }

  /** Turns the rows no symbol owns into blocks; returns every piece in file order. */
  private fillGaps(units: Unit[]): Piece[] {
    const lines = this.src.lines;
    const runs: Array<{ start: number; end: number; after: number }> = []; // after = index of the unit before it, -1 for none
    let row = 0;
    const pushRun = (a: number, b: number, after: number): void => {
      while (a <= b && isBlank(lines[a]!)) a++;
      while (b >= a && isBlank(lines[b]!)) b--;
      if (a <= b) runs.push({ start: a, end: b, after });
    };
    units.forEach((u, k) => {
      if (u.startRow > row) pushRun(row, u.startRow - 1, k - 1);
      row = Math.max(row, u.endRow + 1);
    });
    if (row < lines.length) pushRun(row, lines.length - 1, units.length - 1);

    const blocks: Piece[] = [];
    for (const run of runs) {
      const prev = run.after >= 0 ? units[run.after] : undefined;
      const next = units[run.after + 1];
      if (prev && isCloser(lines, run.start, run.end)) {
        extendEnd(prev.pieces[0]!, prev, run.end, lines);
      } else if (next && next.startRow === run.end + 1 && isOpener(lines, run.start, run.end)) {
        extendStart(next.pieces[0]!, next, run.start, lines);
      } else if (!prev && next && isCloser(lines, run.start, run.end)) {
        extendStart(next.pieces[0]!, next, run.start, lines);
      } else {
        blocks.push(this.src.contiguous(null, 'block', run.start, run.end));
      }
    }
    const all: Piece[] = [...blocks];
    for (const u of units) all.push(...u.pieces);
    // file order, a class before its methods
    return all.sort((a, b) => a.startRow - b.startRow || b.endRow - a.endRow);
  }
}

function qualify(prefix: string, name: string): string {
  return prefix ? `${prefix}.${name}` : name;
}

/** Closing braces, `#endif` and the like: too little to be a chunk of their own. */
function isCloser(lines: string[], a: number, b: number): boolean {
  let n = 0;
  for (let r = a; r <= b; r++) {
    const t = lines[r]!.trim();
    if (!t) continue;
    if (++n > 2) return false;
    if (/^#\s*(endif|else)\b/.test(t)) continue;
    if (!/^[{}()[\];,\s]*[{}()[\]][{}()[\];,\s]*(\/\/.*|\/\*.*\*\/)?$/.test(t)) return false;
  }
  return true;
}

/** A short line opening the scope of the symbol right below (`namespace x {`, Go `type (`). */
function isOpener(lines: string[], a: number, b: number): boolean {
  let n = 0;
  let last = '';
  for (let r = a; r <= b; r++) {
    const t = lines[r]!.trim();
    if (!t) continue;
    if (++n > 2 || t.length > 80) return false;
    last = t;
  }
  return /[{(]$/.test(last);
}

function extendEnd(piece: Piece, unit: Unit, toRow: number, lines: string[]): void {
  for (let r = piece.endRow + 1; r <= toRow; r++) {
    piece.lines.push(lines[r]!);
    piece.rows.push(r);
  }
  piece.endRow = unit.endRow = Math.max(piece.endRow, toRow);
}

function extendStart(piece: Piece, unit: Unit, fromRow: number, lines: string[]): void {
  const rows: number[] = [];
  for (let r = fromRow; r < piece.startRow; r++) rows.push(r);
  piece.lines.unshift(...rows.map((r) => lines[r]!));
  piece.rows.unshift(...rows);
  piece.startRow = unit.startRow = Math.min(piece.startRow, fromRow);
}
