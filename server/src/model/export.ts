/**
 * Writes a StaticModel + CodeTokenizer as a transformers.js feature-extraction model folder, and reads one
 * back (for fine-tuning a shipped model):
 *
 *   config.json            a BERT-type model (model_type bert, hidden_size = dim, no layers)
 *   tokenizer.json         CodeTokenizer.toJSON()
 *   tokenizer_config.json  CodeTokenizer.configJSON() (model_max_length = truncation length)
 *   onnx/model.onnx        inputs input_ids, attention_mask, token_type_ids (int64 [batch, seq]);
 *                          output last_hidden_state (float32 [batch, seq, dim])
 *   README.md              the model card, when given
 *
 * The graph is a table lookup. The pipeline's `{ pooling: 'mean', normalize: true }` (and Semcode's own
 * embedder, which pools the same way) then gives StaticModel.embed()'s vector:
 *   - weights are multiplied into the rows (after normalisation a weighted mean is a mean of weighted rows);
 *   - 'sublinear' pooling scales each position by (1 + ln tf)/tf, tf = the count of its token among the
 *     unmasked positions of its row, computed in the graph (ScatterElements add + GatherElements), so the
 *     mean over positions is Σ_u (1 + ln tf_u)·r_u / n.
 *
 * Table storage (`dtype`): fp32; fp16 (Gather, then Cast to float); int8 with one scale per row (Gather the
 * int8 row and its scale, Cast, Mul). The file is always onnx/model.onnx: its inputs and output are the
 * same in every variant, and transformers.js's `dtype` option only picks a file-name suffix — so every
 * loader (pipeline with dtype 'fp32', Semcode's embedder, the wasm backend) finds it without configuration.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { StaticModel, type Pooling } from './staticModel';
import { CodeTokenizer, PAD_ID } from './tokenizer';

export type TableDtype = 'fp32' | 'fp16' | 'int8';
export const TABLE_DTYPES: readonly TableDtype[] = ['fp32', 'fp16', 'int8'];

export interface ExportOptions {
  /** storage of the table inside model.onnx (default fp32) */
  dtype?: TableDtype;
  /** README.md text */
  card?: string;
  /** written as config.json's `semcode` entry, next to what the exporter records itself */
  meta?: Record<string, unknown>;
  /** refuse to write a table larger than this (the shipped model's budget is SHIPPED_MODEL_MAX_BYTES) */
  maxBytes?: number;
}

/** The size budget of the model shipped with Semcode: 16 MiB of table, e.g. 16k × 256 fp32, 16k × 512 fp16. */
export const SHIPPED_MODEL_MAX_BYTES = 16 * 2 ** 20;

const BYTES: Record<TableDtype, number> = { fp32: 4, fp16: 2, int8: 1 };

/** Bytes of the table as stored (int8 adds one float scale per row). */
export function tableBytes(vocabSize: number, dim: number, dtype: TableDtype): number {
  return vocabSize * dim * BYTES[dtype] + (dtype === 'int8' ? vocabSize * 4 : 0);
}

