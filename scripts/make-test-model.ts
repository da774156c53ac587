/**
 * Writes a seeded random BERT-shaped model folder (see test/fixtures/tinyModel.ts).
 *
 *   node --import tsx scripts/make-test-model.ts OUT_DIR [--dim 384 --layers 6 --heads 12 --vocab 30522]
 *        [--seed N] [--max-position N] [--kind bert|corrupt|rank2|nan]
 *
 * The vectors mean nothing: this is for timing a transformer-sized model and for tests, never for search.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeBertModel, writeCorruptModel, writeWrongShapeModel } from '../test/fixtures/tinyModel';

function int(name: string, v: string | undefined, dflt: number | undefined): number | undefined {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer, got '${v}'`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      dim: { type: 'string' },
      layers: { type: 'string' },
      heads: { type: 'string' },
      vocab: { type: 'string' },
      seed: { type: 'string' },
      'max-position': { type: 'string' },
      kind: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length !== 1) {
    console.error(
      'usage: make-test-model.ts OUT_DIR [--dim N] [--layers N] [--heads N] [--vocab N] [--seed N] [--max-position N] [--kind bert|corrupt|rank2|nan]',
    );
    process.exit(values.help ? 0 : 2);
  }
  const out = resolve(positionals[0]!);
  const kind = values.kind ?? 'bert';
  const t = Date.now();
  if (kind === 'corrupt') await writeCorruptModel(out);
  else if (kind === 'rank2' || kind === 'nan') await writeWrongShapeModel(out, kind);
  else if (kind === 'bert') {
    await writeBertModel(out, {
      dim: int('dim', values.dim, 32)!,
      layers: int('layers', values.layers, 0)!,
      heads: int('heads', values.heads, undefined),
      vocab: int('vocab', values.vocab, undefined),
      seed: int('seed', values.seed, undefined),
      maxPosition: int('max-position', values['max-position'], undefined),
    });
  } else {
    console.error(`unknown --kind '${kind}' (bert, corrupt, rank2, nan)`);
    process.exit(2);
  }
  console.error(`wrote ${kind} model to ${out} in ${Date.now() - t} ms`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
