import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { IgnoreRules, Walker, coverPaths, isCovered, isIgnored, listIndexableFiles, type WalkStats, type WalkedFile } from '../server/src/index/walker';
import { ChangeRouter } from '../server/src/lsp/watcher';
import { buildSync } from 'esbuild';

const REPO = resolve(__dirname, '..');
const WALKER = join(REPO, 'server/src/index/walker.ts');

const temps: string[] = [];
after(() => {
  for (const d of temps) {
    // chmod 000 leftovers would make rmSync fail for a non-root user
    try {
      execFileSync('chmod', ['-R', 'u+rwx', d]);
    } catch {
      // nothing to make writable: rmSync below says whether anything is left
    }
    rmSync(d, { recursive: true, force: true });
  }
});

/** A fresh tree under the OS temp dir; keys are posix paths, a trailing '/' makes an empty directory. */
function tree(files: Record<string, string | Buffer> = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'semcode-walker-'));
  temps.push(root);
  for (const [rel, content] of Object.entries(files)) {
    const abs = join(root, rel);
    if (rel.endsWith('/')) {
      mkdirSync(abs, { recursive: true });
      continue;
    }
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, content);
  }
  return root;
}

async function walkAll(root: string, opts?: ConstructorParameters<typeof Walker>[0]) {
  const walker = new Walker(opts);
  const files: WalkedFile[] = [];
  for await (const f of walker.walk(root)) files.push(f);
  return { files, stats: walker.stats, paths: files.map((f) => f.relPath) };
}

function zeroSkips(): WalkStats['skipped'] {
  return { binary: 0, too_large: 0, unreadable: 0, symlink_loop: 0, not_regular: 0, outside_root: 0 };
}

test('nested .gitignore applies to its own subtree, with negation, dir-only, anchored and ** patterns', async () => {
  const root = tree({
    '.gitignore': '*.log\nbuild/\n/top.txt\n',
    'a.log': 'x',
    'top.txt': 'x',
    'secret.txt': 'x',
    build: 'a file named build is not a directory',
    'other/build/out.js': 'x',
    'other/secret.txt': 'x',
    'other/top.txt': 'x',
    'sub/.gitignore': 'secret.txt\n!keep.log\n/local\ndeep/**/gen.ts\n',
    'sub/secret.txt': 'x',
    'sub/keep.log': 'x',
    'sub/local': 'x',
    'sub/x/local': 'x',
    'sub/x/secret.txt': 'x',
    'sub/deep/a/b/gen.ts': 'x',
    'sub/deep/a/b/main.ts': 'x',
    'sub/gen.ts': 'x',
    'keep.log': 'x',
  });
  const { paths, stats } = await walkAll(root);
  assert.deepEqual(paths, [
    '.gitignore',
    'build',
    'other/secret.txt',
    'other/top.txt',
    'secret.txt',
    'sub/.gitignore',
    'sub/deep/a/b/main.ts',
    'sub/gen.ts',
    'sub/keep.log',
    'sub/x/local',
  ]);
  // a.log, keep.log, top.txt, other/build/, sub/secret.txt, sub/local, sub/x/secret.txt, sub/deep/a/b/gen.ts
  assert.equal(stats.ignored, 8);
});

test('.semcodeignore ignores more and re-includes what git ignores (files and directories)', async () => {
  const root = tree({
    '.gitignore': 'dist/\n*.gen.ts\n',
    '.semcodeignore': '!dist/\n!keep.gen.ts\nnotes.md\n',
    'dist/bundle.js': 'x',
    'keep.gen.ts': 'x',
    'other.gen.ts': 'x',
    'notes.md': 'x',
    'src/.gitignore': 'local.ts\n',
    'src/.semcodeignore': '!local.ts\nscratch/\n',
    'src/local.ts': 'x',
    'src/main.ts': 'x',
    'src/scratch/a.ts': 'x',
  });
  const { paths, stats } = await walkAll(root);
  assert.deepEqual(paths, [
    '.gitignore',
    '.semcodeignore',
    'dist/bundle.js',
    'keep.gen.ts',
    'src/.gitignore',
    'src/.semcodeignore',
    'src/local.ts',
    'src/main.ts',
  ]);
  assert.equal(stats.ignored, 3); // notes.md, other.gen.ts, src/scratch/
});

