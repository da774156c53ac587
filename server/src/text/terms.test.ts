import { test } from 'node:test';
import assert from 'node:assert/strict';
import { partsOf, queryTerms, searchTerms, searchText, stem, stemStoredTerms, symbolWords, wordsOf } from './terms';

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

test('stored and query terms are stemmed alike; symbol words and the Okapi baseline’s terms are not', () => {
  assert.equal(searchText('parseEntries').text, 'parseentry:1 pars:2 entry:3');
  assert.deepEqual(searchTerms('Parsing the entries, parses entry'), ['pars', 'the', 'entry']);
  assert.deepEqual(queryTerms('parsing entries'), ['parsing', 'entries']);
  assert.equal(symbolWords('parseEntries'), 'parseentries:1 parse:2 entries:3');
  assert.equal(symbolWords(null), null);
});

test('an old tsvector’s lexemes stem to what searchText writes for the same text', () => {
  const text = 'parse parsing parses entries entry parse';
  const old = new Map<string, number[]>();
  wordsOf(text).forEach((w, i) => old.set(w, [...(old.get(w) ?? []), i + 1]));
  const fresh = searchText(text);
  assert.deepEqual(stemStoredTerms([...old], fresh.words), { text: fresh.text, bm25: fresh.bm25 });
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
