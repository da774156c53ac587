// The symbol-aware chunker: real tree-sitter grammars over one realistic fixture per language.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { GRAMMAR_FILES, MAX_CHUNK_CHARS, createChunker, languageForPath, type Chunker } from '../server/src/index/chunker';
import type { Chunk } from '../server/src/chunk';

const FIXTURES = path.join(__dirname, 'fixtures', 'chunker');
const fixture = (name: string): string => readFileSync(path.join(FIXTURES, name), 'utf8');

let chunker: Chunker;

before(async () => {
  chunker = await createChunker();
});

/** `kind symbol` of every chunk that is a symbol, in order */
const symbols = (chunks: Chunk[]): string[] => chunks.filter((c) => c.symbol !== null).map((c) => `${c.kind} ${c.symbol}`);
const only = (chunks: Chunk[], symbol: string): Chunk => {
  const found = chunks.filter((c) => c.symbol === symbol);
  assert.equal(found.length, 1, `expected one chunk for ${symbol}, got ${found.length}`);
  return found[0]!;
};
const linesOf = (text: string): string[] => text.split(/\r\n|\n|\r/);

/** Every non-blank line is inside some chunk; chunks other than class outlines hold their exact lines. */
function assertWellFormed(text: string, chunks: Chunk[], maxLines = 120): void {
  const lines = linesOf(text);
  const covered = new Set<number>();
  for (const c of chunks) {
    assert.ok(c.startLine >= 1 && c.startLine <= c.endLine && c.endLine <= lines.length, `bad range ${c.startLine}-${c.endLine}`);
    assert.ok(c.content.split('\n').length <= maxLines, `${c.symbol} has more than ${maxLines} lines`);
    assert.ok(c.endLine - c.startLine + 1 <= maxLines || ['class', 'interface', 'enum'].includes(c.kind), `${c.symbol} spans more than ${maxLines} lines`);
    assert.ok(c.content.length <= MAX_CHUNK_CHARS);
    assert.match(c.content, /\S/);
    assert.equal(c.hash, createHash('sha256').update(c.content).digest('hex'));
    if (!['class', 'interface', 'enum'].includes(c.kind)) {
      assert.equal(c.content, lines.slice(c.startLine - 1, c.endLine).join('\n'), `${c.kind} ${c.symbol} ${c.startLine}-${c.endLine} is not its source lines`);
    }
    for (let l = c.startLine; l <= c.endLine; l++) covered.add(l);
  }
  lines.forEach((line, i) => {
    if (line.trim()) assert.ok(covered.has(i + 1), `line ${i + 1} not covered: ${JSON.stringify(line)}`);
  });
}