test('ignorePatterns from settings act like a root .semcodeignore', async () => {
  const root = tree({
    '.gitignore': 'gen/\n',
    'a.min.js': 'x',
    'b.js': 'x',
    'gen/x.ts': 'x',
  });
  const { paths } = await walkAll(root, { ignorePatterns: ['*.min.js', '!gen/'] });
  assert.deepEqual(paths, ['.gitignore', 'b.js', 'gen/x.ts']);
});

test('built-in defaults: node_modules is skipped unless re-included; a root inside node_modules is walked', async () => {
  const files = {
    'node_modules/pkg/index.js': 'x',
    'node_modules/pkg/node_modules/dep/index.js': 'x',
    'src/node_modules/y.js': 'x',
    '.semcode/index.db': 'x',
    '.hg/store': 'x',
    '.svn/entries': 'x',
    'src/a.ts': 'x',
  };
  const root = tree(files);
  const plain = await walkAll(root);
  assert.deepEqual(plain.paths, ['src/a.ts']);
  assert.equal(plain.stats.ignored, 5);

  const reincluded = tree({ ...files, '.semcodeignore': '!node_modules/\n' });
  assert.deepEqual((await walkAll(reincluded)).paths, [
    '.semcodeignore',
    'node_modules/pkg/index.js',
    'node_modules/pkg/node_modules/dep/index.js',
    'src/a.ts',
    'src/node_modules/y.js',
  ]);

  const inner = await walkAll(join(root, 'node_modules/pkg'));
  assert.deepEqual(inner.paths, ['index.js']);
});

test('.git is skipped, even when a .gitignore re-includes every directory; .git/info/exclude is honoured', async () => {
  const root = tree({
    '.git/config': '[core]\n',
    '.git/info/exclude': 'excluded.txt\n',
    '.gitignore': '*\n!*/\n!*.ts\n!.gitignore\n',
    'excluded.txt': 'x',
    'a.ts': 'x',
    'a.md': 'x',
    'sub/.git': 'gitdir: ../.git/modules/sub\n',
    'sub/b.ts': 'x',
  });
  const { paths, stats } = await walkAll(root);
  assert.deepEqual(paths, ['.gitignore', 'a.ts', 'sub/b.ts']);
  assert.equal(stats.ignored, 4); // .git/, a.md, excluded.txt, sub/.git

  const withExclude = tree({ '.git/info/exclude': 'excluded.txt\n', 'excluded.txt': 'x', 'kept.txt': 'x' });
  assert.deepEqual((await walkAll(withExclude)).paths, ['kept.txt']);
});

