// The exported model folder gives the trainer's own vectors through transformers.js's feature-extraction
// pipeline and through Semcode's embedder (worker: static-js, cpu and wasm), for both poolings; the fp16 and int8 table
// variants load and run the same way within their documented tolerance.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openEmbedder } from '../../server/src/embed/embedder';
import { modelInput } from '../../server/src/embed/input';
import { createChunker } from '../../server/src/index/chunker';
import { SHIPPED_MODEL_MAX_BYTES, asExported, exportModel, fromHalf, importModel, tableBytes, toHalf, type TableDtype } from '../../server/src/model/export';
import { minePairs } from '../../server/src/train/pairs';
import { StaticModel, type Pooling } from '../../server/src/model/staticModel';
import { CodeTokenizer } from '../../server/src/model/tokenizer';
import { train } from '../../server/src/train/trainer';

const repo = resolve(__dirname, '..', '..');
/** Documented tolerances (max abs difference per component of the unit vector, vs the fp32 model). */
const TOLERANCE: Record<TableDtype, number> = { fp32: 1e-4, fp16: 1e-3, int8: 1e-2 };

function sourceFiles(dir: string, ext: RegExp, max: number, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    if (out.length >= max) break;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) sourceFiles(p, ext, max, out);
    else if (ext.test(name) && !name.endsWith('.d.ts') && st.size < 300_000) out.push(p);
  }
  return out;
}

let tmp: string;
let tok: CodeTokenizer;
/** real model inputs: code chunks (path + content, as the indexer embeds them) and a few queries */
let inputs: string[];
const models = new Map<Pooling, StaticModel>();

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'semcode-export-'));
  const chunker = await createChunker();
  const chunks = [
    ...sourceFiles(join(repo, 'server/src'), /\.ts$/, 40).map((f) => chunker.chunk(relative(repo, f), readFileSync(f, 'utf8'))),
    ...sourceFiles('/usr/lib/python3.11/email', /\.py$/, 30).map((f) => chunker.chunk(relative('/usr/lib/python3.11', f), readFileSync(f, 'utf8'))),
  ].flat();
  const pairs = minePairs(chunks, 'test').map((p) => ({ query: p.query, code: modelInput({ path: p.path, content: p.code }) }));
  inputs = [...chunks.map(modelInput).filter((_, i) => i % 3 === 0), ...pairs.slice(0, 50).map((p) => p.query), '', '{}', 'x'];
  // A short maxLength, so that truncation is exercised by many chunks.
  tok = CodeTokenizer.learn(
    chunks.map((c) => c.content),
    { maxSize: 5000, maxLength: 96 },
  );
  assert.ok(pairs.length > 100, `${pairs.length} pairs`);
  for (const pooling of ['mean', 'sublinear'] as const) {
    models.set(pooling, train({ pairs, tokenizer: tok, dim: 48, epochs: 2, batchSize: 64, pooling, seed: 2 }));
  }
  console.log(`# ${inputs.length} real inputs, ${pairs.length} training pairs, vocabulary ${tok.size}`);
});

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function pipelineVectors(dir: string, texts: string[]): Promise<Float32Array[]> {
  const tf = await import('@huggingface/transformers');
  tf.env.allowRemoteModels = false;
  tf.env.allowLocalModels = true;
  const pipe = await tf.pipeline('feature-extraction', dir, { dtype: 'fp32', device: 'cpu', local_files_only: true });
  try {
    const out = await pipe(texts, { pooling: 'mean', normalize: true });
    const d = out.dims[1]!;
    const data = out.data as Float32Array;
    return texts.map((_, i) => data.slice(i * d, (i + 1) * d));
  } finally {
    await pipe.dispose();
  }
}

