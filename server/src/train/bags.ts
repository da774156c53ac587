/**
 * Training texts as bags of distinct token ids with their counts (CSR arrays), encoded once before training,
 * and the IDF weights computed from them. Apart from the training loop because it is the data side: how
 * texts become the sparse inputs every step, evaluation and gradient check read.
 */
import type { CodeTokenizer } from '../model/tokenizer';

/**
 * Texts as bags of distinct tokens, in CSR form: text t has ids[offs[t]..offs[t+1]) with counts tf. The
 * pooling factor and weight are applied when the bag is used, so one encoding serves any model.
 */
export interface Bags {
  offs: Int32Array;
  ids: Int32Array;
  tf: Uint16Array;
  count: number;
}

export function encodeBags(texts: Iterable<string>, tokenizer: CodeTokenizer): Bags {
  return bagsOfIds(
    (function* () {
      for (const t of texts) yield tokenizer.encode(t);
    })(),
    tokenizer.size,
  );
}

/** Bags of already-encoded texts. */
export function bagsOfIds(encoded: Iterable<Int32Array>, vocabSize: number): Bags {
  const counts = new Int32Array(vocabSize);
  let offs = new Int32Array(1024);
  let ids = new Int32Array(1 << 16);
  let tf = new Uint16Array(1 << 16);
  let n = 0;
  let total = 0;
  for (const enc of encoded) {
    if (total + enc.length > ids.length) {
      const cap = Math.max(ids.length * 2, total + enc.length);
      const i2 = new Int32Array(cap);
      i2.set(ids.subarray(0, total));
      ids = i2;
      const t2 = new Uint16Array(cap);
      t2.set(tf.subarray(0, total));
      tf = t2;
    }
    for (let k = 0; k < enc.length; k++) counts[enc[k]!]!++;
    for (let k = 0; k < enc.length; k++) {
      const id = enc[k]!;
      if (counts[id] === 0) continue;
      ids[total] = id;
      tf[total++] = Math.min(counts[id]!, 0xffff);
      counts[id] = 0;
    }
    if (n + 2 > offs.length) {
      const o2 = new Int32Array(offs.length * 2);
      o2.set(offs);
      offs = o2;
    }
    offs[++n] = total;
  }
  return { offs: offs.slice(0, n + 1), ids: ids.slice(0, total), tf: tf.slice(0, total), count: n };
}

/** Smoothed IDF over a set of bags: ln((1 + N) / (1 + df)) + 1, so no token gets weight 0. */
export function idfWeights(bags: Bags[], vocabSize: number): Float32Array {
  const df = new Float64Array(vocabSize);
  let docs = 0;
  for (const b of bags) {
    docs += b.count;
    for (let i = 0; i < b.offs[b.count]!; i++) df[b.ids[i]!]!++;
  }
  const w = new Float32Array(vocabSize);
  for (let u = 0; u < vocabSize; u++) w[u] = Math.log((1 + docs) / (1 + df[u]!)) + 1;
  return w;
}
