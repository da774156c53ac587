/**
 * Reading one file of the walk: open without blocking, fstat, one sized read, the binary sniff and the
 * size limit, and a text that is decoded only when first asked for. Apart from the walk (walker.ts) because
 * it is the hot path of indexing and its choices (callback fs API, unpooled buffers) are about speed and
 * memory, not about which files the walk visits.
 */
import { constants as bufferConstants } from 'node:buffer';
import { close, constants as fsConstants, fstat, open, read } from 'node:fs';
import { promisify } from 'node:util';
import { fsCode } from './fsChecks';
import type { SkipReason, WalkedFile } from './walkTypes';

const BINARY_SNIFF_BYTES = 8192;
// O_NONBLOCK: a regular file swapped for a FIFO between readdir and open must not hang the walk.
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0);
const MAX_BUFFER = bufferConstants.MAX_LENGTH;
const openAsync = promisify(open);
const fstatAsync = promisify(fstat);
const closeAsync = promisify(close);
const readAsync = (fd: number, buf: Buffer, offset: number, length: number, position: number) =>
  new Promise<number>((resolve, reject) => read(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))));
// Non-streaming decode is stateless, so one decoder serves every file; it drops a leading BOM itself.
const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });

export interface Candidate {
  relPath: string;
  absPath: string;
}

/**
 * Reads one file, or counts why not (through `skip`, the walker's counter) and returns null. Never throws
 * for a filesystem error. Uses the callback fs API and a single sized read: on 100k small files,
 * FileHandle.readFile's extra fstat and EOF read plus the FileHandle bookkeeping cost about a third of the
 * walk.
 */
export async function readWalkedFile(
  root: string,
  c: Candidate,
  maxFileSize: number,
  skip: (reason: SkipReason, e?: unknown) => null,
): Promise<WalkedFile | null> {
  let fd: number;
  try {
    fd = await openAsync(c.absPath, OPEN_FLAGS);
  } catch (e) {
    return skip(fsCode(e) === 'ELOOP' ? 'symlink_loop' : 'unreadable', e);
  }
  try {
    const st = await fstatAsync(fd);
    if (!st.isFile()) return skip('not_regular');
    if (st.size > maxFileSize || st.size > MAX_BUFFER) return skip('too_large');
    // The size at stat time is the snapshot: a file growing meanwhile is read up to that size.
    // Not from the shared pool: callers may keep or transfer `bytes`, which must not pin or expose
    // other files' memory.
    const buf = Buffer.allocUnsafeSlow(st.size);
    let got = 0;
    while (got < buf.length) {
      const n = await readAsync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    const bytes = got === buf.length ? buf : buf.subarray(0, got);
    if (bytes.subarray(0, BINARY_SNIFF_BYTES).includes(0)) return skip('binary');
    // Decoded on first use: an unchanged file is only hashed, so a no-change re-index never decodes.
    let text: string | undefined;
    return {
      root,
      relPath: c.relPath,
      absPath: c.absPath,
      bytes,
      get text() {
        return (text ??= utf8.decode(bytes));
      },
      size: bytes.length,
      mtimeMs: st.mtimeMs,
    };
  } catch (e) {
    return skip('unreadable', e);
  } finally {
    await closeAsync(fd).catch(() => {});
  }
}