const LANGUAGE_CASES: Array<{ file: string; language: string; expected: string[] }> = [
  {
    file: 'user-service.ts',
    language: 'typescript',
    expected: [
      'type UserId',
      'interface User',
      'enum Role',
      'class UserService',
      'method UserService.constructor',
      'method UserService.getUser',
      'method UserService.listUsers',
      'method UserService.invalidate',
      'function rowToUser',
      'function gravatarUrl',
    ],
  },
  {
    file: 'Toolbar.tsx',
    language: 'tsx',
    expected: [
      'interface ToolbarProps',
      'function Toolbar',
      'class ErrorBoundary',
      'method ErrorBoundary.getDerivedStateFromError',
      'method ErrorBoundary.render',
    ],
  },
  {
    file: 'router.js',
    language: 'javascript',
    expected: ['class Router', 'method Router.constructor', 'method Router.add', 'method Router.match', 'function listen'],
  },
  {
    file: 'inventory.py',
    language: 'python',
    expected: [
      'class Item',
      'class Inventory',
      'method Inventory.__init__',
      'method Inventory.add',
      'method Inventory.total_units',
      'method Inventory.low_stock',
      'function load_inventory',
    ],
  },
  {
    file: 'cache.go',
    language: 'go',
    expected: [
      'class errNotFound',
      'method errNotFound.Error',
      'class Entry',
      'interface Store',
      'class LRU',
      'function New',
      'method LRU.Get',
      'method LRU.Put',
    ],
  },
  {
    file: 'stack.rs',
    language: 'rust',
    expected: [
      'enum StackError',
      'class Stack',
      'interface Peek',
      'method Peek.is_top',
      'class Stack',
      'method Stack.new',
      'method Stack.push',
      'method Stack.pop',
      'class Stack',
      'method Stack.peek',
      'class StackError',
      'method StackError.fmt',
      'function depth_of',
    ],
  },
  {
    file: 'OrderProcessor.java',
    language: 'java',
    expected: [
      'class OrderProcessor',
      'method OrderProcessor.OrderProcessor',
      'method OrderProcessor.total',
      'method OrderProcessor.process',
      'enum OrderProcessor.Status',
      'method OrderProcessor.Status.isFinal',
    ],
  },
  {
    file: 'ringbuf.c',
    language: 'c',
    expected: ['class ringbuf', 'enum rb_status', 'function next_pow2', 'function rb_new', 'function rb_push', 'function rb_free'],
  },
  {
    file: 'matrix.cpp',
    language: 'cpp',
    expected: ['class linalg.Matrix', 'method linalg.Matrix.Matrix', 'method linalg.Matrix.at', 'method linalg.Matrix.multiply', 'function linalg.clamp'],
  },
];

for (const { file, language, expected } of LANGUAGE_CASES) {
  test(`${language}: ${file} parses into its symbols`, () => {
    const text = fixture(file);
    const chunks = chunker.chunk(`src/${file}`, text);
    assert.deepEqual(symbols(chunks), expected);
    for (const c of chunks) {
      assert.equal(c.path, `src/${file}`);
      assert.equal(c.language, language);
    }
    assertWellFormed(text, chunks);
  });
}

test('every grammar file named in GRAMMAR_FILES ships with tree-sitter-wasms', () => {
  const dir = path.dirname(require.resolve('tree-sitter-wasms/out/tree-sitter-typescript.wasm'));
  assert.deepEqual(Object.keys(GRAMMAR_FILES).sort(), ['c', 'cpp', 'go', 'java', 'javascript', 'python', 'rust', 'tsx', 'typescript']);
  for (const file of Object.values(GRAMMAR_FILES)) assert.ok(existsSync(path.join(dir, file)), file);
});

test('languageForPath maps extensions, treats unknown text as text and binaries as not indexable', () => {
  const cases: Record<string, string | null> = {
    'a/b.ts': 'typescript',
    'x.mts': 'typescript',
    'C.tsx': 'tsx',
    'r.jsx': 'javascript',
    'r.cjs': 'javascript',
    'm.py': 'python',
    'main.go': 'go',
    'lib.rs': 'rust',
    'A.java': 'java',
    'x.c': 'c',
    'x.h': 'c',
    'x.hpp': 'cpp',
    'x.cc': 'cpp',
    'README.md': 'markdown',
    'package.json': 'json',
    'ci.yml': 'yaml',
    LICENSE: 'text',
    'notes.weird': 'text',
    Dockerfile: 'dockerfile',
    'logo.png': null,
    'model.onnx': null,
    'C:\\repo\\Main.JAVA': 'java',
  };
  for (const [p, lang] of Object.entries(cases)) assert.equal(languageForPath(p), lang, p);
});

