import { test } from 'node:test';
import assert from 'node:assert/strict';
import { snippetOf } from './search';

test('snippets skip bare comment markers and braces', () => {
  assert.equal(snippetOf('/**\n * Opens the database.\n */\nfunction open() {}'), 'Opens the database.');
  assert.equal(snippetOf('{\n\n  return x;\n}'), 'return x;');
  assert.equal(snippetOf('# Title\ntext'), 'Title');
});

test('snippets skip decorators and annotations but keep a line that starts with @ and says more', () => {
  assert.equal(snippetOf('@property\ndef release(self):\n    return 1'), 'def release(self):');
  assert.equal(snippetOf('@Override\n@SuppressWarnings("x")\npublic int size() {'), 'public int size() {');
  assert.equal(snippetOf('@param x the value'), '@param x the value');
});

test('a one-line doc comment loses its closing marker', () => {
  assert.equal(snippetOf('/** Opens the database and migrates it. */\nexport function open() {}'), 'Opens the database and migrates it.');
  assert.equal(snippetOf('/* a\n   b. */\nx();'), 'a');
});
