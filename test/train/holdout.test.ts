/**
 * The evaluation hold-out and the corpus manifest: the committed list matches the shared one, the manifest
 * names no held-out package and pins exact versions for all five languages, vendored copies are caught
 * by whole path segments only. No network: the fetch script is only run where it refuses before fetching.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { heldOutNames, heldOutProjectInUrl, holdoutMentionPattern, isHeldOutPackage, isVendoredHoldout, parseHoldout } from '../../server/src/train/holdout';
import { estimateDocFunctions, loadManifest, prune, removeVendoredHoldout, sourceDirName, summariseDebCopyright } from '../../scripts/corpus/fetch';

const REPO = resolve(__dirname, '../..');
const COMMITTED = join(REPO, 'corpus', 'eval-holdout.txt');
const SHARED = join(REPO, '..', 'shared', 'eval-holdout.txt');
const MANIFEST = join(REPO, 'corpus', 'manifest.json');

interface Entry {
  kind: 'npm' | 'deb';
  name: string;
  version: string;
  languages: string[];
}
const manifest = (JSON.parse(readFileSync(MANIFEST, 'utf8')) as { sources: Entry[] }).sources;

test('the committed hold-out list is the shared one (or, without shared/, names the three projects)', (t) => {
  const committed = readFileSync(COMMITTED, 'utf8');
  if (existsSync(SHARED)) {
    assert.equal(committed, readFileSync(SHARED, 'utf8'), `corpus/eval-holdout.txt differs from ${SHARED}: copy it again`);
  } else {
    t.diagnostic(`${SHARED} absent: checking the committed copy alone`);
  }
  const projects = parseHoldout(committed).map((p) => p.project);
  for (const p of ['date-fns/date-fns', 'pallets/werkzeug', 'gin-gonic/gin']) assert.ok(projects.includes(p), p);
});

test('the hold-out list parses into npm, Debian source and binary names', () => {
  const n = heldOutNames();
  assert.ok(n.npm.includes('date-fns'));
  for (const d of ['node-date-fns', 'python-werkzeug', 'python3-werkzeug', 'golang-github-gin-gonic-gin', 'golang-github-gin-gonic-gin-dev']) {
    assert.ok(n.deb.includes(d), d);
  }
  assert.ok(isHeldOutPackage('npm', 'date-fns'));
  assert.ok(isHeldOutPackage('deb', 'python3-werkzeug'));
  assert.ok(!isHeldOutPackage('npm', 'date-fns-tz'), 'exact names only');
  assert.ok(!isHeldOutPackage('npm', 'python3-werkzeug'), 'a Debian name is not an npm name');
  assert.deepEqual(parseHoldout('# c\nowner/repo  -  src-pkg  (binary: a, b)\nx/y pkg -\n'), [
    { project: 'owner/repo', npm: null, debSource: 'src-pkg', debBinaries: ['a', 'b'] },
    { project: 'x/y', npm: 'pkg', debSource: null, debBinaries: [] },
  ]);
  assert.throws(() => parseHoldout('just-a-name\n'), /expected/);
});

test('the manifest names no held-out package', () => {
  const bad = manifest.filter((e) => isHeldOutPackage(e.kind, e.name));
  assert.deepEqual(bad, []);
});

test('every manifest entry pins an exact version and names at least one language', () => {
  assert.doesNotThrow(() => loadManifest(MANIFEST));
  for (const e of manifest) {
    const exact = e.kind === 'npm' ? /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/ : /^(?:\d+:)?\d[A-Za-z0-9.+~]*(?:-[A-Za-z0-9.+~]+)?$/;
    assert.match(e.version, exact, `${e.name}: '${e.version}' is not an exact version`);
    assert.ok(Array.isArray(e.languages) && e.languages.length >= 1, `${e.name}: no language`);
  }
});

test('the manifest covers TypeScript/JavaScript, Python, Go, Java and Rust', () => {
  const langs = new Set(manifest.flatMap((e) => e.languages));
  assert.ok(langs.has('typescript') || langs.has('javascript'), 'typescript/javascript');
  for (const l of ['python', 'go', 'java', 'rust']) assert.ok(langs.has(l), l);
});

test('isVendoredHoldout catches copies by whole directory segments, not substrings', () => {
  for (const p of [
    'node_modules/date-fns/index.js',
    'x/werkzeug/routing.py',
    'vendor/github.com/gin-gonic/gin/gin.go',
    'pkg/mod/github.com/gin-gonic/gin@v1.9.1/context.go',
    'usr/lib/python3/dist-packages/Werkzeug/serving.py',
    'usr/share/doc/python3-werkzeug/copyright',
    'node_modules/date-fns/', // a directory
  ]) {
    assert.ok(isVendoredHoldout(p), p);
  }
  for (const p of ['src/engine.go', 'begin/x.ts', 'gin.go', 'werkzeug.py', 'lib/werkzeug_compat/x.py', 'date-fns-tz/index.js', 'origin/main.go']) {
    assert.ok(!isVendoredHoldout(p), p);
  }
});

test('URLs and mentions of a held-out project are recognised exactly', () => {
  assert.equal(heldOutProjectInUrl('git+https://github.com/date-fns/date-fns.git'), 'date-fns/date-fns');
  assert.equal(heldOutProjectInUrl('https://github.com/pallets/werkzeug/'), 'pallets/werkzeug');
  assert.equal(heldOutProjectInUrl('https://github.com/gin-gonic/gin-contrib'), null);
  assert.equal(heldOutProjectInUrl('https://github.com/pallets/flask'), null);
  const re = holdoutMentionPattern();
  assert.ok(re.test('# From mitsuhiko/werkzeug (used with permission).'));
  assert.ok(re.test('import { format } from "date-fns"'));
  assert.ok(re.test('github.com/gin-gonic/gin'));
  assert.ok(!re.test('func begin() { gin := 1 }'), 'the bare word gin is too common to flag');
});

test('fetch refuses a manifest with a held-out entry before fetching anything (exit 2)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'semcode-holdout-'));
  try {
    const m = join(dir, 'manifest.json');
    writeFileSync(
      m,
      JSON.stringify({
        sources: [
          { kind: 'npm', name: 'lodash-es', version: '4.17.21', languages: ['javascript'] },
          { kind: 'deb', name: 'python3-werkzeug', version: '2.2.2-3', languages: ['python'] },
        ],
      }),
    );
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'scripts/corpus/fetch.ts'), '--manifest', m, '--cache', join(dir, 'cache')], {
      encoding: 'utf8',
      cwd: REPO,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /held-out package\(s\).*deb:python3-werkzeug/);
    assert.ok(!existsSync(join(dir, 'cache', 'sources', 'npm-lodash-es-4.17.21')), 'nothing fetched');

    writeFileSync(m, JSON.stringify({ sources: [{ kind: 'npm', name: 'lodash-es', version: '^4.17.0', languages: ['javascript'] }] }));
    const r2 = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'scripts/corpus/fetch.ts'), '--manifest', m, '--cache', join(dir, 'cache')], {
      encoding: 'utf8',
      cwd: REPO,
    });
    assert.equal(r2.status, 2, r2.stderr);
    assert.match(r2.stderr, /not an exact npm version/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cache directory names and the doc-comment estimate', () => {
  assert.equal(sourceDirName({ kind: 'npm', name: '@tanstack/db', version: '0.15.2' }), 'npm-@tanstack__db-0.15.2');
  assert.equal(sourceDirName({ kind: 'deb', name: 'python3-numpy', version: '1:1.24.2-1+deb12u1' }), 'deb-python3-numpy-1_1.24.2-1+deb12u1');
  const ts =
    '/**\n * Adds two numbers together.\n * @param a first\n */\nexport function add(a: number, b: number) { return a + b; }\n' +
    '/** @internal */\nfunction hidden() {}\n';
  assert.equal(estimateDocFunctions('typescript', ts), 1);
  const slashes = '  /// Create a new state from the given configuration.\n  static create(config: Config) {}\n/// <reference types="node" />\n';
  assert.equal(estimateDocFunctions('typescript', slashes), 1);
  const py = 'def f(a,\n      b=(1, 2)) -> int:\n    """Return the sum of a and b."""\n    return a\n\ndef g():\n    return 1\n';
  assert.equal(estimateDocFunctions('python', py), 1);
  const go = '// Add returns the sum of a and b.\nfunc Add(a, b int) int { return a + b }\n\n//go:noinline\nfunc g() {}\n';
  assert.equal(estimateDocFunctions('go', go), 1);
  const rs = '/// Returns the sum of both values.\n#[inline]\npub fn add(a: u8, b: u8) -> u8 { a + b }\n';
  assert.equal(estimateDocFunctions('rust', rs), 1);
  const java = '/**\n * Returns the sum of both values.\n */\n@Override\npublic static int add(int a, int b) { return a + b; }\n';
  assert.equal(estimateDocFunctions('java', java), 1);
});

