// Retrieval metrics and the BM25 baseline: hand-computed values, determinism of the bootstrap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Bm25, mrrAt, pairedBootstrap, recallAt, seededRandom } from './metrics';

const close = (actual: number, expected: number, eps = 1e-9): void => assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);

test('MRR@k and recall@k on hand-computed ranks', () => {
  const ranks = [1, 2, Infinity, 5, 11];
  close(mrrAt(ranks), (1 + 1 / 2 + 0 + 1 / 5 + 0) / 5); // 0.34; rank 11 is outside the top 10
  close(mrrAt(ranks, 20), (1 + 1 / 2 + 1 / 5 + 1 / 11) / 5);
  close(mrrAt(ranks, 1), 1 / 5);
  close(recallAt(ranks, 1), 1 / 5);
  close(recallAt(ranks, 5), 3 / 5);
  close(recallAt(ranks, 10), 3 / 5);
  close(recallAt(ranks, 20), 4 / 5);
  assert.ok(Number.isNaN(mrrAt([])));
  assert.throws(() => recallAt(ranks, 0), RangeError);
});

test('paired bootstrap: seeded, ~1 when after is clearly better, 0.5 when equal, ~0 when worse', () => {
  const rand = seededRandom(11);
  const before = Array.from({ length: 200 }, () => rand());
  const better = before.map((b) => Math.min(1, b + 0.3));
  const worse = before.map((b) => b - 0.3);
  assert.ok(pairedBootstrap(before, better, 1000, 1) > 0.99);
  assert.ok(pairedBootstrap(before, worse, 1000, 1) < 0.01);
  assert.equal(pairedBootstrap(before, before, 1000, 1), 0.5);
  // the same scores reshuffled: no real difference, the share lands near the middle
  const noisy = before.map((_, i) => before[(i * 7 + 3) % before.length]!);
  const p = pairedBootstrap(before, noisy, 2000, 5);
  assert.ok(p > 0.05 && p < 0.95, `${p}`);
  assert.equal(pairedBootstrap(before, noisy, 2000, 5), p, 'same seed, same answer');
  assert.notEqual(pairedBootstrap(before, noisy, 2000, 6), p, 'another seed draws other resamples');
  assert.throws(() => pairedBootstrap([1, 2], [1], 10, 1), RangeError);
});

test('BM25 matches a hand-computed score', () => {
  // lengths 3, 2, 4 → avgdl 3; N = 3
  const bm = new Bm25(['alpha beta beta', 'gamma delta', 'alpha gamma gamma gamma']);
  // beta: n = 1, idf = ln(1 + 2.5/1.5) = ln(8/3); doc 0: tf 2, |d| = avgdl so norm = k1 = 1.2
  //   2 · 2.2 / (2 + 1.2) = 1.375
  // alpha: n = 2, idf = ln(1 + 1.5/2.5) = ln(1.6); doc 0: tf 1 → 1 · 2.2 / (1 + 1.2) = 1
  const expected = Math.log(1.6) * 1 + Math.log(8 / 3) * 1.375;
  close(bm.score('alpha beta', 0), expected);
  // doc 2: alpha tf 1, |d| = 4 → norm = 1.2 · (0.25 + 0.75 · 4/3) = 1.5; 2.2 / 2.5 = 0.88
  close(bm.score('alpha beta', 2), Math.log(1.6) * 0.88);
  close(bm.score('alpha beta', 1), 0);
  // a repeated query word counts once, as in the server's text search
  close(bm.score('beta beta alpha', 0), expected);
  assert.deepEqual(bm.rank('alpha beta', 10), [0, 2]);
});

test('BM25 ranks the obvious code first, splitting identifiers', () => {
  const docs = [
    'function sendEmail(to, body) {\n  return smtp.send({ to, body });\n}',
    'function parseJsonConfig(path) {\n  return JSON.parse(fs.readFileSync(path, "utf8"));\n}',
    'class HttpServer {\n  listen(port) { this.server.listen(port); }\n}',
    'def read_config_file(path):\n    with open(path) as fh:\n        return fh.read()',
  ];
  const bm = new Bm25(docs);
  assert.equal(bm.rank('parse the json config', 3)[0], 1);
  assert.equal(bm.rank('send an email', 3)[0], 0);
  assert.equal(bm.rank('start the http server listening on a port', 3)[0], 2);
  assert.equal(bm.rank('read config file', 1)[0], 3);
  assert.equal(bm.rank('read config file', 1).length, 1, 'at most k');
  assert.deepEqual(bm.rank('zzz unknown words', 5), [], 'nothing matches, nothing ranked');
});

test('BM25 ties go to the lower index and ranks agree with scores', () => {
  const docs = Array.from({ length: 300 }, (_, i) => `item${i % 7} common word${i % 13} ${i % 2 ? 'odd' : 'even'}`);
  const bm = new Bm25(docs);
  const q = 'common odd word3';
  const ranked = bm.rank(q, 25);
  const brute = docs
    .map((_, i) => ({ i, s: bm.score(q, i) }))
    .filter((x) => x.s > 0)
    .sort((a, b) => b.s - a.s || a.i - b.i)
    .slice(0, 25)
    .map((x) => x.i);
  assert.deepEqual(ranked, brute);
  assert.deepEqual(bm.rank('common', 3), [0, 1, 2]);
});
