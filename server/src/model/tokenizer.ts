/**
 * The code-aware tokenizer of Semcode's static embedding model.
 *
 * One definition, two implementations that must agree id for id:
 *   - `toJSON()` writes a tokenizer.json that transformers.js (through @huggingface/tokenizers) runs at
 *     inference: normalizers Replace `([a-z0-9])([A-Z])`→`$1 $2`, Replace `([A-Z]+)([A-Z][a-z])`→`$1 $2`,
 *     Lowercase; pre-tokenizer Split on `[^0-9a-z]+` (Removed); a WordPiece model; [CLS] … [SEP].
 *   - `encode()` is a JS fast path of the same rules for training and benchmarks (typed arrays, an OOV cache).
 * test/train/tokenizer.test.ts checks the two against each other on thousands of real snippets.
 *
 * Words are runs of [0-9a-z] after camelCase/PascalCase/ACRONYMWord splitting and lowercasing, so
 * `getHTTPResponse_code2` → get http response code2. Digits stay inside their word (utf8, int64, sha256 are
 * meaningful as units); numbers that did not make the vocabulary fall through to subword pieces like any
 * other rare word, and a word longer than `maxWordChars` (hashes, base64 blobs) becomes a single [UNK].
 *
 * The vocabulary is whole words by frequency plus WordPiece continuation pieces (`##s`, `##ing`, `##er`...)
 * learnt from what rare words leave over after their longest known prefix, plus every single character as
 * a word start and as `##c`: every word of [0-9a-z] therefore has a tokenization, and [UNK] is only
 * produced for over-long words.
 *
 * Note: the Replace normalizers rely on `$1` back-references, which transformers.js applies with
 * `String.replaceAll`; the Rust `tokenizers` library substitutes the content literally, so this
 * tokenizer.json is for transformers.js, not for Python.
 */

export const PAD = '[PAD]';
export const UNK = '[UNK]';
export const CLS = '[CLS]';
export const SEP = '[SEP]';
export const MASK = '[MASK]';
/** Fixed ids 0..4, as BERT vocabularies have them (pad_token_id 0 in config.json). */
export const SPECIAL_TOKENS: readonly string[] = [PAD, UNK, CLS, SEP, MASK];
export const PAD_ID = 0;
export const UNK_ID = 1;
export const CLS_ID = 2;
export const SEP_ID = 3;

const SUBWORD_PREFIX = '##';
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

// The exact patterns written to tokenizer.json; the JS path compiles them with the flags
// @huggingface/tokenizers uses ('gu').
const CAMEL_PATTERN = '([a-z0-9])([A-Z])';
const ACRONYM_PATTERN = '([A-Z]+)([A-Z][a-z])';
const SPLIT_PATTERN = '[^0-9a-z]+';
const CAMEL = new RegExp(CAMEL_PATTERN, 'gu');
const ACRONYM = new RegExp(ACRONYM_PATTERN, 'gu');
/** Maximal runs of the characters the Split pre-tokenizer keeps: the same pieces as split + drop empties. */
const WORD = /[0-9a-z]+/g;

export const DEFAULT_MAX_LENGTH = 512;
export const DEFAULT_MAX_WORD_CHARS = 32;

/** Normalizer chain of tokenizer.json, in JS. */
export function normalize(text: string): string {
  return text.replaceAll(CAMEL, '$1 $2').replaceAll(ACRONYM, '$1 $2').toLowerCase();
}

/** Calls `fn` for every word (normalised, pre-tokenized) of `text`, in order, without building an array. */
export function forEachWord(text: string, fn: (word: string) => void): void {
  const s = normalize(text);
  WORD.lastIndex = 0;
  for (let m = WORD.exec(s); m; m = WORD.exec(s)) fn(m[0]);
}

export function words(text: string): string[] {
  const out: string[] = [];
  forEachWord(text, (w) => out.push(w));
  return out;
}

export interface VocabOptions {
  /** total vocabulary size, specials and single characters included */
  maxSize: number;
  /** a word or piece seen fewer times than this is not given its own id (default 2) */
  minCount?: number;
  /** share of the vocabulary reserved for `##` continuation pieces (default 0.1) */
  subwordShare?: number;
  /** longer words become [UNK] (default 32) */
  maxWordChars?: number;
}

/** Count desc, then code-unit order: the same vocabulary on every machine for the same corpus. */
function topByCount(counts: Map<string, number>, n: number, minCount: number, skip: Set<string>): string[] {
  const items: [string, number][] = [];
  for (const [w, c] of counts) if (c >= minCount && !skip.has(w)) items.push([w, c]);
  items.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return items.slice(0, Math.max(0, n)).map(([w]) => w);
}

/** Longest vocabulary entry that is a prefix of `word` (single characters are always present). */
function longestPrefix(word: string, starts: Set<string>): number {
  for (let end = word.length; end > 1; end--) if (starts.has(word.slice(0, end))) return end;
  return 1;
}