test('agrees with `git ls-files --others --exclude-standard` on a tricky nested tree', { skip: !hasGit() }, async () => {
  const root = tree({
    '.gitignore': 'd*\n!d1\n*.log\nbar/*\n!bar/x\nwe[ird/\n',
    'd1/a': 'x',
    'd2/a': 'x',
    'bar/x': 'x',
    'bar/y': 'x',
    'a.log': 'x',
    'we[ird/z': 'x',
    'x/.gitignore': '!*.log\n/y/\nz\n\\#h\n',
    'x/k.log': 'x',
    'x/y/a': 'x',
    'x/q/y/a': 'x',
    'x/q/z': 'x',
    'x/#h': 'x',
    'x/q/#h': 'x',
    'x/keep': 'x',
    'we*ird/.gitignore': '*\n!keep\n',
    'we*ird/keep': 'x',
    'we*ird/drop': 'x',
    'c/.gitignore': 'foo/\n!foo/bar\n',
    'c/foo/bar': 'x',
    'c/baz/foo': 'a file, so the dir-only rule does not match it',
  });
  execFileSync('git', ['init', '-q'], { cwd: root });
  const git = execFileSync('git', ['ls-files', '-z', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean).sort();
  const mine = (await listIndexableFiles(root)).files.slice().sort();
  assert.ok(git.length > 5, 'git listed the tree');
  assert.deepEqual(mine, git);
});

test('IgnoreRules / isIgnored give the walker’s answer for single paths', async () => {
  const root = tree({
    '.gitignore': 'dist/\n*.log\n',
    '.semcodeignore': '!dist/\n',
    'sub/.gitignore': '!keep.log\n',
  });
  const rules = new IgnoreRules(root);
  assert.equal(await rules.ignores('a.log'), true);
  assert.equal(await rules.ignores('sub/keep.log'), false);
  assert.equal(await rules.ignores('sub/other.log'), true);
  assert.equal(await rules.ignores('dist', true), false);
  assert.equal(await rules.ignores('dist/app.js'), false);
  assert.equal(await rules.ignores('node_modules/x/index.js'), true);
  assert.equal(await rules.ignores('node_modules', true), true);
  assert.equal(await rules.ignores(''), false);
  assert.equal(await isIgnored(root, 'node_modules/x.js'), true);
  assert.equal(await isIgnored(root, 'src/x.ts'), false);
  assert.equal(await isIgnored(root, 'x.min.js', { ignorePatterns: ['*.min.js'] }), true);
});

test('binary files (a NUL in the first 8 KiB) are skipped and counted', async () => {
  const late = Buffer.alloc(9000, 0x61);
  late[8500] = 0;
  const root = tree({
    'bin.dat': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]),
    'nul-after-8k.txt': late,
    'text.txt': 'hello',
  });
  const { paths, stats } = await walkAll(root);
  assert.deepEqual(paths, ['nul-after-8k.txt', 'text.txt']);
  assert.deepEqual(stats.skipped, { ...zeroSkips(), binary: 1 });
});

test('files over maxFileSize are skipped as too_large', async () => {
  const root = tree({ 'big.txt': 'x'.repeat(11), 'fits.txt': 'x'.repeat(10) });
  const { paths, stats } = await walkAll(root, { maxFileSize: 10 });
  assert.deepEqual(paths, ['fits.txt']);
  assert.deepEqual(stats.skipped, { ...zeroSkips(), too_large: 1 });
  assert.deepEqual((await walkAll(root)).paths, ['big.txt', 'fits.txt']);

  // Sparse 3 GiB: reading it first would fail (Node caps readFile at 2 GiB), so only a stat check says too_large.
  const huge = tree({ 'small.ts': 'x', 'huge.bin': '' });
  truncateSync(join(huge, 'huge.bin'), 3 * 1024 ** 3);
  const big = await walkAll(huge);
  assert.deepEqual(big.paths, ['small.ts']);
  assert.deepEqual(big.stats.skipped, { ...zeroSkips(), too_large: 1 });
});

test('symlinks inside the root are followed; links back to an ancestor are counted as symlink_loop and do not hang', { timeout: 20_000 }, async () => {
  const root = tree({ 'a/b/c.ts': 'x', 'real/lib/util.ts': 'export {}', 'real/file.ts': 'y' });
  symlinkSync('..', join(root, 'a/b/up')); // -> a
  symlinkSync(root, join(root, 'a/root')); // -> the root itself
  symlinkSync('self', join(root, 'self')); // ELOOP
  symlinkSync(join(root, 'real/lib'), join(root, 'lib'));
  symlinkSync('real/file.ts', join(root, 'file-link.ts'));
  const { files, stats, paths } = await walkAll(root);
  assert.deepEqual(paths, ['a/b/c.ts', 'file-link.ts', 'lib/util.ts', 'real/file.ts', 'real/lib/util.ts']);
  assert.deepEqual(stats.skipped, { ...zeroSkips(), symlink_loop: 3 });
  const linked = files.find((f) => f.relPath === 'lib/util.ts')!;
  assert.equal(linked.absPath, join(realpathSync(root), 'lib', 'util.ts'));
  assert.equal(linked.text, 'export {}');
});

