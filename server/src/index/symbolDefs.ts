/**
 * Which syntax nodes are symbols, per language: given a tree-sitter node and the language's spec
 * (languages.ts), `resolve` says whether it defines a function, method, class, interface, type or enum, and
 * gives its name (qualified the C++/Rust/Go way: `Matrix::at`, `impl Foo`, `func (c *LRU) Get`), its wrappers
 * and the body a class chunk elides; or that it is a namespace-like container to look inside. The grammar
 * knowledge lives here so the extraction (symbolExtractor.ts) only deals with units and rows.
 */
import type { LanguageSpec, SymbolKind } from './languages';

type Node = import('web-tree-sitter').Node;

export interface Def {
  kind: SymbolKind;
  name: string;
  /** the definition itself */
  node: Node;
  /** the definition with its wrappers (export, decorators, template<>) */
  outer: Node;
  /** the body a class chunk elides; null when there is none (abstract method, prototype) */
  body: Node | null;
}

export type Resolved = { def: Def } | { transparent: Node; name: string | null } | null;

export function namedChildren(node: Node): Node[] {
  return node.namedChildren.filter((c): c is Node => c !== null);
}

/** `linalg::Matrix<T>::at` → `linalg.Matrix.at` */
function cleanName(raw: string): string {
  let s = raw.replace(/\s+/g, '');
  for (let prev = ''; prev !== s;) {
    prev = s;
    s = s.replace(/<[^<>]*>/g, '').replace(/\[[^[\]]*\]/g, '');
  }
  return s.replace(/::/g, '.').replace(/^[&*]+|^['"`]|['"`]$/g, '');
}

/** C/C++ names sit at the bottom of a declarator chain: `static int *(*f)(void)`, `double& at(int)`. */
function declaratorName(node: Node): string | null {
  let d: Node | null | undefined = node.childForFieldName('declarator');
  for (let depth = 0; d && depth < 16 && d.type.endsWith('_declarator'); depth++) {
    d = d.childForFieldName('declarator') ?? namedChildren(d).find((c) => /(_declarator|identifier|_name|template_function)$/.test(c.type));
  }
  if (!d || d.text.length > 200) return null;
  return d.text;
}

function findBody(node: Node): Node | null {
  const field = node.childForFieldName('body');
  if (field) return field;
  return namedChildren(node).find((c) => /(_body|declaration_list|^block|^statement_block|^compound_statement)$/.test(c.type)) ?? null;
}

function goTypeKind(spec: Node): SymbolKind {
  const t = spec.childForFieldName('type')?.type;
  return t === 'struct_type' ? 'class' : t === 'interface_type' ? 'interface' : 'type';
}

export function resolve(node: Node, spec: LanguageSpec): Resolved {
  const type = node.type;
  if (spec.wrappers.has(type)) {
    let only: Def | null = null;
    let count = 0;
    for (const child of namedChildren(node)) {
      const r = resolve(child, spec);
      if (!r) continue;
      if ('transparent' in r) return r;
      only = r.def;
      count++;
    }
    if (count === 1 && only) return { def: { ...only, outer: node } };
    if (!spec.transparent.has(type)) return null;
  }
  if (spec.transparent.has(type)) {
    const name = spec.qualifying.has(type) ? (node.childForFieldName('name')?.text ?? null) : null;
    return { transparent: node, name: name === null ? null : cleanName(name) };
  }
  const kind = spec.symbols[type];
  if (kind) return resolveSymbol(node, kind);
  if (spec.variableDecls.has(type) || spec.fieldDecls.has(type)) return resolveFunctionValue(node, spec);
  return null;
}

function resolveSymbol(node: Node, kind: SymbolKind): Resolved {
  const type = node.type;
  let name: string | null = null;
  let k = kind;
  if (type.endsWith('_specifier')) {
    // `struct s;` and `struct s *p` are uses, not definitions
    if (!node.childForFieldName('body')) return null;
    name = node.childForFieldName('name')?.text ?? null;
  } else if (type === 'type_definition') {
    name = node.childForFieldName('declarator')?.text ?? null;
    const inner = node.childForFieldName('type');
    if (inner?.childForFieldName('body')) {
      if (inner.type === 'enum_specifier') k = 'enum';
      else if (/^(struct|union|class)_specifier$/.test(inner.type)) k = 'class';
    }
  } else if (type === 'type_spec') {
    name = node.childForFieldName('name')?.text ?? null;
    k = goTypeKind(node);
  } else if (type === 'impl_item') {
    const t = node.childForFieldName('type')?.text;
    if (t) name = cleanName(t).split('.').pop() ?? null;
  } else if (type === 'method_declaration' && node.childForFieldName('receiver')) {
    // Go: func (c *LRU) Get(...) → LRU.Get
    const recv = node.childForFieldName('receiver');
    const param = recv ? namedChildren(recv).find((c) => c.type === 'parameter_declaration') : undefined;
    const recvType = param?.childForFieldName('type')?.text;
    const method = node.childForFieldName('name')?.text;
    if (method) name = recvType ? `${cleanName(recvType)}.${method}` : method;
  } else {
    name = node.childForFieldName('name')?.text ?? null;
    if (name === null && type === 'function_definition') name = declaratorName(node);
  }
  if (!name) return null;
  name = cleanName(name);
  if (!name) return null;
  // C++ out-of-class definitions (`void Matrix::multiply() {}`) are methods of the qualifying class
  if (k === 'function' && type === 'function_definition' && name.includes('.')) k = 'method';
  const body = k === 'function' || k === 'method' ? node.childForFieldName('body') : findBody(node);
  return { def: { kind: k, name, node, outer: node, body } };
}

/** `const f = () => {}` and class fields holding arrow functions are functions named by their binding. */
function resolveFunctionValue(node: Node, spec: LanguageSpec): Resolved {
  let binding: Node = node;
  if (spec.variableDecls.has(node.type)) {
    const decls = namedChildren(node).filter((c) => c.type === 'variable_declarator');
    if (decls.length !== 1) return null;
    binding = decls[0]!;
  }
  const nameNode = binding.childForFieldName('name') ?? binding.childForFieldName('property');
  const value = binding.childForFieldName('value');
  if (!nameNode || !value || !spec.functionValues.has(value.type)) return null;
  if (!/^(identifier|property_identifier|private_property_identifier)$/.test(nameNode.type)) return null;
  return { def: { kind: 'function', name: nameNode.text, node, outer: node, body: value.childForFieldName('body') } };
}
