// The code tokenizer: its JS fast path must give transformers.js's ids for the tokenizer.json it writes, on
// real code from this repository, node_modules and Python's standard library (thousands of snippets), with
// and without truncation, singly and batched with padding as the embedder calls it.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLS_ID, CodeTokenizer, SEP_ID, UNK_ID, learnVocab, words } from '../../server/src/model/tokenizer';

const repo = resolve(__dirname, '..', '..');

/** Source files under `dir` (sorted, so the corpus is the same on every run), at most `max`. */
function sourceFiles(dir: string, ext: RegExp, max: number, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    if (out.length >= max) break;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) {
      if (name !== 'node_modules' && !name.startsWith('.')) sourceFiles(p, ext, max, out);
    } else if (ext.test(name) && st.size < 200_000) out.push(p);
  }
  return out;
}

/** 25-line windows of each file, like chunks. */
function windows(text: string, lines = 25): string[] {
  const ls = text.split('\n');
  const out: string[] = [];
  for (let i = 0; i < ls.length; i += lines) out.push(ls.slice(i, i + lines).join('\n'));
  return out;
}

// Vocabulary from one half of the files, snippets from all: plenty of words the vocabulary never saw.
const files = [
  ...sourceFiles(join(repo, 'server/src'), /\.ts$/, 200),
  ...sourceFiles(join(repo, 'node_modules/@huggingface/transformers/src'), /\.js$/, 120),
  ...sourceFiles(join(repo, 'node_modules/pg/lib'), /\.js$/, 40),
  ...sourceFiles(join(repo, 'node_modules/web-tree-sitter'), /\.(ts|js)$/, 10),
  ...sourceFiles('/usr/lib/python3.11/json', /\.py$/, 20),
  ...sourceFiles('/usr/lib/python3.11/email', /\.py$/, 40),
  ...sourceFiles('/usr/lib/python3.11/asyncio', /\.py$/, 40),
  ...sourceFiles('/usr/lib/python3.11/logging', /\.py$/, 10),
  ...sourceFiles('/usr/lib/python3.11/importlib', /\.py$/, 30),
  ...sourceFiles('/usr/lib/python3.11/multiprocessing', /\.py$/, 30),
];
const texts = files.map((f) => readFileSync(f, 'utf8'));

const EDGE_CASES = [
  '',
  '   \n\t ',
  '{}[]();',
  'getHTTPResponse_code2 XMLHttpRequest parseJSON IOError __init__ SCREAMING_SNAKE_CASE kebab-case-name',
  'utf8 int64 sha256 base64 0x7fffffff 1e-12 3.14159 v8 x86_64 i18n 404 2024-01-31',
  'İstanbul \u212Aelvin ǅemal ﬁle STRASSE straße Ωmega',
  '日本語のコメント // émigré naïve café — “quotes” 🚀 emoji𝒳 \u0000 \uFEFF bom',
  'literal [CLS] and [SEP] and [UNK] and ##piece and [PAD] in source',
  'aVeryLongIdentifierNameThatKeepsGoingAndGoingAndGoingForeverAndEver',
  'x'.repeat(33) + ' ' + 'y'.repeat(32) + ' ' + 'abc123def456ghi789jkl012mno345pqr678',
  'deadbeefcafebabe0123456789abcdef0123456789abcdef 5f4dcc3b5aa765d61d8327deb882cf99',
  'ABCDef ABCdEF aBC ABC1Def a1B2c3D4 HTMLElement HTML5Parser getURLsFromHTML',
  'snake_case_name __dunder__ _private CONSTANT_VALUE mixed_Case_Name',
  Array.from({ length: 3000 }, (_, i) => `token${i % 97} camelCase${i % 13}`).join(' '), // very long input
];

let tok: CodeTokenizer;
let dir: string;
let auto: (text: string | string[], opts?: object) => { input_ids: number[] | number[][]; attention_mask: number[] | number[][] };
let snippets: string[];