// ---------------------------------------------------------------------------------------------------------
// Number formats

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of a float32, rounded to nearest, ties to even (as numpy's astype(float16)). */
export function toHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent is still correct
  return sign | h;
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

interface Stored {
  dtype: TableDtype;
  /** fp32: Float32Array; fp16: Uint16Array of bits; int8: Int8Array */
  data: Float32Array | Uint16Array | Int8Array;
  /** int8 only: one scale per row */
  scales?: Float32Array;
}

function store(table: Float32Array, vocabSize: number, dim: number, dtype: TableDtype): Stored {
  if (dtype === 'fp32') return { dtype, data: table };
  if (dtype === 'fp16') {
    const data = new Uint16Array(table.length);
    for (let i = 0; i < table.length; i++) data[i] = toHalf(table[i]!);
    return { dtype, data };
  }
  // Symmetric per-row scale: rows differ in norm by orders of magnitude once IDF weights are folded in.
  const data = new Int8Array(table.length);
  const scales = new Float32Array(vocabSize);
  for (let u = 0; u < vocabSize; u++) {
    let max = 0;
    for (let k = u * dim; k < (u + 1) * dim; k++) max = Math.max(max, Math.abs(table[k]!));
    const scale = Math.fround(max / 127);
    scales[u] = scale;
    if (scale === 0) continue;
    for (let k = u * dim; k < (u + 1) * dim; k++) data[k] = Math.max(-127, Math.min(127, Math.round(table[k]! / scale)));
  }
  return { dtype, data, scales };
}

let halves: Float32Array | undefined;

/** fromHalf of every 16-bit pattern (each is exact in float32): a lookup makes reading a 16 MiB table ~10× faster. */
function halfTable(): Float32Array {
  if (!halves) {
    halves = new Float32Array(0x10000);
    for (let h = 0; h < 0x10000; h++) halves[h] = fromHalf(h);
  }
  return halves;
}

/** The float32 rows the runtime computes from a stored table (what the ONNX graph's Gather/Cast/Mul yield). */
function restore(s: Stored, vocabSize: number, dim: number): Float32Array {
  if (s.dtype === 'fp32') return (s.data as Float32Array).slice();
  const out = new Float32Array(vocabSize * dim);
  if (s.dtype === 'fp16') {
    const d = s.data as Uint16Array;
    const half = halfTable();
    for (let i = 0; i < out.length; i++) out[i] = half[d[i]!]!;
  } else {
    const d = s.data as Int8Array;
    for (let u = 0; u < vocabSize; u++) {
      const scale = s.scales![u]!;
      for (let k = u * dim; k < (u + 1) * dim; k++) out[k] = Math.fround(d[k]! * scale);
    }
  }
  return out;
}

/**
 * The model exactly as a `dtype` export computes it: weights folded, table rounded through the storage
 * format. `embed()` of the result is what the exported folder gives (to float32 rounding of the graph).
 */
export function asExported(model: StaticModel, dtype: TableDtype = 'fp32'): StaticModel {
  const table = restore(store(model.foldedTable(), model.vocabSize, model.dim, dtype), model.vocabSize, model.dim);
  return new StaticModel(model.vocabSize, model.dim, { table, pooling: model.pooling });
}

// ---------------------------------------------------------------------------------------------------------
// The ONNX graph

const T = onnx.TensorProto.DataType;
const ATTR = onnx.AttributeProto.AttributeType;

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function valueInfo(name: string, elemType: number, dims: (string | number)[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  };
}

export interface GraphOptions {
  dtype?: TableDtype;
  /**
   * Bench only: also pool and normalise inside the graph and output `sentence_embedding` [batch, dim]
   * instead of last_hidden_state — what an embedder that skipped JS pooling would run.
   */
  pooledOutput?: boolean;
}

/** model.onnx bytes for a model (weights folded into the table). */
export function onnxModel(model: StaticModel, opts: GraphOptions = {}): Uint8Array {
  const dtype = opts.dtype ?? 'fp32';
  const { vocabSize: V, dim: d } = model;
  const s = store(model.foldedTable(), V, d, dtype);
  const nodes: onnx.INodeProto[] = [];
  const inits: onnx.ITensorProto[] = [];
  let n = 0;
  const op = (opType: string, inputs: string[], attrs: onnx.IAttributeProto[] = [], output?: string): string => {
    const out = output ?? `${opType.toLowerCase()}_${n}`;
    nodes.push({ opType, input: inputs, output: [out], name: `${opType}_${n++}`, attribute: attrs });
    return out;
  };
  const int = (name: string, i: number): onnx.IAttributeProto => ({ name, type: ATTR.INT, i });
  const ints = (name: string, values: number[], dims?: number[]): string => {
    inits.push({ name, dims: dims ?? [values.length], dataType: T.INT64, int64Data: values });
    return name;
  };
  const floats = (name: string, values: number[], dims?: number[]): string => {
    inits.push({ name, dims: dims ?? [values.length], dataType: T.FLOAT, floatData: values });
    return name;
  };

  const elem = { fp32: T.FLOAT, fp16: T.FLOAT16, int8: T.INT8 }[dtype];
  inits.push({ name: 'embeddings', dims: [V, d], dataType: elem, rawData: bytesOf(s.data) });
  let rows = op('Gather', ['embeddings', 'input_ids'], [int('axis', 0)]);
  if (dtype !== 'fp32') rows = op('Cast', [rows], [int('to', T.FLOAT)]);
  if (dtype === 'int8') {
    inits.push({ name: 'row_scales', dims: [V, 1], dataType: T.FLOAT, rawData: bytesOf(s.scales!) });
    rows = op('Mul', [rows, op('Gather', ['row_scales', 'input_ids'], [int('axis', 0)])]);
  }
  const mask = op('Cast', ['attention_mask'], [int('to', T.FLOAT)]); // [b, s]
  if (model.pooling === 'sublinear') {
    // tf of each position's token among the unmasked positions of its row: scatter-add the mask into a
    // [batch, vocab] count table, gather it back per position. O(batch·vocab + batch·seq); comparing all
    // position pairs (Equal + MatMul) gives the same numbers but is O(batch·seq²) and measured no faster.
    const batch = op('Slice', [op('Shape', ['input_ids']), ints('zero_1', [0]), ints('one_1', [1])]);
    const zeros = op(
      'ConstantOfShape',
      [op('Concat', [batch, ints('vocab_1', [V])], [int('axis', 0)])],
      [{ name: 'value', type: ATTR.TENSOR, t: { dims: [1], dataType: T.FLOAT, floatData: [0] } }],
    );
    const counts = op(
      'ScatterElements',
      [zeros, 'input_ids', mask],
      [int('axis', 1), { name: 'reduction', type: ATTR.STRING, s: new TextEncoder().encode('add') }],
    );
    // Padding positions (mask 0) may count 0: clamp to 1 so the factor stays finite; they are masked anyway.
    const tf = op('Max', [op('GatherElements', [counts, 'input_ids'], [int('axis', 1)]), floats('one', [1], [])]);
    const factor = op('Div', [op('Add', [op('Log', [tf]), 'one']), tf]);
    rows = op('Mul', [rows, op('Unsqueeze', [factor, ints('last_axis', [2])])]);
  }
  let outputs: onnx.IValueInfoProto[];
  if (opts.pooledOutput) {
    const m3 = op('Unsqueeze', [mask, ints('last_axis_p', [2])]);
    const sum = op('ReduceSum', [op('Mul', [rows, m3]), ints('seq_axis', [1])], [int('keepdims', 0)]);
    op('LpNormalization', [sum], [int('axis', -1), int('p', 2)], 'sentence_embedding');
    outputs = [valueInfo('sentence_embedding', T.FLOAT, ['batch', d])];
  } else {
    op('Identity', [rows], [], 'last_hidden_state');
    outputs = [valueInfo('last_hidden_state', T.FLOAT, ['batch', 'seq', d])];
  }
  const proto: onnx.IModelProto = {
    irVersion: 8,
    producerName: 'semcode-train',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'static_embeddings',
      node: nodes,
      initializer: inits,
      input: ['input_ids', 'attention_mask', 'token_type_ids'].map((name) => valueInfo(name, T.INT64, ['batch', 'seq'])),
      output: outputs,
    },
  };
  return onnx.ModelProto.encode(proto).finish();
}

