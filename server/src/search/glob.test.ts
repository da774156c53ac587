import { test } from 'node:test';
import assert from 'node:assert/strict';
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