test('a class chunk leaves its method bodies to the method chunks', () => {
  const text = fixture('user-service.ts');
  const chunks = chunker.chunk('user-service.ts', text);
  const cls = only(chunks, 'UserService');
  const getUser = only(chunks, 'UserService.getUser');
  // the class still spans its methods, and keeps its header, fields, doc comment and method signatures
  assert.equal(cls.startLine, 23);
  assert.equal(cls.endLine, 56);
  assert.match(cls.content, /^\/\*\*\n \* Loads and stores users/);
  assert.match(cls.content, /private readonly cache = new Map<UserId, User>\(\);/);
  assert.match(cls.content, /async getUser\(id: UserId\): Promise<User \| undefined> \{ \.\.\. \}/);
  // a distinctive line of a method body is embedded exactly once, in the method chunk
  const body = 'SELECT * FROM users WHERE id = $1';
  assert.deepEqual(
    chunks.filter((c) => c.content.includes(body)).map((c) => c.symbol),
    ['UserService.getUser'],
  );
  assert.ok(!cls.content.includes('this.hits++'));
  // the method's doc comment moved with it
  assert.equal(getUser.startLine, 32);
  assert.match(getUser.content, /^ {2}\/\*\* Fetches one user/);
  assert.ok(!cls.content.includes('Fetches one user'));

  const py = chunker.chunk('inventory.py', fixture('inventory.py'));
  const inventory = only(py, 'Inventory');
  assert.deepEqual(
    py.filter((c) => c.content.includes('restocked %s')).map((c) => c.symbol),
    ['Inventory.add'],
  );
  assert.match(inventory.content, /def add\(self, sku: str, name: str, quantity: int\) -> Item:\n\s+\.\.\./);
  assert.match(inventory.content, /currency = "EUR"/);

  const java = chunker.chunk('OrderProcessor.java', fixture('OrderProcessor.java'));
  assert.deepEqual(
    java.filter((c) => c.content.includes('order has no lines')).map((c) => c.symbol),
    ['OrderProcessor.process'],
  );
  // the nested enum's method is elided from the enum, and the enum from the outer class
  assert.deepEqual(
    java.filter((c) => c.content.includes('this == SHIPPED')).map((c) => c.symbol),
    ['OrderProcessor.Status.isFinal'],
  );
  assert.match(only(java, 'OrderProcessor').content, /enum Status \{ \.\.\. \}/);

  const rust = chunker.chunk('stack.rs', fixture('stack.rs'));
  assert.deepEqual(
    rust.filter((c) => c.content.includes('StackError::Overflow);')).map((c) => c.symbol),
    ['Stack.push'],
  );
});

