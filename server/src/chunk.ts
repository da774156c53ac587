/** One unit of code that is embedded and searched. */
export interface Chunk {
  /** posix path relative to the root the file came from */
  path: string;
  /** 1-based, inclusive */
  startLine: number;
  /** 1-based, inclusive */
  endLine: number;
  /** symbol name (e.g. `UserService.getUser`), null for line windows and grouped top-level code */
  symbol: string | null;
  /** function | method | class | interface | type | enum | module | block | lines */
  kind: string;
  /** language id (typescript, tsx, javascript, python, go, rust, java, c, cpp, text, ...) */
  language: string;
  /** the exact source text of the chunk */
  content: string;
  /** sha256 hex of content */
  hash: string;
}
