// The embedded database (real PGlite) when storage fails: a disk that fills up during an index run, a disk
// too small for a new database, a failing WAL write, an unwritable or mistyped index directory. Each once hung
// forever, printed "[object Object]" or an internal error, or created a database where none was asked for
// (issue 9). Index runs go through the bundled CLI as child processes, with the shipped model: a run that
// hangs is killed (spawnSync's timeout) and fails its test instead of hanging the suite.
//
// The disk is a small tmpfs when this process may mount one (root, as in CI); otherwise a preloaded module
// makes node's fs, which PGlite's file system calls, fail with ENOSPC once a byte budget is spent.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs, { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isSemcodeError } from '../server/src/errors';
import { openDb } from '../server/src/store/open';
import { type IndexJson, type SearchJson, type StatusJson, parseJson } from './helpers/cliJson';
import { makeProject, tempDir } from './helpers/workspace';

const CLI = join(__dirname, '..', 'bin', 'semcode.js');
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Fault injection for a child process (the fallback when mounting is not allowed, and for EIO). */
const INJECT = `
const fs = require('node:fs');
const match = process.env.SEMCODE_FAULT_MATCH;
const code = process.env.SEMCODE_FAULT_ERRNO || 'ENOSPC';
let budget = Number(process.env.SEMCODE_FAULT_AFTER || 0);
const watched = new Set();
const { openSync, closeSync, writeSync } = fs;
fs.openSync = function (path, ...rest) {
  const fd = openSync.call(this, path, ...rest);
  if (match && String(path).includes(match)) watched.add(fd);
  return fd;
};
fs.closeSync = function (fd) {
  watched.delete(fd);
  return closeSync.call(this, fd);
};
fs.writeSync = function (fd, buf, ...rest) {
  if (watched.has(fd)) {
    const n = typeof rest[1] === 'number' ? rest[1] : typeof buf === 'string' ? Buffer.byteLength(buf) : buf.byteLength;
    if (budget < n) throw Object.assign(new Error(code + ': injected fault, write'), { code, syscall: 'write' });
    budget -= n;
  }
  return writeSync.call(this, fd, buf, ...rest);
};
`;

interface Fault {
  match: string;
  after: number;
  errno?: 'ENOSPC' | 'EIO';
}