test('a dangling symlink counts as unreadable', async () => {
  const root = tree({ 'ok.ts': 'x' });
  symlinkSync(join(root, 'missing.ts'), join(root, 'dangling.ts'));
  const { paths, stats } = await walkAll(root);
  assert.deepEqual(paths, ['ok.ts']);
  assert.deepEqual(stats.skipped, { ...zeroSkips(), unreadable: 1 });
});

test('text decoding: invalid UTF-8 becomes U+FFFD, BOM is stripped, CRLF is kept, empty files are yielded', async () => {
  const invalid = Buffer.from([0x61, 0xff, 0xfe, 0x62, 0xc3]);
  const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('const x = 1;\n')]);
  const root = tree({ 'bad.txt': invalid, 'bom.ts': bom, 'crlf.ts': 'a\r\nb\r\n', 'empty.ts': '' });
  const { files } = await walkAll(root);
  const by = new Map(files.map((f) => [f.relPath, f]));
  assert.equal(by.get('bad.txt')!.text, 'a\uFFFD\uFFFDb\uFFFD');
  assert.deepEqual(by.get('bad.txt')!.bytes, invalid);
  assert.equal(by.get('bom.ts')!.text, 'const x = 1;\n');
  assert.deepEqual(by.get('bom.ts')!.bytes, bom, 'bytes stay raw');
  assert.equal(by.get('bom.ts')!.size, bom.length);
  assert.equal(by.get('crlf.ts')!.text, 'a\r\nb\r\n');
  const empty = by.get('empty.ts')!;
  assert.equal(empty.text, '');
  assert.equal(empty.size, 0);
  assert.equal(empty.bytes.length, 0);
  assert.ok(empty.mtimeMs > 0);
});

test('FIFOs and devices are not_regular, and do not block the walk', { timeout: 20_000, skip: process.platform === 'win32' }, async () => {
  const root = tree({ 'a.ts': 'x' });
  execFileSync('mkfifo', [join(root, 'pipe')]);
  symlinkSync('/dev/null', join(root, 'null-link'));
  const { paths, stats } = await walkAll(root);
  assert.deepEqual(paths, ['a.ts']);
  assert.deepEqual(stats.skipped, { ...zeroSkips(), not_regular: 2 });
});

test('unreadable files and directories are counted, not fatal', { skip: process.platform === 'win32' }, async () => {
  const root = tree({ 'ok.ts': 'x', 'locked.ts': 'x', 'closed/inner.ts': 'x' });
  chmodSync(join(root, 'locked.ts'), 0o000);
  chmodSync(join(root, 'closed'), 0o000);
  let result: { files: string[]; stats: WalkStats };
  if (process.getuid?.() === 0) {
    // root ignores permission bits: walk as an unprivileged user instead, so EACCES really happens.
    chmodSync(root, 0o755);
    // The walker bundled into a folder that user can read: the checkout itself may not be (a clone in a
    // private mktemp directory), and then the child could not even load tsx.
    const bundleDir = mkdtempSync(join(tmpdir(), 'semcode-walker-bundle-'));
    chmodSync(bundleDir, 0o755);
    const bundle = join(bundleDir, 'walker.cjs');
    buildSync({ entryPoints: [WALKER], bundle: true, platform: 'node', format: 'cjs', outfile: bundle, logLevel: 'silent' });
    chmodSync(bundle, 0o644);
    const script = `require(${JSON.stringify(bundle)}).listIndexableFiles(${JSON.stringify(root)})` + `.then((r) => process.stdout.write(JSON.stringify(r)))`;
    const child = spawnSync(process.execPath, ['-e', script], {
      cwd: bundleDir,
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
      timeout: 60_000,
    });
    rmSync(bundleDir, { recursive: true, force: true });
    assert.equal(child.status, 0, `child walker failed: ${child.stderr}`);
    result = JSON.parse(child.stdout) as typeof result;
  } else {
    result = await listIndexableFiles(root);
  }
  assert.deepEqual(result.files, ['ok.ts']);
  assert.deepEqual(result.stats.skipped, { ...zeroSkips(), unreadable: 2 });
});