test('doc comments, decorators and attributes directly above a symbol start its chunk', () => {
  const py = chunker.chunk('inventory.py', fixture('inventory.py'));
  const prop = only(py, 'Inventory.total_units');
  assert.equal(prop.startLine, 38);
  assert.match(prop.content, /^ {4}@property\n/);
  assert.equal(only(py, 'Item').startLine, 14); // @dataclasses.dataclass

  const rust = chunker.chunk('stack.rs', fixture('stack.rs'));
  const errEnum = rust.find((c) => c.symbol === 'StackError' && c.kind === 'enum')!;
  assert.equal(errEnum.startLine, 7);
  assert.match(errEnum.content, /^\/\/\/ Errors raised by stack operations\.\n#\[derive\(Debug, PartialEq\)\]\npub enum StackError/);

  const go = chunker.chunk('cache.go', fixture('cache.go'));
  assert.equal(only(go, 'LRU.Get').startLine, 44);
  assert.match(only(go, 'LRU.Get').content, /^\/\/ Get returns/);

  const ts = chunker.chunk(
    'c.ts',
    [
      '@Component({',
      "  selector: 'app-x',",
      '})',
      'export class C {',
      '  @Input() name = "";',
      '',
      '  @HostListener("click")',
      '  onClick() {',
      '    console.log("clicked");',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  assert.equal(only(ts, 'C').startLine, 1);
  assert.match(only(ts, 'C').content, /@Input\(\) name = "";/);
  assert.equal(only(ts, 'C.onClick').startLine, 7);

  // a comment separated by a blank line is not a doc comment
  const loose = chunker.chunk('l.ts', '// section: helpers\n\nfunction helper() {\n  return 1;\n}\n');
  assert.equal(only(loose, 'helper').startLine, 3);
  assertWellFormed('// section: helpers\n\nfunction helper() {\n  return 1;\n}\n', loose);
});

test('symbols are qualified with their class, impl, receiver and namespace', () => {
  const names = (file: string): string[] => chunker.chunk(file, fixture(file)).map((c) => c.symbol ?? '');
  assert.ok(names('inventory.py').includes('Inventory.add'));
  assert.ok(names('stack.rs').includes('Stack.push'));
  assert.ok(names('stack.rs').includes('StackError.fmt')); // impl fmt::Display for StackError
  assert.ok(names('cache.go').includes('LRU.Put')); // func (c *LRU) Put
  assert.ok(names('matrix.cpp').includes('linalg.Matrix.multiply')); // out-of-class Matrix::multiply in namespace linalg
  assert.ok(names('OrderProcessor.java').includes('OrderProcessor.Status.isFinal'));

  const ts = chunker.chunk(
    'ns.ts',
    'namespace Geo {\n  export class Point {\n    norm(): number {\n      return Math.hypot(1, 2);\n    }\n  }\n}\n\nclass Btn {\n  onClick = (e: Event) => {\n    e.preventDefault();\n  };\n}\n',
  );
  assert.deepEqual(symbols(ts), ['class Geo.Point', 'method Geo.Point.norm', 'class Btn', 'method Btn.onClick']);
});

test('a symbol longer than maxLines is split into overlapping windows that keep its name', async () => {
  const body = Array.from({ length: 300 }, (_, i) => `  total += step(${i}, total); // step ${i}`);
  const text = ['import { step } from "./step";', '', 'export function huge(): number {', '  let total = 0;', ...body, '  return total;', '}', ''].join('\n');
  const chunks = chunker.chunk('huge.ts', text);
  const parts = chunks.filter((c) => c.symbol === 'huge');
  assert.ok(parts.length >= 3, `expected >= 3 parts, got ${parts.length}`);
  assert.equal(parts[0]!.startLine, 3);
  assert.equal(parts.at(-1)!.endLine, 306);
  for (const [i, p] of parts.entries()) {
    assert.equal(p.kind, 'function');
    assert.ok(p.endLine - p.startLine + 1 <= 120, `part ${i} has ${p.endLine - p.startLine + 1} lines`);
    if (i > 0) {
      const overlap = parts[i - 1]!.endLine - p.startLine + 1;
      assert.ok(overlap >= 1 && overlap <= 10, `parts ${i - 1}/${i} overlap by ${overlap}`);
    }
  }
  assertWellFormed(text, chunks);

  // options are honoured, and a huge method is split while its class stays one outline chunk
  const small = await createChunker({ maxLines: 30, overlapLines: 5 });
  const cls = ['class Big {', '  run() {', ...body.map((l) => `  ${l}`), '  }', '}', ''].join('\n');
  const out = small.chunk('big.ts', cls);
  const run = out.filter((x) => x.symbol === 'Big.run');
  assert.ok(run.length >= 10);
  for (const p of run) assert.ok(p.endLine - p.startLine + 1 <= 30);
  for (let i = 1; i < run.length; i++) assert.ok(run[i - 1]!.endLine - run[i]!.startLine + 1 <= 5);
  assert.deepEqual(
    out.filter((x) => x.symbol === 'Big').map((x) => [x.startLine, x.endLine, x.content]),
    [[1, 304, 'class Big {\n  run() { ... }\n}']],
  );
  assertWellFormed(cls, out, 30);
});

test('small top-level statements are grouped into blocks of at most groupLines lines', async () => {
  const ts = chunker.chunk('user-service.ts', fixture('user-service.ts'));
  const first = ts[0]!;
  assert.deepEqual([first.kind, first.symbol, first.startLine, first.endLine], ['block', null, 1, 6]); // imports + constants

  const consts = Array.from({ length: 100 }, (_, i) => `export const LIMIT_${i} = ${i * 7};`).join('\n') + '\n';
  const chunks = chunker.chunk('consts.ts', consts);
  assert.deepEqual(
    chunks.map((c) => [c.kind, c.symbol, c.startLine, c.endLine]),
    [
      ['block', null, 1, 40],
      ['block', null, 41, 80],
      ['block', null, 81, 100],
    ],
  );
  assertWellFormed(consts, chunks);

  const out = (await createChunker({ groupLines: 10 })).chunk('consts.ts', consts);
  assert.equal(out.length, 10);
  for (const b of out) assert.ok(b.endLine - b.startLine + 1 <= 10);
});

test('every non-blank line of every fixture is covered, and chunks hold their exact lines', () => {
  for (const { file } of LANGUAGE_CASES) {
    const text = fixture(file);
    assertWellFormed(text, chunker.chunk(file, text));
  }
  const md = fixture('README.md');
  assertWellFormed(md, chunker.chunk('README.md', md));
});

test('CRLF and lone-CR files get the same chunks and line numbers as LF files', () => {
  for (const { file } of LANGUAGE_CASES) {
    const lf = fixture(file);
    const expected = chunker.chunk(file, lf).map((c) => [c.kind, c.symbol, c.startLine, c.endLine, c.content]);
    for (const eol of ['\r\n', '\r']) {
      const other = chunker.chunk(file, lf.replace(/\n/g, eol));
      assert.deepEqual(
        other.map((c) => [c.kind, c.symbol, c.startLine, c.endLine, c.content]),
        expected,
        `${file} with ${JSON.stringify(eol)}`,
      );
    }
  }
  const crlf = 'import x from "y";\r\n\r\nfunction f() {\r\n  return 1;\r\n}\r\n';
  assert.deepEqual(
    chunker.chunk('f.ts', crlf).map((c) => [c.symbol, c.startLine, c.endLine]),
    [
      [null, 1, 1],
      ['f', 3, 5],
    ],
  );
});

test('empty and whitespace-only files give no chunks', () => {
  assert.deepEqual(chunker.chunk('empty.ts', ''), []);
  assert.deepEqual(chunker.chunk('blank.py', '\n\n   \n\t\r\n'), []);
  assert.deepEqual(chunker.chunk('blank.md', '   '), []);
  assert.deepEqual(chunker.chunk('bom.ts', '\uFEFF\n'), []);
});

test('markdown, json and unknown files are cut into overlapping line windows', () => {
  const md = Array.from({ length: 100 }, (_, i) => (i % 10 === 0 ? `## Section ${i / 10}` : `Paragraph line ${i} about configuration.`)).join('\n');
  const chunks = chunker.chunk('docs/guide.md', md);
  assert.ok(chunks.length >= 3);
  for (const [i, c] of chunks.entries()) {
    assert.equal(c.kind, 'lines');
    assert.equal(c.symbol, null);
    assert.equal(c.language, 'markdown');
    assert.ok(c.endLine - c.startLine + 1 <= 40);
    if (i > 0) assert.ok(c.startLine <= chunks[i - 1]!.endLine, 'windows overlap');
  }
  assert.equal(chunks[0]!.startLine, 1);
  assert.equal(chunks.at(-1)!.endLine, 100);
  assertWellFormed(md, chunks);

  for (const [file, lang] of [
    ['package.json', 'json'],
    ['NOTICE', 'text'],
    ['build.gradle.weird', 'text'],
  ] as const) {
    const out = chunker.chunk(file, '{\n  "name": "x"\n}\n');
    assert.deepEqual(
      out.map((c) => [c.kind, c.language, c.startLine, c.endLine]),
      [['lines', lang, 1, 3]],
    );
  }
});

test('invalid syntax does not throw and still yields the intact symbols', () => {
  const broken = 'function ok() {\n  return 1;\n}\nclass X { m( { return }\nfunction g() {{{\nconst = ;\nfunction h() {\n  return 3;\n}\n';
  const chunks = chunker.chunk('broken.ts', broken);
  const names = chunks.map((c) => c.symbol);
  assert.ok(names.includes('ok'), JSON.stringify(names));
  assert.ok(names.includes('h'), JSON.stringify(names));
  assertWellFormed(broken, chunks);

  for (const [file, text] of [
    ['b.py', 'def f(:\n  pass\nclass A\n  def m(self): return 1\n'],
    ['b.go', 'package x\nfunc (\n}}}\n'],
    ['b.rs', 'impl { fn }}} struct'],
    ['b.java', 'class { void m( }'],
    ['b.c', '#if\nint f( {\n'],
    ['b.cpp', 'template<<class X {'],
    ['b.tsx', '<div><span></div>'],
    ['garbage.js', '\u0000\u0001))))((((\ud800'],
  ]) {
    const out = chunker.chunk(file!, text!);
    assert.ok(out.length > 0, file);
    assertWellFormed(text!, out);
  }
});

test('a minified one-line file is cut into capped character slices without losing text', () => {
  const line = '!function(){' + 'var a=1;function b(c){return c+a}'.repeat(1500) + '}();';
  const chunks = chunker.chunk('dist/app.min.js', line + '\n');
  assert.ok(chunks.length >= Math.ceil(line.length / MAX_CHUNK_CHARS));
  for (const c of chunks) {
    assert.ok(c.content.length <= MAX_CHUNK_CHARS, `chunk of ${c.content.length} chars`);
    assert.equal(c.startLine, 1);
    assert.equal(c.endLine, 1);
  }
  assert.equal(chunks.map((c) => c.content).join(''), line);

  // long lines among normal ones: the normal lines stay line-exact around the sliced one
  const mixed = ['const a = 1;', `const blob = "${'x'.repeat(20000)}";`, 'const b = 2;', ''].join('\n');
  const out = chunker.chunk('mixed.ts', mixed);
  for (const c of out) assert.ok(c.content.length <= MAX_CHUNK_CHARS);
  assert.ok(out.some((c) => c.content === 'const a = 1;' && c.startLine === 1));
  assert.ok(out.some((c) => c.content === 'const b = 2;' && c.startLine === 3));

  // too big to parse at all (1.7 MB): windowed without parsing, so no function chunks
  const huge = Array.from({ length: 40000 }, (_, i) => `export function f${i}() { return ${i}; }`).join('\n');
  const big = chunker.chunk('huge.ts', huge);
  assert.ok(big.every((c) => c.kind === 'lines' && c.content.length <= MAX_CHUNK_CHARS));
  assert.equal(big.at(-1)!.endLine, 40000);
});

test('a .h header with C++ syntax is parsed as C++', () => {
  const hpp =
    '#pragma once\n#include <vector>\n\nnamespace geo {\nclass Shape {\npublic:\n  virtual double area() const {\n    return 0.0;\n  }\n};\n}  // namespace geo\n';
  const chunks = chunker.chunk('include/shape.h', hpp);
  assert.deepEqual(symbols(chunks), ['class geo.Shape', 'method geo.Shape.area']);
  assert.ok(chunks.every((c) => c.language === 'cpp'));
  const c = chunker.chunk(
    'include/ring.h',
    '#ifndef RING_H\n#define RING_H\n\nint ring_len(const struct ring *r);\n\nstruct ring {\n  int len;\n};\n\n#endif\n',
  );
  assert.deepEqual(symbols(c), ['class ring']);
  assert.ok(c.every((x) => x.language === 'c'));
  assert.equal(c.at(-1)!.endLine, 10); // #endif rides along with the last symbol
});

test('grammarDir: an explicit folder is used, a wrong one is an error', async () => {
  const dir = path.dirname(require.resolve('tree-sitter-wasms/out/tree-sitter-typescript.wasm'));
  const explicit = await createChunker({ grammarDir: dir });
  assert.deepEqual(symbols(explicit.chunk('a.py', 'def f():\n    return 1\n')), ['function f']);
  await assert.rejects(createChunker({ grammarDir: path.join(FIXTURES, 'no-such-dir') }), /cannot load the typescript grammar/);
});