describe('PGlite when storage fails', () => {
  const work = tempDir('pglite-disk');
  const root = makeProject(join(work.dir, 'project'));
  const baseDb = join(work.dir, 'base-db');
  const inject = join(work.dir, 'inject.cjs');
  const queries = join(work.dir, 'queries.txt');
  const mounts: string[] = [];
  let canMount = false;
  /** vector search restricted to the files of the first index: the same answer before and after a failure */
  const QUERIES = ['ring buffer push', 'evict the least recently used entry', 'parse the route path'];
  let baseline: string[] = [];
  let baseFiles = 0;

  function semcode(args: string[], fault?: Fault) {
    const env: NodeJS.ProcessEnv = { ...process.env, SEMCODE_MODEL: undefined };
    const pre: string[] = [];
    if (fault) {
      pre.push('--require', inject);
      Object.assign(env, { SEMCODE_FAULT_MATCH: fault.match, SEMCODE_FAULT_AFTER: String(fault.after), SEMCODE_FAULT_ERRNO: fault.errno ?? 'ENOSPC' });
    }
    const r = spawnSync(process.execPath, [...pre, CLI, ...args], { encoding: 'utf8', env, timeout: 150_000 });
    return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  }

  function search(dbDir: string): string[] {
    const r = semcode(['search', '--queries', queries, '--root', root, '--db-dir', dbDir, '--mode', 'vector', '--glob', 'src/**', '-k', '5', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout
      .trim()
      .split('\n')
      .map((line) => {
        const hits = parseJson<SearchJson>(line).results;
        assert.ok(hits.length > 0);
        return hits.map((h) => `${h.path}:${h.startLine}-${h.endLine} ${h.score.toFixed(6)}`).join(', ');
      });
  }

  function mountTmpfs(dir: string, opts: string): void {
    mkdirSync(dir, { recursive: true });
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    mounts.push(dir);
  }

  /** Fills the file system holding dir until at most `leaveBytes` are left. */
  function fill(dir: string, leaveBytes: number): void {
    const s = statfsSync(dir);
    const bytes = s.bavail * s.bsize - leaveBytes;
    if (bytes <= 0) return;
    const r = spawnSync('fallocate', ['-l', String(bytes), join(dir, `filler-${readdirSync(dir).length}`)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }

  function unfill(dir: string): void {
    for (const name of readdirSync(dir)) if (name.startsWith('filler-')) rmSync(join(dir, name));
  }

  /** 600 more source files: enough WAL that the run needs a new 16 MB segment. */
  function addSources(): void {
    const words = ['parse', 'render', 'cache', 'fetch', 'merge', 'encode', 'decode', 'resolve', 'index', 'walk'];
    mkdirSync(join(root, 'gen'), { recursive: true });
    for (let i = 0; i < 600; i++) {
      let text = '';
      for (let j = 0; j < 8; j++) {
        const a = words[(i + j) % words.length]!;
        const b = words[(i * 7 + j * 3) % words.length]!;
        text += `function ${a}${b[0]!.toUpperCase()}${b.slice(1)}${i}_${j}(x, y) {\n  // ${a} the ${b} of item ${i}.${j}\n  const v = x.${a}(y) + ${i * j};\n  return v.${b}();\n}\n\n`;
      }
      writeFileSync(join(root, 'gen', `f${i}.js`), text);
    }
  }

  before(() => {
    assert.ok(existsSync(join(__dirname, '..', 'dist', 'cli.js')), 'run `npm run build` first (npm test does)');
    writeFileSync(inject, INJECT);
    writeFileSync(queries, `${QUERIES.join('\n')}\n`);
    // Can this process mount a tmpfs (root with CAP_SYS_ADMIN)? Asked once; SEMCODE_TEST_NO_MOUNT=1 runs the
    // fallback anyway.
    const probe = join(work.dir, 'probe');
    mkdirSync(probe);
    canMount = process.env.SEMCODE_TEST_NO_MOUNT !== '1' && spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe]).status === 0;
    if (canMount) spawnSync('umount', [probe]);
    const r = semcode(['index', '--root', root, '--db-dir', baseDb, '--json']);
    assert.equal(r.code, 0, r.stderr);
    baseFiles = parseJson<IndexJson>(r.stdout).files;
    baseline = search(baseDb);
    addSources();
  });

  after(() => {
    for (const dir of mounts.reverse()) {
      if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
    }
    work.cleanup();
  });

  test('a disk that fills up during an index run is exit 2 "no space left on DIR (N MB free)", the lock is released, and once space is freed the index reopens with the same answers', () => {
    const disk = join(work.dir, 'disk-full');
    let dbDir = join(work.dir, 'db-full');
    let fault: Fault | undefined;
    if (canMount) {
      mountTmpfs(disk, 'size=64m');
      dbDir = join(disk, 'db');
      cpSync(baseDb, dbDir, { recursive: true });
      fill(disk, 8 * 2 ** 20); // room for data pages, not for another 16 MB WAL segment
    } else {
      cpSync(baseDb, dbDir, { recursive: true });
      fault = { match: '/pg_wal/', after: 4 * 2 ** 20 };
    }

    const r = semcode(['index', '--root', root, '--db-dir', dbDir], fault);
    assert.equal(r.signal, null, 'the run hung and was killed');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^semcode: no space left on ${escape(dbDir)} \\(\\d+ MB free\\)$`, 'm'));
    assert.ok(!existsSync(join(dbDir, 'semcode.lock')), 'the lock file is removed');

    // Reopening while the disk is still full says so, never "PGlite failed to initialize properly": with one
    // page left the lock file fits and PostgreSQL's postmaster.pid does not; with none the lock file does not.
    for (const leave of [4096, 0]) {
      if (canMount) {
        unfill(disk);
        fill(disk, leave);
      } else if (leave === 0) {
        break;
      }
      const full = semcode(['status', '--root', root, '--db-dir', dbDir], fault && { match: '/pgdata/', after: 0 });
      assert.equal(full.code, 2, full.stderr);
      assert.match(full.stderr, new RegExp(`^semcode: no space left on ${escape(dbDir)} \\(\\d+ MB free\\)$`, 'm'));
      assert.doesNotMatch(full.stderr, /failed to initialize|object Object|internal error/);
      assert.ok(!existsSync(join(dbDir, 'semcode.lock')));
    }

    // Space freed: PostgreSQL's crash recovery, as after kill -9; what the first index held is unchanged.
    if (canMount) unfill(disk);
    assert.deepEqual(search(dbDir), baseline);
    const st = semcode(['status', '--root', root, '--db-dir', dbDir, '--json']);
    assert.equal(st.code, 0, st.stderr);
    const cb = parseJson<StatusJson>(st.stdout).codebases[0]!;
    assert.ok(cb.files >= baseFiles && cb.files < baseFiles + 600, 'the run stopped part way');
  });

  test('opening an index on a full disk is "no space left on DIR", and PostgreSQL\'s lock file it could not write does not stop the next open', () => {
    const disk = join(work.dir, 'disk-open');
    let dbDir = join(work.dir, 'db-open');
    let fault: Fault | undefined;
    if (canMount) {
      mountTmpfs(disk, 'size=64m');
      dbDir = join(disk, 'db');
      cpSync(baseDb, dbDir, { recursive: true });
      fill(disk, 4096); // one page: Semcode's lock file fits, PostgreSQL's postmaster.pid does not
    } else {
      cpSync(baseDb, dbDir, { recursive: true });
      fault = { match: 'postmaster.pid', after: 0 };
    }
    const r = semcode(['status', '--root', root, '--db-dir', dbDir], fault);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^semcode: no space left on ${escape(dbDir)} \\(\\d+ MB free\\)$`, 'm'));
    assert.equal(statSync(join(dbDir, 'pgdata', 'postmaster.pid')).size, 0, 'PostgreSQL created its lock file and could not write it');
    assert.ok(!existsSync(join(dbDir, 'semcode.lock')));
    if (canMount) unfill(disk);
    assert.deepEqual(search(dbDir), baseline);
  });

  test('a first index on a disk too small for a new database says "no space left on DIR" and leaves nothing half-made', () => {
    const disk = join(work.dir, 'disk-tiny');
    let dbDir = join(work.dir, 'db-tiny');
    let fault: Fault | undefined;
    if (canMount) {
      mountTmpfs(disk, 'size=30m');
      dbDir = join(disk, 'db');
    } else {
      fault = { match: '/pgdata/', after: 20 * 2 ** 20 };
    }
    const small = join(work.dir, 'small');
    makeProject(small);
    const r = semcode(['index', '--root', small, '--db-dir', dbDir], fault);
    assert.equal(r.signal, null, 'the run hung and was killed');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^semcode: no space left on ${escape(dbDir)} \\(\\d+ MB free\\)$`, 'm'));
    assert.doesNotMatch(r.stderr, /object Object/);
    assert.deepEqual(readdirSync(dbDir), [], 'no half-written pgdata/ (a later open would take it for a database), no lock');

    if (canMount) spawnSync('mount', ['-o', 'remount,size=100m', disk]);
    const ok = semcode(['index', '--root', small, '--db-dir', dbDir, '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(parseJson<IndexJson>(ok.stdout).files, baseFiles);
  });

  test("a PANIC for another reason (EIO writing the WAL) stops with PostgreSQL's own message instead of hanging, and the index reopens", () => {
    const dbDir = join(work.dir, 'db-eio');
    cpSync(baseDb, dbDir, { recursive: true });
    const r = semcode(['index', '--root', root, '--db-dir', dbDir], { match: '/pg_wal/', after: 2 * 2 ** 20, errno: 'EIO' });
    assert.equal(r.signal, null, 'the run hung and was killed');
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`^semcode: the embedded database in ${escape(dbDir)} stopped on a fatal error \\(PANIC: could not write to log file .*I/O error\\)$`, 'm'),
    );
    assert.ok(!existsSync(join(dbDir, 'semcode.lock')));
    assert.deepEqual(search(dbDir), baseline);
  });

  test('opening without create never creates anything: a directory without a database is not_indexed "no index at DIR"', async () => {
    const typo = join(work.dir, 'dbb');
    const empty = join(work.dir, 'empty');
    mkdirSync(empty);
    for (const dir of [typo, empty]) {
      await assert.rejects(openDb({ dir, create: false }), (e) => {
        assert.ok(isSemcodeError(e, 'not_indexed'), String(e));
        assert.equal(e.message, `no index at ${dir}`);
        return true;
      });
    }
    assert.ok(!existsSync(typo), 'the directory is not created');
    assert.deepEqual(readdirSync(empty), [], 'no lock file, no pgdata/');
    const db = await openDb({ dir: baseDb, create: false });
    try {
      assert.ok(Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM chunks')).rows[0]!.n) > 0);
    } finally {
      await db.close();
    }
  });

  test('an unwritable index directory is io_error naming the directory and the reason', async () => {
    const expectIo = async (dir: string, message: RegExp) =>
      assert.rejects(openDb({ dir }), (e) => {
        assert.ok(isSemcodeError(e, 'io_error'), String(e));
        assert.match(e.message, message);
        return true;
      });
    const file = join(work.dir, 'a-file');
    writeFileSync(file, '');
    await expectIo(join(file, 'db'), new RegExp(`^cannot create the index directory ${escape(join(file, 'db'))}: ${escape(file)} is not a directory$`));

    const ro = join(work.dir, 'read-only');
    if (canMount) {
      mountTmpfs(ro, 'ro,size=1m');
      await expectIo(ro, new RegExp(`^cannot write the index directory ${escape(ro)}: read-only file system \\(EROFS\\)$`));
      await expectIo(
        join(ro, 'sub'),
        new RegExp(`^cannot create the index directory ${escape(join(ro, 'sub'))}: read-only file system \\(EROFS\\) at ${escape(ro)}$`),
      );
    } else {
      // root ignores permission bits: the lock file's creation is refused at node's fs instead
      mkdirSync(ro);
      const openSync = fs.openSync;
      fs.openSync = (path: fs.PathLike, ...rest: unknown[]) => {
        if (String(path).startsWith(ro)) throw Object.assign(new Error(`EACCES: permission denied, open '${String(path)}'`), { code: 'EACCES' });
        return (openSync as (...a: unknown[]) => number)(path, ...rest);
      };
      try {
        await expectIo(ro, new RegExp(`^cannot write the index directory ${escape(ro)}: permission denied \\(EACCES\\)$`));
      } finally {
        fs.openSync = openSync;
      }
    }
  });
});