test('order is deterministic: code-unit sort per directory, depth-first, whatever the read concurrency', async () => {
  const files: Record<string, string> = {
    'b.ts': 'x'.repeat(200_000),
    'B.ts': 'x',
    'a/z.ts': 'x'.repeat(300_000),
    'a/y/1.ts': 'x',
    'a.ts': 'x',
    'a-b.ts': 'x',
    '_.ts': 'x',
    'é.ts': 'x',
    'z/': '',
  };
  for (let i = 0; i < 40; i++) files[`many/f${String(i).padStart(2, '0')}.ts`] = 'x'.repeat((i * 7919) % 50_000);
  const root = tree(files);
  // Entries, not whole paths, are sorted: directory `a` precedes `a-b.ts`, so its contents come first.
  const expected = [
    'B.ts',
    '_.ts',
    'a/y/1.ts',
    'a/z.ts',
    'a-b.ts',
    'a.ts',
    'b.ts',
    ...Array.from({ length: 40 }, (_, i) => `many/f${String(i).padStart(2, '0')}.ts`),
    'é.ts',
  ];
  for (const concurrency of [1, 3, 16, 64]) {
    assert.deepEqual((await walkAll(root, { concurrency })).paths, expected, `concurrency ${concurrency}`);
  }
});

test('multi-root: stats accumulate across walk() calls and each file names its real root', async () => {
  const r1 = tree({ 'a.ts': 'x', bin: Buffer.from([0]), 'node_modules/x.js': 'x' });
  const r2 = tree({ 'b.ts': 'x', 'c.ts': 'x', 'big.ts': 'x'.repeat(100) });
  const link = join(tree(), 'link-to-r2');
  symlinkSync(r2, link);
  const walker = new Walker({ maxFileSize: 50 });
  const seen: WalkedFile[] = [];
  for await (const f of walker.walk(r1)) seen.push(f);
  assert.equal(walker.stats.files, 1);
  for await (const f of walker.walk(link)) seen.push(f);
  assert.deepEqual(
    seen.map((f) => [f.root, f.relPath]),
    [
      [realpathSync(r1), 'a.ts'],
      [realpathSync(r2), 'b.ts'],
      [realpathSync(r2), 'c.ts'],
    ],
  );
  assert.equal(seen[1]!.absPath, join(realpathSync(r2), 'b.ts'));
  assert.deepEqual(walker.stats, {
    files: 3,
    skipped: { ...zeroSkips(), binary: 1, too_large: 1 },
    ignored: 1,
  });
});

test('a missing root or a file as root is an error naming it', async () => {
  const base = tree({ 'file.txt': 'x' });
  const missing = join(base, 'no-such-dir');
  await assert.rejects(listIndexableFiles(missing), (e: Error) => {
    assert.ok(e.message.includes(missing), e.message);
    return true;
  });
  const file = join(base, 'file.txt');
  await assert.rejects(listIndexableFiles(file), (e: Error) => {
    assert.ok(e.message.includes(file), e.message);
    assert.match(e.message, /not a directory/);
    return true;
  });
});

test('stopping early leaves no stray failures', async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 50; i++) files[`f${String(i).padStart(2, '0')}.ts`] = 'x';
  const root = tree(files);
  const walker = new Walker({ concurrency: 8 });
  const got: string[] = [];
  for await (const f of walker.walk(root)) {
    got.push(f.relPath);
    if (got.length === 3) break;
  }
  assert.deepEqual(got, ['f00.ts', 'f01.ts', 'f02.ts']);
  assert.equal(walker.stats.files, 3);
});

