// (doc → code) pair mining: realistic snippets per language through the real tree-sitter chunker, the query
// cut, the filters, dedupe of packaged copies, and the held-out splits.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createChunker, type Chunker } from '../../server/src/index/chunker';
import type { Chunk } from '../../server/src/chunk';
import { dedupePairs, docOf, minePairs, newMineStats, querySentences, splitByFile, splitBySource, type Pair } from '../../server/src/train/pairs';

let chunker: Chunker;

before(async () => {
  chunker = await createChunker();
});

function chunkOf(path: string, text: string, symbol: string): Chunk {
  const found = chunker.chunk(path, text).filter((c) => c.symbol === symbol);
  assert.equal(found.length, 1, `expected one chunk ${symbol} in ${path}, got ${found.length}`);
  return found[0]!;
}

function docAndCode(path: string, text: string, symbol: string): { doc: string; code: string } {
  const d = docOf(chunkOf(path, text, symbol));
  assert.ok(d, `no doc found for ${symbol}`);
  return d;
}

// ---------------------------------------------------------------------------------------------------------
// Doc extraction per language

const TS = `import { memoize } from './memo';

export class UserStore {
  private users = new Map<string, User>();

  /**
   * Finds a user by their email address, ignoring case.
   * Returns {@link User | the user record} or undefined when nobody has that address.
   *
   * @param email the address to look up
   * @returns the user, if any
   */
  @memoize()
  findByEmail(email: string): User | undefined {
    const key = email.trim().toLowerCase();
    return this.users.get(key);
  }

  // not a doc comment: a note
  size(): number {
    const n = this.users.size;
    return n;
  }
}
`;

test('TypeScript: JSDoc becomes the doc (tags dropped, inline links unwrapped), the code keeps the decorator', () => {
  const { doc, code } = docAndCode('src/store.ts', TS, 'UserStore.findByEmail');
  assert.equal(doc, 'Finds a user by their email address, ignoring case.\nReturns the user record or undefined when nobody has that address.');
  assert.equal(
    code,
    [
      '  @memoize()',
      '  findByEmail(email: string): User | undefined {',
      '    const key = email.trim().toLowerCase();',
      '    return this.users.get(key);',
      '  }',
    ].join('\n'),
  );
  // a plain // comment is not documentation in JS/TS
  assert.equal(docOf(chunkOf('src/store.ts', TS, 'UserStore.size')), null);
});

const PY = `from decimal import Decimal


class Ledger:
    def balance(self, account: str, *, as_of: "date | None" = None) -> Decimal:
        """Return the balance of an account at the end of a given day.

        Entries after \`as_of\` are ignored.

        Args:
            account: the account id.
            as_of: the last day counted.
        """

        total = Decimal(0)
        for entry in self._entries[account]:
            if as_of is None or entry.day <= as_of:
                total += entry.amount
        return total

    def label(self, sep=":"):
        "%s ledger" % self.name
        return sep.join(self.names)
`;