/**
 * Learns a vocabulary (token list, index = id) from a corpus. Deterministic: counts, then ties broken by
 * code-unit order.
 */
export function learnVocab(texts: Iterable<string>, opts: VocabOptions): string[] {
  const minCount = opts.minCount ?? 2;
  const maxWordChars = opts.maxWordChars ?? DEFAULT_MAX_WORD_CHARS;
  const share = opts.subwordShare ?? 0.1;
  const counts = new Map<string, number>();
  for (const t of texts) {
    forEachWord(t, (w) => {
      if (w.length <= maxWordChars) counts.set(w, (counts.get(w) ?? 0) + 1);
    });
  }
  const base = [...SPECIAL_TOKENS, ...ALPHABET, ...[...ALPHABET].map((c) => SUBWORD_PREFIX + c)];
  if (opts.maxSize < base.length) throw new Error(`vocabulary size must be at least ${base.length}, got ${opts.maxSize}`);
  const room = opts.maxSize - base.length;
  const subwordRoom = Math.floor(room * share);
  const taken = new Set(base);
  const wholeWords = topByCount(counts, room - subwordRoom, minCount, taken);
  for (const w of wholeWords) taken.add(w);

  // What WordPiece leaves after the longest known prefix of each word without an id of its own: frequent
  // leftovers (inflections, common tails) become `##` pieces.
  const starts = new Set([...ALPHABET, ...wholeWords]);
  const tails = new Map<string, number>();
  for (const [w, c] of counts) {
    if (starts.has(w)) continue;
    const tail = SUBWORD_PREFIX + w.slice(longestPrefix(w, starts));
    tails.set(tail, (tails.get(tail) ?? 0) + c);
  }
  const pieces = topByCount(tails, subwordRoom + (room - subwordRoom - wholeWords.length), minCount, taken);
  return [...base, ...wholeWords, ...pieces];
}

export interface TokenizerOptions {
  /** longest encoding, [CLS] and [SEP] included (model_max_length); longer inputs are cut as transformers.js cuts them */
  maxLength?: number;
  maxWordChars?: number;
}

export interface LearnOptions extends VocabOptions, TokenizerOptions {}

/** A longest-first WordPiece split of an out-of-vocabulary word, cached by word (bounded). */
const OOV_CACHE_MAX = 200_000;

export class CodeTokenizer {
  readonly vocab: readonly string[];
  readonly maxLength: number;
  readonly maxWordChars: number;
  private readonly ids: Map<string, number>;
  private readonly oov = new Map<string, Int32Array>();

  constructor(vocab: readonly string[], opts: TokenizerOptions = {}) {
    SPECIAL_TOKENS.forEach((t, i) => {
      if (vocab[i] !== t) throw new Error(`vocabulary must start with ${SPECIAL_TOKENS.join(' ')} (id ${i} is ${vocab[i]})`);
    });
    this.vocab = vocab;
    this.ids = new Map(vocab.map((t, i) => [t, i]));
    if (this.ids.size !== vocab.length) throw new Error('vocabulary has duplicate tokens');
    this.maxLength = opts.maxLength ?? DEFAULT_MAX_LENGTH;
    this.maxWordChars = opts.maxWordChars ?? DEFAULT_MAX_WORD_CHARS;
    if (!Number.isInteger(this.maxLength) || this.maxLength < 2) throw new Error(`maxLength must be an integer ≥ 2, got ${this.maxLength}`);
  }

  static learn(texts: Iterable<string>, opts: LearnOptions): CodeTokenizer {
    return new CodeTokenizer(learnVocab(texts, opts), opts);
  }

  get size(): number {
    return this.vocab.length;
  }

  idOf(token: string): number | undefined {
    return this.ids.get(token);
  }

  /** WordPiece of one word, appended to `out` from `n`; returns the new length. */
  private pushWord(word: string, out: Int32Array, n: number): number {
    const id = this.ids.get(word);
    if (id !== undefined && word.length <= this.maxWordChars) {
      out[n] = id;
      return n + 1;
    }
    let pieces = this.oov.get(word);
    if (!pieces) {
      pieces = this.wordPiece(word);
      if (this.oov.size >= OOV_CACHE_MAX) this.oov.clear();
      this.oov.set(word, pieces);
    }
    out.set(pieces, n);
    return n + pieces.length;
  }

  /** Exactly @huggingface/tokenizers' WordPiece: greedy longest match, [UNK] for the whole word on failure. */
  private wordPiece(word: string): Int32Array {
    if (word.length > this.maxWordChars) return Int32Array.of(UNK_ID);
    const out: number[] = [];
    let start = 0;
    while (start < word.length) {
      let end = word.length;
      let found = -1;
      while (start < end) {
        const sub = start > 0 ? SUBWORD_PREFIX + word.slice(start, end) : word.slice(start, end);
        const id = this.ids.get(sub);
        if (id !== undefined) {
          found = id;
          break;
        }
        end--;
      }
      if (found < 0) return Int32Array.of(UNK_ID);
      out.push(found);
      start = end;
    }
    return Int32Array.from(out);
  }