test('walkPaths reads only the listed files and walks a listed directory with the rules a full walk uses', async () => {
  const root = tree({
    '.gitignore': '*.log\nout/\n',
    'src/a.ts': 'a',
    'src/b.ts': 'b',
    'src/deep/c.ts': 'c',
    'src/deep/x.log': 'log',
    'src/deep/.gitignore': 'gen.ts\n',
    'src/deep/gen.ts': 'generated',
    'src/deep/out/o.ts': 'o',
    'other/d.ts': 'd',
  });
  const walker = new Walker();
  const got: string[] = [];
  for await (const f of walker.walkPaths(root, ['src/a.ts', 'src/deep', 'src/deep/c.ts', './src//a.ts'])) got.push(f.relPath);
  const full = (await walkAll(root)).paths.filter((p) => p.startsWith('src/deep/') || p === 'src/a.ts');
  assert.deepEqual(got.sort(), full.sort());
  assert.deepEqual(got.sort(), ['src/a.ts', 'src/deep/.gitignore', 'src/deep/c.ts']);
  assert.equal(walker.stats.files, 3);
});

test('walkPaths yields nothing for a path that is gone, ignored, inside an ignored directory, binary or too large', async () => {
  const root = tree({
    '.gitignore': 'build/\n*.tmp\n',
    'build/out.js': 'x',
    'note.tmp': 'x',
    'bin.dat': Buffer.from([1, 0, 2]),
    'big.ts': 'x'.repeat(100),
    'ok.ts': 'ok',
    'node_modules/m/index.js': 'x',
  });
  const walker = new Walker({ maxFileSize: 50 });
  const got: string[] = [];
  const listed = ['gone.ts', 'gone/dir', 'build/out.js', 'build', 'note.tmp', 'bin.dat', 'big.ts', 'node_modules/m/index.js', 'ok.ts'];
  for await (const f of walker.walkPaths(root, listed)) got.push(f.relPath);
  assert.deepEqual(got, ['ok.ts']);
  assert.equal(walker.stats.skipped.binary, 1);
  assert.equal(walker.stats.skipped.too_large, 1);
  assert.equal(walker.stats.ignored, 3); // build (covering build/out.js), note.tmp, node_modules/m/index.js
});

test('coverPaths normalises, dedupes, drops paths inside listed directories and paths leaving the root; isCovered matches', () => {
  assert.deepEqual(coverPaths(['b/x.ts', 'a', 'a/b/c.ts', './b//x.ts', '../up.ts', '', '.', 'a.c', 'b/../z']), ['a', 'a.c', 'b/x.ts']);
  assert.equal(isCovered('a/b/c.ts', ['a']), true);
  assert.equal(isCovered('a.c', ['a']), false);
  assert.equal(isCovered('ab/c.ts', ['a']), false);
  assert.equal(isCovered('b/x.ts', ['b/x.ts']), true);
});

// ---------------------------------------------------------------------------------------------------------
// Symlinks leading outside the root (issue 9): not followed unless followExternalLinks.

const SECRET = 'root:x:0:0:OUTSIDE-SECRET-7f3a:/root:/bin/bash';

/** A tree outside every root: a secret file and a small source tree, plus the real root's path. */
function outsideTree() {
  const dir = tree({ passwd: SECRET + '\n', 'lib/util.ts': 'export const outsideUtil = 1; // ' + SECRET, 'lib/deep/x.ts': SECRET });
  return { dir, real: realpathSync(dir) };
}

function assertNothingFrom(outside: string, files: WalkedFile[]): void {
  for (const f of files) {
    assert.ok(!f.text.includes(SECRET), `${f.relPath} carries content from outside the root`);
    assert.ok(!realpathSync(f.absPath).startsWith(outside + '/'), `${f.relPath} is read from outside the root`);
  }
}

test('a file link to a file outside the root is skipped as outside_root, at any depth; its content is never yielded', async () => {
  const out = outsideTree();
  const root = tree({ 'a.ts': 'x', 'sub/deep/b.ts': 'y' });
  symlinkSync(join(out.dir, 'passwd'), join(root, 'passwd')); // absolute target
  symlinkSync(relative(join(root, 'sub/deep'), join(out.dir, 'passwd')), join(root, 'sub/deep/pw.txt')); // relative target
  symlinkSync(join(out.dir, 'lib/util.ts'), join(root, 'sub/util.ts'));
  const { files, stats, paths } = await walkAll(root);
  assert.deepEqual(paths, ['a.ts', 'sub/deep/b.ts']);
  assert.deepEqual(stats.skipped, { ...zeroSkips(), outside_root: 3 });
  assert.equal(stats.files, 2);
  assertNothingFrom(out.real, files);
  // an ignored link stays ignored (counted once, as before)
  writeFileSync(join(root, '.gitignore'), 'passwd\n');
  const ignored = await walkAll(root);
  assert.deepEqual(ignored.stats.skipped, { ...zeroSkips(), outside_root: 2 });
  assert.equal(ignored.stats.ignored, 1);
});