test('Python: the docstring is the doc and is removed from the code, with its blank line', () => {
  const { doc, code } = docAndCode('ledger.py', PY, 'Ledger.balance');
  assert.equal(doc, 'Return the balance of an account at the end of a given day.\n\nEntries after as_of are ignored.');
  assert.equal(
    code,
    [
      '    def balance(self, account: str, *, as_of: "date | None" = None) -> Decimal:',
      '        total = Decimal(0)',
      '        for entry in self._entries[account]:',
      '            if as_of is None or entry.day <= as_of:',
      '                total += entry.amount',
      '        return total',
    ].join('\n'),
  );
  assert.doesNotMatch(code, /"""|Args:/);
  // a string that is part of an expression is not a docstring (and ':' in a default does not end the header)
  assert.equal(docOf(chunkOf('ledger.py', PY, 'Ledger.label')), null);
});

const GO = `package timeutil

// ParseDuration parses a duration string such as "300ms" or "1h45m".
// A duration string is a sequence of decimal numbers with unit suffixes.
//
//go:noinline
func ParseDuration(s string) (Duration, error) {
	var d Duration
	for len(s) > 0 {
		n, rest, err := leadingInt(s)
		if err != nil {
			return 0, err
		}
		d += Duration(n)
		s = rest
	}
	return d, nil
}
`;

test('Go: the // comment group is the doc; compiler directives stay in the code; the leading name is dropped from the query', () => {
  const { doc, code } = docAndCode('timeutil/parse.go', GO, 'ParseDuration');
  assert.equal(
    doc,
    'ParseDuration parses a duration string such as "300ms" or "1h45m".\nA duration string is a sequence of decimal numbers with unit suffixes.',
  );
  assert.ok(code.startsWith('//go:noinline\nfunc ParseDuration(s string) (Duration, error) {'), code);
  assert.doesNotMatch(code, /parses a duration/);
  const [pair] = minePairs(chunker.chunk('timeutil/parse.go', GO), 'go-timeutil');
  assert.equal(pair?.query, 'Parses a duration string such as "300ms" or "1h45m".');
});

const RUST = `//! Configuration loading.

use std::path::Path;

impl Config {
    /// Loads the configuration from a [\`Path\`], falling back to defaults.
    ///
    /// # Errors
    ///
    /// Fails when the file cannot be read.
    #[must_use]
    pub fn load(path: &Path) -> io::Result<Config> {
        let text = fs::read_to_string(path)?;
        Ok(toml::from_str(&text).unwrap_or_default())
    }

    // Plain comment, not documentation.
    fn reset(&mut self) {
        self.values.clear();
        self.dirty = true;
    }
}
`;

test('Rust: /// is the doc (sections after a heading dropped), attributes stay, // and //! are not docs', () => {
  const { doc, code } = docAndCode('src/config.rs', RUST, 'Config.load');
  assert.equal(doc, 'Loads the configuration from a Path, falling back to defaults.');
  assert.ok(code.startsWith('    #[must_use]\n    pub fn load(path: &Path) -> io::Result<Config> {'), code);
  assert.doesNotMatch(code, /\/\/\//);
  assert.equal(docOf(chunkOf('src/config.rs', RUST, 'Config.reset')), null);
});

const JAVA = `package bank;

public class Accounts {
    /**
     * Transfers {@code amount} cents from one account to another.
     * <p>Both accounts are locked in id order, like {@link #lockBoth(Account, Account) lockBoth} does,
     * to avoid deadlocks.
     *
     * @param from the source account
     * @throws InsufficientFundsException if the source cannot cover it
     */
    @Transactional
    public void transfer(Account from, Account to, long amount) {
        Account first = from.id() < to.id() ? from : to;
        Account second = first == from ? to : from;
        synchronized (first) {
            synchronized (second) {
                from.withdraw(amount);
                to.deposit(amount);
            }
        }
    }
}
`;

test('Java: Javadoc (HTML paragraphs, inline tags, block tags) becomes the doc; annotations stay in the code', () => {
  const { doc, code } = docAndCode('bank/Accounts.java', JAVA, 'Accounts.transfer');
  assert.equal(doc, 'Transfers amount cents from one account to another.\n\nBoth accounts are locked in id order, like lockBoth does,\nto avoid deadlocks.');
  assert.ok(code.startsWith('    @Transactional\n    public void transfer('), code);
  assert.doesNotMatch(code, /\/\*\*|@param/);
  assert.equal(querySentences(doc), 'Transfers amount cents from one account to another.');
});

const C = `#include <stdlib.h>

/* Allocates a ring buffer that can hold at least capacity bytes,
 * rounded up to a power of two. */
struct ringbuf *rb_new(size_t capacity) {
    struct ringbuf *rb = calloc(1, sizeof *rb);
    rb->capacity = next_pow2(capacity);
    return rb;
}
`;

test('C: a /* */ comment above a definition is its doc', () => {
  const { doc, code } = docAndCode('ringbuf.c', C, 'rb_new');
  assert.equal(doc, 'Allocates a ring buffer that can hold at least capacity bytes,\nrounded up to a power of two.');
  assert.ok(code.startsWith('struct ringbuf *rb_new(size_t capacity) {'));
});

// ---------------------------------------------------------------------------------------------------------
// Query sentences

test('querySentences: the first sentences of the first paragraph, cut at a tag, whitespace collapsed', () => {
  assert.equal(querySentences('Returns the user.  Caches it. Logs the miss.'), 'Returns the user. Caches it.');
  assert.equal(querySentences('Returns the user. Caches it. Logs the miss.', 1), 'Returns the user.');
  assert.equal(querySentences('Splits a list on commas, e.g. a,b into two.  Then trims.', 1), 'Splits a list on commas, e.g. a,b into two.');
  assert.equal(querySentences('Parses the any-of? and not-any-of? predicates.', 1), 'Parses the any-of? and not-any-of? predicates.');
  assert.equal(querySentences('Reads the whole\n   file into memory\n\nSecond paragraph.'), 'Reads the whole file into memory');
  assert.equal(querySentences('Deletes a row by id\n@param id the row\n@returns nothing'), 'Deletes a row by id');
  assert.equal(querySentences('Version 1.2 adds caching. More.', 1), 'Version 1.2 adds caching.');
  assert.equal(querySentences('  \n  '), '');
});

// ---------------------------------------------------------------------------------------------------------
// Filters

const JS_FILTERS = `/**
 * TODO: document this function properly.
 */
function todoDoc(a, b) {
  const sum = a + b;
  return sum * 2;
}

/** Auto-generated by protoc. Do not edit. */
function generated(msg) {
  writer.uint32(msg.id);
  return writer;
}

/** Deprecated. Use sendMail instead. */
function deprecated(to) {
  const mail = compose(to);
  return sendMail(mail);
}

/** {@inheritDoc Base.render} */
function inherited(ctx) {
  ctx.save();
  ctx.restore();
}

/** See {@link Renderer} for details. */
function seeOther(ctx) {
  ctx.clear();
  ctx.flush();
}

/** Gets it. */
function tooShort() {
  const x = read();
  return x;
}

/** ${'Computes the value for the long description which keeps going '.repeat(8)}*/
function tooLong() {
  const x = compute();
  return x;
}

/** Returns the answer to the ultimate question. */
function oneLiner() { return 42; }

/** Converts a temperature from Celsius to Fahrenheit degrees. */
function celsiusToFahrenheit(c) {
  return (c * 9) / 5 + 32;
}
`;

test('minePairs keeps documented functions and skips boilerplate, out-of-range queries and one-liners', () => {
  const stats = newMineStats();
  const pairs = minePairs(chunker.chunk('lib/convert.js', JS_FILTERS), 'npm-convert-1.0.0', stats);
  assert.deepEqual(
    pairs.map((p) => [p.symbol, p.query]),
    [['celsiusToFahrenheit', 'Converts a temperature from Celsius to Fahrenheit degrees.']],
  );
  assert.deepEqual(pairs[0]!.code, 'function celsiusToFahrenheit(c) {\n  return (c * 9) / 5 + 32;\n}');
  assert.equal(pairs[0]!.source, 'npm-convert-1.0.0');
  assert.equal(pairs[0]!.startLine, chunkOf('lib/convert.js', JS_FILTERS, 'celsiusToFahrenheit').startLine);
  assert.deepEqual(stats.skipped, { 'boilerplate doc': 5, 'query too short': 1, 'query too long': 1, 'code too short': 1 });
});

test('minePairs skips declaration files, Python stubs, and non-function chunks', () => {
  const dts = `/** Converts a temperature from Celsius to Fahrenheit degrees. */\nexport declare function c2f(c: number): number;\n`;
  assert.deepEqual(minePairs(chunker.chunk('index.d.ts', dts), 's'), []);
  // even a function chunk is skipped when it comes from a declaration file
  const fn = chunkOf('lib/convert.js', JS_FILTERS, 'celsiusToFahrenheit');
  assert.equal(minePairs([fn], 's').length, 1);
  assert.deepEqual(minePairs([{ ...fn, path: 'types/convert.d.ts' }], 's'), []);
  const stubs = `class Store:
    def load(self, key):
        """Load the value stored under a key from the backing store."""
        raise NotImplementedError

    def save(self, key, value):
        """Save a value under a key in the backing store."""
        pass

    def keys(self):
        """List every key currently held in the backing store."""
        return sorted(self._data)
`;
  assert.deepEqual(
    minePairs(chunker.chunk('store.py', stubs), 's').map((p) => p.symbol),
    ['Store.keys'],
  );
  // the class chunk of the Java sample has the Javadoc'd method elided, never a pair of its own
  assert.deepEqual(
    minePairs(chunker.chunk('bank/Accounts.java', JAVA), 's').map((p) => p.symbol),
    ['Accounts.transfer'],
  );
});

// ---------------------------------------------------------------------------------------------------------
// Dedupe

const TS_SRC = `/**
 * Clamps a number into the inclusive range between lo and hi.
 */
export function clamp(value: number, lo: number, hi: number): number {
  if (value < lo) return lo;
  return value > hi ? hi : value;
}
`;
const JS_ESM = `/**
 * Clamps a number into the inclusive range between lo and hi.
 */
export function clamp(value, lo, hi) {
    if (value < lo)
        return lo;
    return value > hi ? hi : value;
}
`;
const JS_CJS = `"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
/**
 * Clamps a number into the inclusive range between lo and hi.
 */
function clamp(value, lo, hi) {
    if (value < lo)
        return lo;
    return value > hi ? hi : value;
}
exports.clamp = clamp;
`;
const DTS = `/**
 * Clamps a number into the inclusive range between lo and hi.
 */
export declare function clamp(value: number, lo: number, hi: number): number;
`;
const OTHER = `/**
 * Linearly interpolates between a and b by the fraction t.
 */
export function lerp(a, b, t) {
    return a + (b - a) * t;
}
`;

test('dedupe keeps one copy of a function shipped as .ts, .js, .mjs, .cjs and .d.ts, preferring the authored source', () => {
  const files: Array<[string, string]> = [
    ['dist/cjs/index.cjs', JS_CJS],
    ['dist/esm/index.mjs', JS_ESM],
    ['dist/index.js', JS_ESM],
    ['dist/index.d.ts', DTS],
    ['src/index.ts', TS_SRC],
    ['dist/lerp.js', OTHER],
  ];
  const mined = files.flatMap(([path, text]) => minePairs(chunker.chunk(path, text), 'npm-mathx-2.0.0'));
  assert.equal(mined.length, 5, 'every copy but the declaration is mined');
  const kept = dedupePairs(mined);
  assert.deepEqual(
    kept.map((p) => `${p.path} ${p.symbol}`),
    ['src/index.ts clamp', 'dist/lerp.js lerp'],
  );
  // a vendored copy in another package is a duplicate too
  const vendored = minePairs(chunker.chunk('vendor/mathx/index.js', JS_ESM), 'npm-other-1.0.0');
  assert.equal(dedupePairs([...kept, ...vendored]).length, 2);
});

test('dedupe drops overloads sharing one doc and identical code under different docs', () => {
  const base: Pair = {
    query: 'Adds an item to the cart.',
    code: 'void add(Item i) {\n  items.add(i);\n}',
    language: 'java',
    source: 's',
    path: 'Cart.java',
    symbol: 'Cart.add',
    startLine: 3,
  };
  const pairs: Pair[] = [
    base,
    { ...base, code: 'void add(Item i, int n) {\n  for (int k = 0; k < n; k++) items.add(i);\n}', startLine: 9 },
    { ...base, query: 'Puts an item into the cart.', symbol: 'Cart.put', startLine: 20 },
    { ...base, query: 'Removes an item from the cart.', code: 'void remove(Item i) {\n  items.remove(i);\n}', symbol: 'Cart.remove', startLine: 30 },
  ];
  assert.deepEqual(
    dedupePairs(pairs).map((p) => p.startLine),
    [3, 30],
  );
});

test('dedupe keeps one pair per query by default: a copy-pasted doc has no single right answer', () => {
  const a: Pair = {
    query: 'Value of an element at the given indices.',
    code: 'get(i) {\n  return this.data[i];\n}',
    language: 'typescript',
    source: 's',
    path: 't.ts',
    symbol: 'Tensor.get',
    startLine: 1,
  };
  const b: Pair = { ...a, code: 'set(i, v) {\n  this.data[i] = v;\n}', symbol: 'Tensor.set', startLine: 5 };
  const c: Pair = {
    ...a,
    query: 'value of an element, at the given indices',
    code: 'at(i) {\n  return this.data.at(i);\n}',
    symbol: 'Tensor.at',
    startLine: 9,
  };
  assert.deepEqual(
    dedupePairs([a, b, c]).map((p) => p.symbol),
    ['Tensor.get'],
  );
  assert.deepEqual(
    dedupePairs([a, b, c], { maxPerQuery: 2 }).map((p) => p.symbol),
    ['Tensor.get', 'Tensor.set'],
  );
});

// ---------------------------------------------------------------------------------------------------------
// Splits

function syntheticPairs(): Pair[] {
  const out: Pair[] = [];
  const add = (language: string, source: string, files: number, perFile: number): void => {
    for (let f = 0; f < files; f++) {
      for (let i = 0; i < perFile; i++) {
        out.push({
          query: `q ${source} ${f} ${i}`,
          code: `c ${source} ${f} ${i}`,
          language,
          source,
          path: `src/${source}/f${f}.x`,
          symbol: `s${i}`,
          startLine: i * 10 + 1,
        });
      }
    }
  };
  for (let s = 0; s < 30; s++) add('python', `pypi-pkg${s}`, 1 + (s % 4), 3 + (s % 5));
  for (let s = 0; s < 12; s++) add('go', `go-mod${s}`, 2, 4);
  // a mixed package: Python with a C extension
  add('c', 'pypi-pkg3', 2, 3);
  add('c', 'deb-libfoo', 3, 3);
  add('c', 'deb-libbar', 1, 2);
  add('java', 'maven-only', 5, 5);
  // two crates dwarf the others: holding either out would make it most of the rust test set
  add('rust', 'crate-huge', 50, 20);
  add('rust', 'crate-big', 30, 20);
  for (let s = 0; s < 20; s++) add('rust', `crate-small${s}`, 2, 5);
  return out;
}

function sourcesOf(pairs: Pair[]): Set<string> {
  return new Set(pairs.map((p) => p.source));
}

test('splitBySource never puts one source on both sides, is deterministic, and holds out each language', () => {
  const pairs = syntheticPairs();
  const a = splitBySource(pairs, 0.15, 42);
  assert.equal(a.train.length + a.test.length, pairs.length);
  const trainSrc = sourcesOf(a.train);
  for (const s of sourcesOf(a.test)) assert.ok(!trainSrc.has(s), `${s} is on both sides`);
  assert.deepEqual(splitBySource(pairs, 0.15, 42), a, 'same seed, same split');
  assert.deepEqual(
    splitBySource([...pairs].reverse(), 0.15, 42)
      .test.map((p) => p.query)
      .sort(),
    a.test.map((p) => p.query).sort(),
    'input order does not matter',
  );
  const other = [1, 2, 3, 4, 5].map((seed) =>
    splitBySource(pairs, 0.15, seed)
      .test.map((p) => p.source)
      .join(),
  );
  assert.ok(
    other.some((t) => t !== a.test.map((p) => p.source).join()),
    'the seed changes the split',
  );
  for (const lang of ['python', 'go', 'c', 'rust']) {
    const total = pairs.filter((p) => p.language === lang).length;
    const held = a.test.filter((p) => p.language === lang).length;
    assert.ok(held > 0 && held < total, `${lang}: ${held}/${total} held out`);
    if (lang !== 'c') assert.ok(held / total >= 0.08 && held / total <= 0.3, `${lang}: ${held}/${total} held out`);
  }
  assert.ok(trainSrc.has('crate-huge') && trainSrc.has('crate-big'));
  // a language with a single source keeps it for training
  assert.equal(a.test.filter((p) => p.language === 'java').length, 0);
  assert.deepEqual(splitBySource(pairs, 0, 42).test, []);
});

test('splitByFile holds out about the share, whole files at a time, deterministically', () => {
  const pairs = syntheticPairs()
    .filter((p) => p.source === 'maven-only' || p.language === 'go')
    .map((p) => ({ ...p, source: '/home/me/project' }));
  const a = splitByFile(pairs, 0.2, 7);
  const trainFiles = new Set(a.train.map((p) => `${p.source}:${p.path}`));
  for (const p of a.test) assert.ok(!trainFiles.has(`${p.source}:${p.path}`), `${p.path} is on both sides`);
  assert.deepEqual(splitByFile(pairs, 0.2, 7), a);
  for (const lang of ['go', 'java']) {
    const total = pairs.filter((p) => p.language === lang).length;
    const held = a.test.filter((p) => p.language === lang).length;
    assert.ok(held / total >= 0.15 && held / total <= 0.45, `${lang}: ${held}/${total}`);
  }
});
