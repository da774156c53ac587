import { test } from 'node:test';
import assert from 'node:assert/strict';
import { partsOf, queryTerms, searchText, stem, wordsOf } from './terms';

test('identifiers split on camelCase, snake_case and digits, and keep the whole word', () => {
  assert.deepEqual(wordsOf('parseHttpRequest'), ['parsehttprequest', 'parse', 'http', 'request']);
  assert.deepEqual(wordsOf('parse_http_request'), ['parsehttprequest', 'parse', 'http', 'request']);
  assert.deepEqual(wordsOf('HTTPServer utf8Decode'), ['httpserver', 'http', 'server', 'utf8decode', 'utf', '8', 'decode']);
});

test('punctuation and over-long runs are not words', () => {
  assert.deepEqual(wordsOf('a.b(c) -> {d}'), ['a', 'b', 'c', 'd']);
  assert.deepEqual(wordsOf('x'.repeat(100) + ' ok'), ['ok']);
  assert.deepEqual(wordsOf('___'), []);
});

test('search text counts words; query terms are distinct', () => {
  const st = searchText('getUser getUser');
  assert.deepEqual([st.text, st.words], ['getuser:1,4 get:2,5 user:3,6', 6]);
  assert.deepEqual([searchText('').text, searchText('').words, searchText('').bm25], ['', 0, '{}/1000000000']);
  assert.deepEqual(queryTerms('get the user, get it'), ['get', 'the', 'user', 'it']);
});

test('identifier parts drop whole identifiers and numbers', () => {
  assert.deepEqual(partsOf('Cache.getUserById utf8Decode x_2'), ['cache', 'get', 'user', 'by', 'id', 'utf', 'decode', 'x']);
});

test('the stemmer conflates plural and verb endings and leaves short words alone', () => {
  for (const [a, b] of [
    ['returns', 'return'],
    ['entries', 'entry'],
    ['parsing', 'parse'],
    ['parsed', 'parse'],
    ['creates', 'create'],
    ['boxes', 'box'],
    ['running', 'run'],
    ['stopped', 'stops'],
  ]) {
    assert.equal(stem(a!), stem(b!), `${a} ~ ${b}`);
  }
  assert.equal(stem('is'), 'is');
  assert.equal(stem('class'), 'class');
  assert.equal(stem('string'), 'string');
  assert.equal(stem('red'), 'red');
});