test('a directory link to another tree outside the root is not walked, at any depth', async () => {
  const out = outsideTree();
  const root = tree({ 'src/main.ts': 'x', 'inner/a.ts': 'y' });
  symlinkSync(join(out.dir, 'lib'), join(root, 'vendor'));
  symlinkSync(out.dir, join(root, 'src/ext'));
  // a link inside the root to a directory that holds a link out: the inner link is still checked
  symlinkSync(join(root, 'inner'), join(root, 'alias'));
  symlinkSync(join(out.dir, 'lib/deep'), join(root, 'inner/deep'));
  const { files, stats, paths } = await walkAll(root);
  assert.deepEqual(paths, ['alias/a.ts', 'inner/a.ts', 'src/main.ts']);
  // vendor, src/ext, and inner/deep both as alias/deep and as itself (a plain directory is always walked)
  assert.deepEqual(stats.skipped, { ...zeroSkips(), outside_root: 4 });
  assertNothingFrom(out.real, files);
});
test('links that resolve inside the root behave as before, also when the root is itself a link or a link goes out and back', async () => {
  const out = outsideTree();
  const root = tree({ 'src/a.ts': 'a', 'docs/readme.md': 'r', 'more/m.ts': 'm' });
  symlinkSync(join(root, 'src/a.ts'), join(root, 'a-link.ts')); // file link, absolute target
  symlinkSync('docs', join(root, 'api')); // directory link, relative target
  symlinkSync('..', join(root, 'src/up')); // an ancestor: symlink_loop
  // out and back: b-via -> <outside>/back -> <root>/more; the real path is inside, so it is followed
  symlinkSync(join(root, 'more'), join(out.dir, 'back'));
  symlinkSync(join(out.dir, 'back'), join(root, 'b-via'));
  symlinkSync(join(out.dir, 'passwd'), join(root, 'passwd')); // the one link out
  const rootLink = join(tree(), 'root-link');
  symlinkSync(root, rootLink);
  for (const r of [root, rootLink]) {
    const { files, stats, paths } = await walkAll(r);
    assert.deepEqual(paths, ['a-link.ts', 'api/readme.md', 'b-via/m.ts', 'docs/readme.md', 'more/m.ts', 'src/a.ts'], r);
    assert.deepEqual(stats.skipped, { ...zeroSkips(), symlink_loop: 1, outside_root: 1 }, r);
    assert.equal(files[0]!.text, 'a');
    assert.equal(files[0]!.root, realpathSync(root));
    assertNothingFrom(out.real, files);
  }
});

test('followExternalLinks: true follows links out of the root, still with loop protection', async () => {
  const out = outsideTree();
  const root = tree({ 'a.ts': 'x' });
  symlinkSync(join(out.dir, 'passwd'), join(root, 'passwd'));
  symlinkSync(join(out.dir, 'lib'), join(root, 'vendor'));
  symlinkSync(root, join(out.dir, 'lib/deep/back-to-root')); // a loop through the outside tree
  symlinkSync(join(out.dir, 'lib'), join(out.dir, 'lib/deep/lib-again')); // a loop within it
  const plain = await walkAll(root);
  assert.deepEqual(plain.paths, ['a.ts']);
  assert.deepEqual(plain.stats.skipped, { ...zeroSkips(), outside_root: 2 });

  const followed = await walkAll(root, { followExternalLinks: true });
  assert.deepEqual(followed.paths, ['a.ts', 'passwd', 'vendor/deep/x.ts', 'vendor/util.ts']);
  assert.deepEqual(followed.stats.skipped, { ...zeroSkips(), symlink_loop: 2 });
  assert.equal(followed.files[1]!.text, SECRET + '\n');
  assert.deepEqual((await listIndexableFiles(root, { followExternalLinks: true })).files, followed.paths);
  assert.deepEqual((await listIndexableFiles(root)).files, ['a.ts']);
});

