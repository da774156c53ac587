import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BM25_PIVOT, SPARSE_DIM, chunkBm25Vector, queryBm25Vector, saturatedTf, termDimension } from './bm25Vector';

test('word dimensions are FNV-1a and never change (stored indexes depend on them)', () => {
  // FNV-1a 32-bit of "a" is 0xe40c292c, of "foobar" 0xbf9cf968 (published test vectors)
  assert.equal(termDimension('a'), (0xe40c292c % SPARSE_DIM) + 1);
  assert.equal(termDimension('foobar'), (0xbf9cf968 % SPARSE_DIM) + 1);
  assert.equal(termDimension(''), (0x811c9dc5 % SPARSE_DIM) + 1);
});

test('a stored weight is BM25 term frequency saturation at the pivot length', () => {
  // k1 1.2, b 0.75: at the pivot length tf 1 weighs 1, and more occurrences saturate towards 2.2
  assert.ok(Math.abs(saturatedTf(1, BM25_PIVOT) - 1) < 1e-12);
  assert.ok(Math.abs(saturatedTf(3, BM25_PIVOT) - (3 * 2.2) / (3 + 1.2)) < 1e-12);
  assert.ok(saturatedTf(1, BM25_PIVOT * 4) < saturatedTf(1, BM25_PIVOT), 'longer chunks weigh a word less');
});

test('vectors list dimensions in order, and a query word given twice adds its weights', () => {
  const [a, b] = [termDimension('get'), termDimension('user')];
  const doc = chunkBm25Vector(
    [
      ['user', 1],
      ['get', 2],
    ],
    BM25_PIVOT,
  );
  const [lo, hi] =
    a < b ? [`${a}:${Number(saturatedTf(2, BM25_PIVOT).toPrecision(7))}`, `${b}:1`] : [`${b}:1`, `${a}:${Number(saturatedTf(2, BM25_PIVOT).toPrecision(7))}`];
  assert.equal(doc, `{${lo},${hi}}/${SPARSE_DIM}`);
  assert.equal(queryBm25Vector(['get', 'get'], [1.5, 2]), `{${a}:3.5}/${SPARSE_DIM}`);
  assert.equal(queryBm25Vector([], []), `{}/${SPARSE_DIM}`);
});
