/**
 * The fast path for Semcode's own static models (config.json `semcode.kind = "static"`, written by
 * server/src/model/export.ts): CodeTokenizer.encode, a gather of the table rows, the graph's pooling and L2
 * normalisation, all in JavaScript. The ONNX graph of such a model is only a table lookup, so running it
 * through transformers.js costs a tokenizer written for general models, int64 tensors and a
 * [batch, seq, dim] output for nothing; this computes the same vectors (to ~1e-7; test/embedder.test.ts
 * holds it to the pipeline within 1e-5) with about 8× less CPU per chunk (npm run bench:embed).
 *
 * The pipeline stays the reference, so the folder must be exactly what the exporter writes: tokenizer.json
 * and tokenizer_config.json equal to what CodeTokenizer writes for that vocabulary, the exporter's graph
 * node for node, a table of the declared dtype and size. Anything else is model_corrupt naming what
 * differs, never a silent fallback to ONNX runtime (which could give other vectors than this code).
 */
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { SemcodeError, errorMessage } from '../errors';
import { TABLE_DTYPES, onnxModel, readExported, type ExportedFolder, type TableDtype } from '../model/export';
import { POOLINGS, StaticModel, type Pooling } from '../model/staticModel';

export interface StaticTable {
  readonly dim: number;
  readonly dtype: TableDtype;
  readonly pooling: Pooling;
  /** tokens kept per text, [CLS] and [SEP] included: the pipeline's truncation length */
  readonly maxLength: number;
  /** The unit-length vector of one text; model_output if it is all zero or not finite. */
  embed(text: string): Float32Array;
}

const encoded = (m: { encode(v: never): { finish(): Uint8Array } }, v: unknown) => Buffer.from(m.encode(v as never).finish());

/** The first difference between the folder's graph and the exporter's graph for the same declaration. */
function graphDifference(f: ExportedFolder, pooling: Pooling, dtype: TableDtype): string | null {
  // The exporter's graph for this vocabulary, pooling and dtype, built at width 1 (a table of the real width
  // would cost a second copy of it): the width appears only in the table, checked by readExported, and in
  // the declared output shape, set here. Everything else must match byte for byte once re-encoded.
  const ref = onnx.ModelProto.decode(onnxModel(new StaticModel(f.vocabSize, 1, { pooling }), { dtype })).graph!;
  for (const o of ref.output ?? []) {
    const dims = o.type?.tensorType?.shape?.dim;
    if (dims?.length) dims[dims.length - 1]!.dimValue = f.dim;
  }
  const got = f.graph;
  const list = <T>(name: string, a: T[] | null | undefined, b: T[] | null | undefined, m: Parameters<typeof encoded>[0], key: (x: T) => string) => {
    const [x, y] = [a ?? [], b ?? []];
    if (x.length !== y.length) return `${x.length} ${name} where the exporter writes ${y.length}`;
    for (let i = 0; i < x.length; i++)
      if (!encoded(m, x[i]).equals(encoded(m, y[i]))) return `${name} ${i} (${key(x[i]!)}) differs from the exporter's (${key(y[i]!)})`;
    return null;
  };
  const tables = new Set(['embeddings', 'row_scales']);
  const inits = (g: onnx.IGraphProto) => (g.initializer ?? []).filter((t) => !tables.has(t.name ?? ''));
  return (
    list('nodes', got.node, ref.node, onnx.NodeProto, (n) => n.opType ?? '?') ??
    list('inputs', got.input, ref.input, onnx.ValueInfoProto, (v) => v.name ?? '?') ??
    list('outputs', got.output, ref.output, onnx.ValueInfoProto, (v) => v.name ?? '?') ??
    list('constants', inits(got), inits(ref), onnx.TensorProto, (t) => t.name ?? '?') ??
    (dtype !== 'int8' && got.initializer?.some((t) => t.name === 'row_scales') ? 'row_scales present without an int8 table' : null)
  );
}