test('walkPaths skips a listed path that is a link out of the root or lies under one, and counts it', async () => {
  const out = outsideTree();
  const root = tree({ 'ok.ts': 'ok', 'inner/a.ts': 'a' });
  symlinkSync(join(out.dir, 'passwd'), join(root, 'passwd'));
  symlinkSync(join(out.dir, 'lib'), join(root, 'vendor'));
  symlinkSync(join(root, 'inner'), join(root, 'alias')); // inside
  symlinkSync(join(out.dir, 'lib'), join(root, 'inner/ext')); // out, also reachable as alias/ext
  // vendor/back/a.ts resolves to <root>/inner/a.ts, but only through vendor: a full walk never yields it
  symlinkSync(join(root, 'inner'), join(out.dir, 'lib/back'));
  const walk = async (listed: string[], opts?: ConstructorParameters<typeof Walker>[0]) => {
    const walker = new Walker(opts);
    const files: WalkedFile[] = [];
    for await (const f of walker.walkPaths(root, listed)) files.push(f);
    return { files, stats: walker.stats, paths: files.map((f) => f.relPath) };
  };
  const listed = ['passwd', 'vendor/util.ts', 'vendor/deep', 'vendor/back/a.ts', 'alias/ext/util.ts', 'inner/ext', 'alias/a.ts', 'ok.ts'];
  const got = await walk(listed);
  assert.deepEqual(got.paths, ['alias/a.ts', 'ok.ts']);
  assert.deepEqual(got.stats.skipped, { ...zeroSkips(), outside_root: 6 });
  assertNothingFrom(out.real, got.files);

  const dir = await walk(['vendor']);
  assert.deepEqual(dir.paths, []);
  assert.deepEqual(dir.stats.skipped, { ...zeroSkips(), outside_root: 1 });

  const followed = await walk(['passwd', 'vendor/util.ts', 'vendor/back/a.ts'], { followExternalLinks: true });
  assert.deepEqual(followed.paths, ['passwd', 'vendor/back/a.ts', 'vendor/util.ts']);
  assert.equal(followed.files[0]!.text, SECRET + '\n');
  assert.deepEqual(followed.stats.skipped, zeroSkips());
});

test('ignore rules read no ignore file through a link out of the root; the watcher hands such paths to the walker', async () => {
  const out = tree({ 'lib/.gitignore': '*.ts\n', 'lib/a.ts': 'x' });
  const root = tree({ 'src/.gitignore': '*.log\n', 'src/x.log': 'x' });
  symlinkSync(join(out, 'lib'), join(root, 'vendor'));
  symlinkSync(join(root, 'src'), join(root, 'alias'));
  const rules = new IgnoreRules(root);
  assert.equal(await rules.ignores('vendor/a.ts'), false, 'vendor/.gitignore is outside the root: not read');
  assert.equal(await rules.ignores('alias/x.log'), true, 'a link inside the root keeps its ignore files');
  assert.equal(await new IgnoreRules(root, { followExternalLinks: true }).ignores('vendor/a.ts'), true);

  const router = new ChangeRouter({ roots: () => [root], ignorePatterns: () => [], excluded: () => [] });
  const routed = await router.route([join(root, 'vendor/a.ts'), join(root, 'alias/x.log')]);
  assert.deepEqual(routed.paths.get(root), ['vendor/a.ts']);
  const walker = new Walker();
  for await (const f of walker.walkPaths(root, routed.paths.get(root)!)) assert.fail(`yielded ${f.relPath}`);
  assert.deepEqual(walker.stats.skipped, { ...zeroSkips(), outside_root: 1 });
});

function hasGit(): boolean {
  try {
    execFileSync('git', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