// ---------------------------------------------------------------------------------------------------------
// The folder

export function configJSON(model: StaticModel, tokenizer: CodeTokenizer, dtype: TableDtype, meta?: Record<string, unknown>): Record<string, unknown> {
  return {
    model_type: 'bert',
    architectures: ['BertModel'],
    hidden_size: model.dim,
    num_hidden_layers: 0,
    num_attention_heads: 1,
    intermediate_size: model.dim,
    max_position_embeddings: tokenizer.maxLength,
    type_vocab_size: 2,
    vocab_size: model.vocabSize,
    pad_token_id: PAD_ID,
    semcode: { ...meta, kind: 'static', pooling: model.pooling, table_dtype: dtype },
  };
}

export async function exportModel(model: StaticModel, tokenizer: CodeTokenizer, dir: string, opts: ExportOptions = {}): Promise<void> {
  const dtype = opts.dtype ?? 'fp32';
  if (model.vocabSize !== tokenizer.size) throw new Error(`model has ${model.vocabSize} rows but the tokenizer ${tokenizer.size} tokens`);
  const bytes = tableBytes(model.vocabSize, model.dim, dtype);
  if (opts.maxBytes !== undefined && bytes > opts.maxBytes) {
    throw new Error(`a ${model.vocabSize} × ${model.dim} ${dtype} table takes ${bytes} bytes, over the limit of ${opts.maxBytes}`);
  }
  await mkdir(join(dir, 'onnx'), { recursive: true });
  const json = (v: unknown) => JSON.stringify(v, null, 1) + '\n';
  await writeFile(join(dir, 'config.json'), json(configJSON(model, tokenizer, dtype, opts.meta)));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer.toJSON()));
  await writeFile(join(dir, 'tokenizer_config.json'), json(tokenizer.configJSON()));
  await writeFile(join(dir, 'onnx', 'model.onnx'), onnxModel(model, { dtype }));
  if (opts.card !== undefined) await writeFile(join(dir, 'README.md'), opts.card);
}