/**
 * Reads and validates a static model folder. `maxLength` is the truncation the pipeline applies (the
 * smaller of model_max_length and max_position_embeddings, as the embedder computes it for every model).
 */
export async function loadStaticTable(dir: string, maxLength: number | null): Promise<StaticTable> {
  const corrupt = (what: string, cause?: unknown) =>
    new SemcodeError('model_corrupt', `static model ${dir} cannot be read by the static table path: ${what}`, cause === undefined ? undefined : { cause });
  let f: ExportedFolder;
  try {
    f = await readExported(dir);
  } catch (e) {
    throw corrupt(errorMessage(e), e);
  }
  const s = f.config.semcode ?? {};
  if (typeof s.pooling !== 'string' || !POOLINGS.includes(s.pooling as Pooling)) {
    throw corrupt(`config.json semcode.pooling is ${JSON.stringify(s.pooling)}; expected one of ${POOLINGS.join(', ')}`);
  }
  const pooling = s.pooling as Pooling;
  if (typeof s.table_dtype !== 'string' || !TABLE_DTYPES.includes(s.table_dtype as TableDtype)) {
    throw corrupt(`config.json semcode.table_dtype is ${JSON.stringify(s.table_dtype)}; expected one of ${TABLE_DTYPES.join(', ')}`);
  }
  if (s.table_dtype !== f.dtype) throw corrupt(`config.json declares a ${s.table_dtype} table but onnx/model.onnx holds ${f.dtype}`);
  if (f.config.vocab_size !== undefined && f.config.vocab_size !== f.vocabSize) {
    throw corrupt(`config.json vocab_size ${JSON.stringify(f.config.vocab_size)} but the table has ${f.vocabSize} rows`);
  }
  // The JS tokenizer implements exactly the tokenizer.json CodeTokenizer writes; a hand-edited normalizer,
  // pre-tokenizer or template would make transformers.js tokenize differently.
  const tj = f.tokenizerJson as Record<string, unknown>;
  const want = f.tokenizer.toJSON();
  const keys = [...new Set([...Object.keys(tj), ...Object.keys(want)])];
  const badKey = keys.find((k) => !isDeepStrictEqual(tj[k], want[k]));
  if (badKey !== undefined) throw corrupt(`${join(dir, 'tokenizer.json')}: "${badKey}" is not what Semcode's code tokenizer writes`);
  const tc = f.tokenizerConfig as Record<string, unknown>;
  const wantTc = { ...f.tokenizer.configJSON(), model_max_length: tc.model_max_length };
  const badTc = [...new Set([...Object.keys(tc), ...Object.keys(wantTc)])].find((k) => !isDeepStrictEqual(tc[k], (wantTc as Record<string, unknown>)[k]));
  if (badTc !== undefined) throw corrupt(`${join(dir, 'tokenizer_config.json')}: "${badTc}" is not what Semcode's code tokenizer writes`);
  const graphDiff = graphDifference(f, pooling, f.dtype);
  if (graphDiff) throw corrupt(`${join(dir, 'onnx', 'model.onnx')} is not the graph Semcode's exporter writes: ${graphDiff}`);

  const limit = maxLength ?? f.tokenizer.maxLength;
  const model = new StaticModel(f.vocabSize, f.dim, { table: f.table, pooling });
  const tokenizer = f.tokenizer;
  return {
    dim: f.dim,
    dtype: f.dtype,
    pooling,
    maxLength: limit,
    embed(text) {
      const v = model.embed(tokenizer.encode(text, { maxLength: limit }));
      // StaticModel.embed leaves an all-zero sum at zero and lets NaN/Infinity through as NaN.
      let ss = 0;
      for (let k = 0; k < v.length; k++) ss += v[k]! * v[k]!;
      if (!(Math.abs(ss - 1) < 1e-3)) {
        throw new SemcodeError(
          'model_output',
          `static model ${dir} gave ${ss === 0 ? 'an all-zero' : 'a non-finite (NaN/Infinity)'} vector; refusing to index it`,
        );
      }
      return v;
    },
  };
}