test('Debian copyright files are summarised', () => {
  const dep5 =
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nSource: https://github.com/x/y\n\n' +
    'Files: *\nCopyright: A\nLicense: MIT or Apache-2.0\n\nFiles: a/*\nCopyright: B\nLicense: Apache-2.0 OR MIT\n\n' +
    'Files: debian/*\nCopyright: C\nLicense: GPL-2+\n\nLicense: GPL-2+\n text\n';
  assert.deepEqual(summariseDebCopyright(dep5), { summary: 'Apache-2.0 OR MIT; GPL-2+', upstream: 'https://github.com/x/y' });
  const free = 'Copyright X\n\nRedistribution and use in source and binary forms, with or without\n... GNU General Public License';
  assert.equal(summariseDebCopyright(free).summary, 'BSD-style (free-form copyright file; also mentions GPL)');
});

test('an extracted tree loses vendored held-out copies and what include/exclude leave out', () => {
  const root = mkdtempSync(join(tmpdir(), 'semcode-tree-'));
  try {
    const files = [
      'package.json',
      'LICENSE',
      'src/a.ts',
      'src/node_modules/date-fns/index.js',
      'src/vendor/github.com/gin-gonic/gin/gin.go',
      'src/begin/x.ts',
      'src/gen/huge.ts',
      'dist/a.js',
    ];
    for (const f of files) {
      mkdirSync(dirname(join(root, f)), { recursive: true });
      writeFileSync(join(root, f), 'x');
    }
    prune({ kind: 'npm', name: 't', version: '1.0.0', languages: ['typescript'], include: ['src/'], exclude: ['src/gen/'] }, root);
    const removed = removeVendoredHoldout(root, 't');
    assert.deepEqual(removed.sort(), ['src/node_modules/date-fns/', 'src/vendor/github.com/gin-gonic/gin/']);
    const left = files.filter((f) => existsSync(join(root, f)));
    assert.deepEqual(left, ['package.json', 'LICENSE', 'src/a.ts', 'src/begin/x.ts']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
