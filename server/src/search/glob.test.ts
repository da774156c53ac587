import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PGlite } from '@electric-sql/pglite';
import { isSemcodeError } from '../errors';
import { globToRegex } from './glob';

const matches = (glob: string, path: string) => new RegExp(globToRegex(glob)).test(path);

test('a pattern without a slash matches the file name at any depth', () => {
  assert.ok(matches('*.ts', 'a.ts'));
  assert.ok(matches('*.ts', 'src/deep/a.ts'));
  assert.ok(!matches('*.ts', 'src/a.tsx'));
  assert.ok(!matches('*.ts', 'src/a.ts/b.js'));
});

test('a pattern with a slash is anchored at the root; ** spans directories', () => {
  assert.ok(matches('src/**', 'src/a/b.go'));
  assert.ok(!matches('src/**', 'lib/src/a.go'));
  assert.ok(matches('src/**/*.go', 'src/a.go'));
  assert.ok(matches('src/**/*.go', 'src/x/y/a.go'));
  assert.ok(!matches('src/*.go', 'src/x/a.go'));
});

test('braces, classes, ? and regex metacharacters', () => {
  assert.ok(matches('*.{ts,js}', 'x/a.js'));
  assert.ok(!matches('*.{ts,js}', 'x/a.py'));
  assert.ok(matches('file?.c', 'file1.c'));
  assert.ok(matches('[ab].c', 'b.c'));
  assert.ok(!matches('[!ab].c', 'b.c'));
  assert.ok(matches('a+b(1).txt', 'a+b(1).txt'));
  assert.ok(!matches('a.b', 'axb'));
});

test('classes: ranges, escapes, literal brackets and dashes; a negated class never matches a slash', () => {
  assert.ok(matches('v[0-9].js', 'v7.js'));
  assert.ok(!matches('v[0-9].js', 'vx.js'));
  assert.ok(matches('[a-]x', '-x'));
  assert.ok(matches('[\\]]x', ']x'));
  assert.ok(matches('[[]x', '[x'));
  assert.ok(matches('[^a]x', 'bx'));
  assert.ok(!matches('src/a[!b]c', 'src/a/c'));
  assert.ok(matches('a[bc', 'a[bc'), 'an unclosed [ is a literal character');
  assert.ok(matches('a}b]', 'a}b]'));
});

test('a glob that means nothing is a usage error naming it, before any SQL', () => {
  for (const [glob, why] of [
    ['[z-a]', 'the range z-a is reversed'],
    ['[]', '[] is an empty character class'],
    ['src/[!].ts', '[!] is an empty character class'],
  ] as const) {
    assert.throws(
      () => globToRegex(glob),
      (e: unknown) => isSemcodeError(e, 'usage') && e.message === `invalid glob ${JSON.stringify(glob)}: ${why}`,
      glob,
    );
  }
});

test('every glob either becomes a regular expression PostgreSQL accepts or is a usage error', async () => {
  // Seeded random globs over the characters that mean something in a glob or a regex.
  const alphabet = ['[', ']', '!', '^', '-', '\\', '{', '}', ',', '*', '?', '/', 'a', 'z', '.', '(', ':', '=', '$', '😀'];
  let seed = 7;
  const rand = (n: number) => {
    // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n) | 0;
  };
  const globs = Array.from({ length: 1000 }, () => Array.from({ length: 1 + rand(8) }, () => alphabet[rand(alphabet.length)]!).join(''));
  const translated: { glob: string; re: string }[] = [];
  for (const glob of globs) {
    try {
      translated.push({ glob, re: globToRegex(glob) });
    } catch (e) {
      assert.ok(isSemcodeError(e, 'usage'), `${glob}: ${String(e)}`);
    }
  }
  assert.ok(translated.length > 0 && translated.length < globs.length, `${globs.length - translated.length} of ${globs.length} rejected`);
  for (const { glob, re } of translated) assert.doesNotThrow(() => new RegExp(re), `${glob} -> ${re}`);
  const pg = await PGlite.create();
  try {
    const all = translated.map((t) => t.re);
    const failed = await pg.query("SELECT count(*) FROM unnest($1::text[]) r WHERE 'src/a.ts' ~ r", [all]).then(
      () => null,
      (e: Error) => e.message,
    );
    if (failed) {
      // Name the glob PostgreSQL refused.
      for (const { glob, re } of translated) {
        await pg.query("SELECT 'src/a.ts' ~ $1", [re]).catch((e: Error) => assert.fail(`${JSON.stringify(glob)} -> ${re}: ${e.message}`));
      }
      assert.fail(failed);
    }
  } finally {
    await pg.close();
  }
});
