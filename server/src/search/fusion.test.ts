import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuseScores, nameMatch } from './fusion';
import { queryTerms } from '../text/terms';

const close = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => Math.abs(x - b[i]!) < 1e-12);
const TEXT = { text: 0.2, name: 0 };

test('the best text match gains exactly the text weight, the others in proportion to their BM25', () => {
  const fused = fuseScores(
    [
      { cos: 0.5, text: 8, name: 0 },
      { cos: 0.5, text: 2, name: 0 },
      { cos: 0.5, text: 0, name: 0 },
    ],
    TEXT,
  );
  assert.ok(close(fused, [0.7, 0.55, 0.5]), String(fused));
});

test('without word evidence the fused scores are the cosines', () => {
  const cands = [
    { cos: 0.9, text: 0, name: 0 },
    { cos: 0.3, text: 0, name: 0 },
    { cos: -0.1, text: 0, name: 0 },
  ];
  assert.ok(close(fuseScores(cands, { text: 0.2, name: 0.6 }), [0.9, 0.3, -0.1]));
});

test('the name match adds its weight times the match', () => {
  const fused = fuseScores(
    [
      { cos: 0.5, text: 0, name: 1 },
      { cos: 0.5, text: 0, name: 0.5 },
    ],
    { text: 0.2, name: 0.6 },
  );
  assert.ok(close(fused, [1.1, 0.8]), String(fused));
});

test('a word match breaks a near-tie in cosine but does not overturn a clear semantic lead', () => {
  const order = (cands: { cos: number; text: number; name: number }[]) => {
    const s = fuseScores(cands, TEXT);
    return cands.map((_, i) => i).sort((a, b) => s[b]! - s[a]!);
  };
  assert.deepEqual(
    order([
      { cos: 0.62, text: 0, name: 0 },
      { cos: 0.6, text: 5, name: 0 },
    ]),
    [1, 0],
  );
  assert.deepEqual(
    order([
      { cos: 0.9, text: 0, name: 0 },
      { cos: 0.6, text: 50, name: 0 },
    ]),
    [0, 1],
  );
});

test('weights 0 are the model alone', () => {
  assert.ok(
    close(
      fuseScores(
        [
          { cos: 0.4, text: 9, name: 1 },
          { cos: 0.5, text: 0, name: 0 },
        ],
        { text: 0, name: 0 },
      ),
      [0.4, 0.5],
    ),
  );
});

const words = (q: string, idf: Record<string, number> = {}) => queryTerms(q).map((word) => ({ word, idf: idf[word] ?? 1 }));

test('a name in the query’s own words matches fully, whatever the inflection', () => {
  assert.equal(nameMatch(words('gets user by id'), 'getUserById'), 1);
  assert.equal(nameMatch(words('parse_config'), 'parseConfig'), 1);
  // every query word is there, but the class adds a word the query lacks ("parser")
  const qualified = nameMatch(words('parse_config'), 'ConfigParser.parseConfig');
  assert.ok(qualified > 0.5 && qualified < 1, String(qualified));
});

test('name match grows with the share of query words the name holds, rare words counting more', () => {
  const q = words('returns the cached user entries', { the: 0.1, returns: 0.5, cached: 3, user: 2, entries: 2 });
  const full = nameMatch(q, 'getCachedUserEntries');
  const partial = nameMatch(q, 'getUser');
  const common = nameMatch(q, 'getThe');
  assert.ok(full > partial && partial > common && common > 0, `${full} ${partial} ${common}`);
});

test('no symbol or no shared word is no name match', () => {
  assert.equal(nameMatch(words('open the database'), null), 0);
  assert.equal(nameMatch(words('open the database'), 'closeSocket'), 0);
  assert.equal(nameMatch([], 'openDatabase'), 0);
});