describe('exported model folder', () => {
  for (const pooling of ['mean', 'sublinear'] as const) {
    test(`${pooling} pooling: pipeline('feature-extraction') and openEmbedder (static-js, cpu, wasm) give the trainer's vectors within 1e-4`, async () => {
      const model = models.get(pooling)!;
      const dir = join(tmp, `fp32-${pooling}`);
      await exportModel(model, tok, dir, { card: '# test model\n' });
      for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx', 'README.md']) assert.ok(existsSync(join(dir, f)), f);
      const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as {
        model_type: string;
        hidden_size: number;
        vocab_size: number;
        semcode: { pooling: string };
      };
      assert.equal(config.model_type, 'bert');
      assert.equal(config.hidden_size, model.dim);
      assert.equal(config.vocab_size, tok.size);
      assert.equal(config.semcode.pooling, pooling);

      const expected = inputs.map((t) => model.embed(tok.encode(t)));
      assert.ok(
        inputs.some((t) => tok.encode(t, { truncate: false }).length > tok.maxLength),
        'some inputs are truncated',
      );
      const fromPipe = await pipelineVectors(dir, inputs);
      const pipeDiff = Math.max(...inputs.map((_, i) => maxAbs(fromPipe[i]!, expected[i]!)));
      const results: string[] = [`pipeline ${pipeDiff.toExponential(1)}`];
      assert.ok(pipeDiff <= 1e-4, `pipeline vs trainer: ${pipeDiff}`);
      // static-js (the default for a static folder), the graph on onnxruntime-node, the graph on onnxruntime-web
      for (const [backend, opts] of [
        ['static-js', {}],
        ['cpu', { staticTable: false }],
        ['wasm', { backend: 'wasm' }],
      ] as const) {
        const e = await openEmbedder({ model: dir, batchSize: 16, ...opts });
        try {
          assert.equal(e.backend, backend);
          assert.equal(e.dimension, model.dim);
          const vs = await e.embed(inputs);
          const diff = Math.max(...inputs.map((_, i) => maxAbs(vs[i]!, expected[i]!)));
          results.push(`openEmbedder ${backend} ${diff.toExponential(1)}`);
          assert.ok(diff <= 1e-4, `openEmbedder (${backend}) vs trainer: ${diff}`);
        } finally {
          await e.close();
        }
      }
      console.log(`# ${pooling}: max abs difference ${results.join(', ')}`);
    });
  }

  for (const dtype of ['fp16', 'int8'] as const) {
    test(`${dtype} table: loads and runs through pipeline() and openEmbedder, within ${TOLERANCE[dtype]} of the fp32 vectors`, async () => {
      const model = models.get('sublinear')!;
      const dir = join(tmp, `${dtype}`);
      await exportModel(model, tok, dir, { dtype });
      const fp32Dir = join(tmp, 'fp32-sublinear');
      const size = (await stat(join(dir, 'onnx/model.onnx'))).size;
      const fp32Size = (await stat(join(fp32Dir, 'onnx/model.onnx'))).size;
      assert.ok(size < fp32Size * (dtype === 'fp16' ? 0.55 : 0.3), `${dtype} file ${size} bytes vs fp32 ${fp32Size}`);
      assert.ok(size >= tableBytes(tok.size, model.dim, dtype));

      const exact = asExported(model, dtype); // the rounded table, in JS
      const fromPipe = await pipelineVectors(dir, inputs);
      const e = await openEmbedder({ model: dir });
      let vs: Float32Array[];
      try {
        vs = await e.embed(inputs);
      } finally {
        await e.close();
      }
      let vsExact = 0;
      let vsFp32 = 0;
      let minCos = 1;
      inputs.forEach((t, i) => {
        const ids = tok.encode(t);
        const want = model.embed(ids);
        vsExact = Math.max(vsExact, maxAbs(fromPipe[i]!, exact.embed(ids)), maxAbs(vs[i]!, exact.embed(ids)));
        vsFp32 = Math.max(vsFp32, maxAbs(fromPipe[i]!, want));
        minCos = Math.min(
          minCos,
          want.reduce((s, x, k) => s + x * fromPipe[i]![k]!, 0),
        );
      });
      console.log(
        `# ${dtype}: max abs vs fp32 ${vsFp32.toExponential(2)}, min cosine ${minCos.toFixed(6)}, vs its own rounded table ${vsExact.toExponential(1)}; model.onnx ${size} bytes (fp32 ${fp32Size})`,
      );
      assert.ok(vsExact <= 1e-5, `the graph computes the rounded table exactly: ${vsExact}`);
      assert.ok(vsFp32 <= TOLERANCE[dtype], `${dtype} vs fp32: ${vsFp32}`);
      assert.ok(vsFp32 > 0, 'the variant really is rounded');
    });
  }

  test('importModel reads a folder back (fp32 exactly; fp16/int8 as their rounded tables) for fine-tuning', async () => {
    const model = models.get('sublinear')!;
    for (const dtype of ['fp32', 'fp16', 'int8'] as const) {
      const dir = join(tmp, `import-${dtype}`);
      await exportModel(model, tok, dir, { dtype });
      const back = await importModel(dir);
      assert.equal(back.dtype, dtype);
      assert.deepEqual(back.tokenizer.vocab, tok.vocab);
      assert.equal(back.tokenizer.maxLength, tok.maxLength);
      assert.equal(back.model.pooling, 'sublinear');
      assert.ok(Buffer.from(back.model.table.buffer).equals(Buffer.from(asExported(model, dtype).table.buffer)), dtype);
    }
  });

  test('the size budget: 16k × 256 fp32 or 16k × 512 fp16 fit in 16 MiB; a larger table is refused', async () => {
    assert.equal(tableBytes(16384, 256, 'fp32'), SHIPPED_MODEL_MAX_BYTES);
    assert.equal(tableBytes(16384, 512, 'fp16'), SHIPPED_MODEL_MAX_BYTES);
    assert.ok(tableBytes(65536, 256, 'int8') > SHIPPED_MODEL_MAX_BYTES, 'int8 row scales count too');
    const model = models.get('mean')!;
    await assert.rejects(exportModel(model, tok, join(tmp, 'too-big'), { maxBytes: tableBytes(tok.size, model.dim, 'fp32') - 1 }), /over the limit/);
    await exportModel(model, tok, join(tmp, 'fits'), { dtype: 'fp16', maxBytes: tableBytes(tok.size, model.dim, 'fp32') - 1 });
  });

  test('fp16 conversion rounds to nearest even and round-trips every half value', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = fromHalf(h);
      if (Number.isNaN(v)) continue;
      assert.equal(toHalf(v), h, `half ${h.toString(16)}`);
    }
    assert.equal(toHalf(1 + 2 ** -11), toHalf(1)); // tie → even
    assert.equal(toHalf(1 + 3 * 2 ** -11), toHalf(1 + 2 ** -9)); // tie → even (up)
    assert.equal(fromHalf(toHalf(65520)), Infinity);
    assert.equal(fromHalf(toHalf(2 ** -25)), 0);
    assert.equal(fromHalf(toHalf(3 * 2 ** -26)), 2 ** -24);
  });
});
