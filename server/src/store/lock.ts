import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { SemcodeError } from '../errors';
import { diskFullError, errnoReason } from './diskErrors';

/**
 * An exclusive, pid-stamped lock file. PGlite is one process's database: a second process opening the
 * same data directory would corrupt it, so it gets a clear "in use by pid N" instead. A lock left by a
 * process that died is taken over.
 */
export class DirLock {
  private released = false;
  private readonly onExit = () => this.release();

  private constructor(readonly file: string) {
    process.once('exit', this.onExit);
  }

  static acquire(file: string, what: string): DirLock {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeLock(file);
        return new DirLock(file);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOSPC' || code === 'EDQUOT') throw diskFullError(dirname(file), code);
        if (code !== 'EEXIST') {
          throw new SemcodeError('io_error', `cannot write the index directory ${dirname(file)}: ${errnoReason(e)}`, { cause: e });
        }
        const pid = Number.parseInt(safeRead(file), 10);
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
          throw new SemcodeError('db_locked', `${what} is in use by pid ${pid} (lock file ${file})`);
        }
        // Stale lock (dead owner, or unreadable): remove and retry once.
        try {
          unlinkSync(file);
        } catch {
          /* raced with another process: the retry decides */
        }
      }
    }
    throw new SemcodeError('db_locked', `${what} is locked (lock file ${file})`);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    process.removeListener('exit', this.onExit);
    try {
      if (safeRead(this.file) === String(process.pid)) unlinkSync(this.file);
    } catch {
      /* already gone */
    }
  }
}

/** Creates the lock file with this process's pid; a file it could not finish is removed. */
function writeLock(file: string): void {
  const fd = openSync(file, 'wx');
  try {
    writeSync(fd, String(process.pid));
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(file);
    } catch {
      /* gone already */
    }
    throw e;
  }
  closeSync(fd);
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