before(async () => {
  assert.ok(files.length > 200, `expected real source files, found ${files.length}`);
  tok = CodeTokenizer.learn(
    texts.filter((_, i) => i % 2 === 0),
    { maxSize: 6000, maxLength: 128 },
  );
  snippets = [...texts.flatMap((t) => windows(t)), ...EDGE_CASES];
  dir = await mkdtemp(join(tmpdir(), 'semcode-tok-'));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tok.toJSON()));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(tok.configJSON()));
  await writeFile(join(dir, 'config.json'), JSON.stringify({ model_type: 'bert' }));
  const tf = await import('@huggingface/transformers');
  tf.env.allowRemoteModels = false;
  tf.env.allowLocalModels = true;
  const t = await tf.AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  auto = (text, opts = {}) => t(text, { ...opts, return_tensor: false });
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe('CodeTokenizer vs transformers.js AutoTokenizer', () => {
  test('identical ids on thousands of real snippets, untruncated', () => {
    assert.ok(snippets.length > 3000, `${snippets.length} snippets`);
    let tokens = 0;
    for (const s of snippets) {
      const mine = tok.encode(s, { truncate: false });
      const theirs = auto(s).input_ids as number[];
      const at = firstDiff(mine, theirs);
      assert.equal(at, -1, `snippet ${JSON.stringify(s.slice(0, 120))}: differs at ${at}: ${tok.vocab[mine[at]!]} vs ${tok.vocab[theirs[at]!]}`);
      tokens += mine.length;
    }
    console.log(`# ${snippets.length} snippets, ${tokens} tokens, identical`);
  });

  test('identical ids with truncation to model_max_length, and batched with padding as the embedder calls it', () => {
    let cut = 0;
    for (let i = 0; i < snippets.length; i += 16) {
      const batch = snippets.slice(i, i + 16);
      const out = auto(batch, { padding: true, truncation: true, max_length: tok.maxLength });
      const ids = out.input_ids as number[][];
      const mask = out.attention_mask as number[][];
      batch.forEach((s, k) => {
        const mine = tok.encode(s);
        const theirs = ids[k]!.filter((_, j) => mask[k]![j] === 1);
        assert.equal(firstDiff(mine, theirs), -1, `snippet ${JSON.stringify(s.slice(0, 120))}`);
        assert.ok(mine.length <= tok.maxLength);
        if (tok.encode(s, { truncate: false }).length > tok.maxLength) {
          cut++;
          // transformers.js cuts the tail, [SEP] included
          assert.equal(mine.length, tok.maxLength);
          assert.notEqual(mine[mine.length - 1], SEP_ID);
        }
      });
    }
    assert.ok(cut > 100, `expected many truncated snippets, got ${cut}`);
  });

  test('the edge cases: unicode, digits, case styles, literal special-token text, over-long words', () => {
    for (const s of EDGE_CASES) {
      assert.deepEqual(Array.from(tok.encode(s, { truncate: false })), auto(s).input_ids, JSON.stringify(s.slice(0, 80)));
    }
  });
});

describe('CodeTokenizer rules', () => {
  test('splits camelCase, PascalCase, acronyms, snake_case and SCREAMING_CASE into lowercase words', () => {
    assert.deepEqual(words('getHTTPResponse_code2 XMLHttpRequest MAX_RETRY_COUNT __init__ HTML5Parser'), [
      'get', 'http', 'response', 'code2', 'xml', 'http', 'request', 'max', 'retry', 'count', 'init', 'html5', 'parser',
    ]); // prettier-ignore
    assert.deepEqual(words('naïve café'), ['na', 've', 'caf'], 'non-ASCII letters separate words, as the Split pattern does');
  });

  test('[CLS] first, [SEP] last; known words are one token; rare words become pieces, not [UNK]', () => {
    const ids = tok.encode('function returnValue');
    assert.equal(ids[0], CLS_ID);
    assert.equal(ids[ids.length - 1], SEP_ID);
    assert.deepEqual(tok.tokens('function returnValue'), ['[CLS]', 'function', 'return', 'value', '[SEP]']);
    const rare = tok.tokens('zqxjkvwpz frobnicator');
    assert.ok(!rare.includes('[UNK]'), rare.join(' '));
    assert.ok(
      rare.some((t) => t.startsWith('##')),
      rare.join(' '),
    );
    // a word longer than max_input_chars_per_word is one [UNK], as WordPiece does
    assert.deepEqual(Array.from(tok.encode('a'.repeat(tok.maxWordChars + 1))), [CLS_ID, UNK_ID, SEP_ID]);
  });

  test('the vocabulary is deterministic, frequency-ordered with a code-unit tie-break, and sized as asked', () => {
    const corpus = ['beta alpha gamma', 'alpha beta', 'delta delta alpha', 'gamma beta', 'once'];
    const a = learnVocab(corpus, { maxSize: 200, minCount: 2 });
    assert.deepEqual(learnVocab([...corpus], { maxSize: 200, minCount: 2 }), a);
    const wordsOnly = a.filter((t) => t.length > 1 && !t.startsWith('##') && !t.startsWith('['));
    // alpha 3, beta 3, delta 2, gamma 2; "once" is below minCount
    assert.deepEqual(wordsOnly, ['alpha', 'beta', 'delta', 'gamma']);
    const real = learnVocab(texts, { maxSize: 3000 });
    assert.equal(real.length, 3000);
    assert.equal(new Set(real).size, real.length);
    assert.ok(real.includes('##s'), 'learns continuation pieces');
  });

  test('fromJSON reads back what toJSON wrote, with the same ids', () => {
    const back = CodeTokenizer.fromJSON(JSON.stringify(tok.toJSON()), JSON.stringify(tok.configJSON()));
    assert.deepEqual(back.vocab, tok.vocab);
    assert.equal(back.maxLength, tok.maxLength);
    for (const s of snippets.slice(0, 300)) assert.deepEqual(back.encode(s), tok.encode(s));
  });
});
