/**
 * The walker's public shapes: its options, the files it yields and the counts of what it leaves out. They
 * sit in a module of their own so that the walk (walker.ts), the ignore rules (ignoreRules.ts) and the file
 * reader (fileReader.ts) can share them without importing each other in a circle; walker.ts re-exports them.
 */
/**
 * Why a file was left out. unreadable: an fs error (a dangling link too); symlink_loop: a link to an ancestor
 * or to a directory already walked, or ELOOP; not_regular: FIFOs, sockets, devices (also through a link,
 * wherever it points: they are never read); outside_root: a file or directory link whose real path is not
 * under the root's real path (not followed unless `followExternalLinks`).
 */
export type SkipReason = 'binary' | 'too_large' | 'unreadable' | 'symlink_loop' | 'not_regular' | 'outside_root';

export interface WalkOptions {
  /** bytes, default 1 MiB (1_048_576) */
  maxFileSize?: number;
  /** extra gitignore-syntax patterns from settings/CLI, applied like a root .semcodeignore */
  ignorePatterns?: string[];
  /** parallel file reads, default 16 */
  concurrency?: number;
  /**
   * Follow symlinks whose real path is outside the root (loops are still detected). Default false: they
   * count as skipped `outside_root`, so nothing from outside the workspace is indexed.
   */
  followExternalLinks?: boolean;
}

export interface WalkedFile {
  /** the root's real path (fs.realpath) */
  root: string;
  /** posix path relative to root */
  relPath: string;
  absPath: string;
  /** raw content (the indexer hashes the bytes) */
  bytes: Buffer;
  /** decoded UTF-8; invalid sequences become U+FFFD; a leading BOM is removed; CRLF kept as is */
  text: string;
  size: number;
  mtimeMs: number;
}

export interface WalkStats {
  files: number;
  skipped: Record<SkipReason, number>;
  /** entries excluded by ignore rules, counted at the entry (an ignored directory counts once) */
  ignored: number;
}
