import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { SemcodeError } from '../errors';

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
        const fd = openSync(file, 'wx');
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return new DirLock(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
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