/** An exported folder as read from disk, before any interpretation beyond the table's storage format. */
export interface ExportedFolder {
  tokenizer: CodeTokenizer;
  /** tokenizer.json and tokenizer_config.json as parsed */
  tokenizerJson: unknown;
  tokenizerConfig: unknown;
  config: {
    hidden_size?: unknown;
    vocab_size?: unknown;
    semcode?: { kind?: unknown; pooling?: unknown; table_dtype?: unknown } & Record<string, unknown>;
  } & Record<string, unknown>;
  graph: onnx.IGraphProto;
  dtype: TableDtype;
  vocabSize: number;
  dim: number;
  /** the float32 rows the graph computes (weights folded, rounded through the storage format) */
  table: Float32Array;
}

/**
 * Reads an exported folder: files, graph and table (checked against the tokenizer, hidden_size and its own
 * byte size). Shared by importModel and the embedder's static fast path (server/src/embed/staticTable.ts).
 * Throws a plain Error naming the file and what is wrong.
 */
export async function readExported(dir: string): Promise<ExportedFolder> {
  const tokenizerJson: unknown = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8'));
  const tokenizerConfig: unknown = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8'));
  const tokenizer = CodeTokenizer.fromJSON(tokenizerJson, tokenizerConfig);
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as ExportedFolder['config'];
  if (config.semcode?.kind !== 'static') throw new Error(`${dir} is not a Semcode static model (config.json has no semcode.kind = static)`);
  const file = join(dir, 'onnx', 'model.onnx');
  const graph = onnx.ModelProto.decode(await readFile(file)).graph ?? {};
  const find = (name: string) => graph.initializer?.find((t) => t.name === name);
  const emb = find('embeddings');
  if (!emb?.dims || emb.dims.length !== 2 || !emb.rawData) throw new Error(`${file} has no embeddings table`);
  const [V, d] = emb.dims.map(Number) as [number, number];
  if (V !== tokenizer.size || d !== config.hidden_size)
    throw new Error(`${file}: table ${V} × ${d} does not match the tokenizer (${tokenizer.size}) and hidden_size (${String(config.hidden_size)})`);
  const raw = emb.rawData;
  const copy = (bytes: Uint8Array, want: number, what: string) => {
    if (bytes.length !== want) throw new Error(`${file}: ${what} has ${bytes.length} bytes; a ${V} × ${d} table needs ${want}`);
    const b = new Uint8Array(bytes.length); // aligned copy: rawData may sit at any offset of the file buffer
    b.set(bytes);
    return b.buffer;
  };
  let s: Stored;
  if (emb.dataType === T.FLOAT) s = { dtype: 'fp32', data: new Float32Array(copy(raw, V * d * 4, 'the fp32 table')) };
  else if (emb.dataType === T.FLOAT16) s = { dtype: 'fp16', data: new Uint16Array(copy(raw, V * d * 2, 'the fp16 table')) };
  else if (emb.dataType === T.INT8) {
    const scales = find('row_scales');
    if (!scales?.rawData) throw new Error(`${file}: int8 table without row_scales`);
    s = { dtype: 'int8', data: new Int8Array(copy(raw, V * d, 'the int8 table')), scales: new Float32Array(copy(scales.rawData, V * 4, 'row_scales')) };
  } else throw new Error(`${file}: unsupported table type ${emb.dataType}`);
  return { tokenizer, tokenizerJson, tokenizerConfig, config, graph, dtype: s.dtype, vocabSize: V, dim: d, table: restore(s, V, d) };
}

/**
 * Reads an exported folder back: the tokenizer and a model whose rows are the exported (weight-folded,
 * storage-rounded) rows, so `embed()` gives the folder's vectors. The starting point of fine-tuning.
 */
export async function importModel(dir: string): Promise<{ model: StaticModel; tokenizer: CodeTokenizer; dtype: TableDtype }> {
  const f = await readExported(dir);
  const model = new StaticModel(f.vocabSize, f.dim, { table: f.table, pooling: (f.config.semcode?.pooling as Pooling | undefined) ?? 'mean' });
  return { model, tokenizer: f.tokenizer, dtype: f.dtype };
}