  /**
   * Token ids as transformers.js's tokenizer gives them to the model: [CLS] tokens [SEP], then cut to
   * `maxLength` by dropping the tail ([SEP] included), as its truncation does. `maxLength: Infinity` (or
   * `truncate: false`) gives the full encoding.
   */
  encode(text: string, opts: { maxLength?: number; truncate?: boolean } = {}): Int32Array {
    const limit = opts.truncate === false ? Infinity : (opts.maxLength ?? this.maxLength);
    const s = normalize(text);
    // Every token covers at least one [0-9a-z] character (a word too long for WordPiece is one [UNK]), so
    // s.length + 2 bounds the full encoding; with a limit we stop before a word once `limit` is reached,
    // and that last word adds at most maxWordChars tokens.
    const buf = new Int32Array(Math.min(s.length, limit + this.maxWordChars) + 2);
    let n = 0;
    buf[n++] = CLS_ID;
    WORD.lastIndex = 0;
    for (let m = WORD.exec(s); m && n < limit; m = WORD.exec(s)) n = this.pushWord(m[0], buf, n);
    buf[n++] = SEP_ID;
    return buf.slice(0, Math.min(n, limit));
  }

  /** Token strings of `encode(text)`, for inspection. */
  tokens(text: string, opts: { maxLength?: number; truncate?: boolean } = {}): string[] {
    return Array.from(this.encode(text, opts), (id) => this.vocab[id]!);
  }

  /** tokenizer.json (the Hugging Face tokenizers format, as transformers.js reads it). */
  toJSON(): Record<string, unknown> {
    const replace = (pattern: string) => ({ type: 'Replace', pattern: { Regex: pattern }, content: '$1 $2' });
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      // No added tokens: with them, a literal "[SEP]" in source code would be split out as the special
      // token before normalisation; without them it is just the word "sep", as encode() treats it.
      added_tokens: [],
      normalizer: { type: 'Sequence', normalizers: [replace(CAMEL_PATTERN), replace(ACRONYM_PATTERN), { type: 'Lowercase' }] },
      pre_tokenizer: { type: 'Split', pattern: { Regex: SPLIT_PATTERN }, behavior: 'Removed', invert: false },
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: CLS, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: SEP, type_id: 0 } }],
        pair: [
          { SpecialToken: { id: CLS, type_id: 0 } },
          { Sequence: { id: 'A', type_id: 0 } },
          { SpecialToken: { id: SEP, type_id: 0 } },
          { Sequence: { id: 'B', type_id: 1 } },
          { SpecialToken: { id: SEP, type_id: 1 } },
        ],
        special_tokens: {
          [CLS]: { id: CLS, ids: [CLS_ID], tokens: [CLS] },
          [SEP]: { id: SEP, ids: [SEP_ID], tokens: [SEP] },
        },
      },
      decoder: { type: 'WordPiece', prefix: SUBWORD_PREFIX, cleanup: true },
      model: {
        type: 'WordPiece',
        unk_token: UNK,
        continuing_subword_prefix: SUBWORD_PREFIX,
        max_input_chars_per_word: this.maxWordChars,
        vocab: Object.fromEntries(this.vocab.map((t, i) => [t, i])),
      },
    };
  }

  /** tokenizer_config.json: model_max_length is what transformers.js truncates to. */
  configJSON(): Record<string, unknown> {
    return {
      tokenizer_class: 'BertTokenizer',
      model_max_length: this.maxLength,
      cls_token: CLS,
      sep_token: SEP,
      pad_token: PAD,
      unk_token: UNK,
      mask_token: MASK,
      padding_side: 'right',
      clean_up_tokenization_spaces: true,
    };
  }

  /** Reads back what toJSON()/configJSON() wrote (objects or JSON text). */
  static fromJSON(tokenizerJson: unknown, config?: unknown): CodeTokenizer {
    const tj = (typeof tokenizerJson === 'string' ? JSON.parse(tokenizerJson) : tokenizerJson) as {
      model?: { type?: string; vocab?: Record<string, number>; max_input_chars_per_word?: number };
    };
    const cfg = (typeof config === 'string' ? JSON.parse(config) : config) as { model_max_length?: number } | undefined;
    if (tj?.model?.type !== 'WordPiece' || !tj.model.vocab) throw new Error('not a Semcode tokenizer.json (expected a WordPiece model with a vocab)');
    const vocab: string[] = [];
    for (const [t, i] of Object.entries(tj.model.vocab)) vocab[i] = t;
    if (vocab.some((t) => t === undefined) || vocab.length !== Object.keys(tj.model.vocab).length) throw new Error('tokenizer.json vocab ids are not 0..n-1');
    return new CodeTokenizer(vocab, { maxLength: cfg?.model_max_length, maxWordChars: tj.model.max_input_chars_per_word });
  }
}
