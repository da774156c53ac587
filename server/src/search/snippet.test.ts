import { test } from 'node:test';
import assert from 'node:assert/strict';
import { snippetOf } from './search';

test('snippets skip bare comment markers and braces', () => {
  assert.equal(snippetOf('/**\n * Opens the database.\n */\nfunction open() {}'), 'Opens the database.');
  assert.equal(snippetOf('{\n\n  return x;\n}'), 'return x;');
  assert.equal(snippetOf('# Title\ntext'), 'Title');
});
