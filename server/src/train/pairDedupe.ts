/**
 * Dropping duplicate pairs before training or splitting: one function's copies across .js/.mjs/.cjs, bundles
 * and vendored sources, overloads sharing a doc, and too many pairs sharing one query. Apart from mining
 * (pairs.ts) because it runs over a whole corpus, not one source's chunks.
 */
import { createHash } from 'node:crypto';
import { type Pair, bareName } from './pair';

/** Whitespace-free code without export/declare wrappers: the same function in .js/.mjs/.cjs/.ts copies. */
function codeKey(code: string): string {
  const norm = code
    .replace(/^\s*(?:export\s+(?:default\s+)?|declare\s+)+/, '')
    .replace(/\s+/g, '')
    .replace(/;+$/, '');
  return createHash('sha1').update(norm).digest('hex');
}

function normQuery(q: string): string {
  return q
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/**
 * Lower is better: which copy of a duplicated function to keep. The authored source (TypeScript, not under
 * dist/ or build/) wins over compiled, bundled and module-format copies.
 */
function copyRank(p: Pair): number {
  let r = 0;
  if (/(?:^|\/)(?:dist|build|out|lib|esm|cjs|umd|es\d*|bundles?|compiled|vendor)\//i.test(p.path)) r += 4;
  if (/\.(?:mjs|cjs)$/i.test(p.path)) r += 2;
  if (p.language === 'javascript') r += 1;
  return r;
}

export interface DedupeOptions {
  /**
   * At most this many pairs keep one normalised query (default 1): a query shared by different functions
   * (copy-pasted docs, "Creates a new instance.") has no single right answer to evaluate, and its pairs
   * contradict each other as in-batch negatives.
   */
  maxPerQuery?: number;
}

/**
 * Drops duplicates, keeping input order: the same normalised code (whitespace and export wrappers aside),
 * and the same (normalised query, symbol name) pair, which catches one function's copies across .js, .mjs,
 * .cjs and bundles, vendored copies across sources, and overloads sharing a doc; then caps the pairs per
 * normalised query (DedupeOptions.maxPerQuery). Of a group, the copy from authored source is kept (see
 * copyRank), then the earliest. Run it over the whole corpus before splitting, so no copy straddles the split.
 */
export function dedupePairs(pairs: Pair[], opts: DedupeOptions = {}): Pair[] {
  const maxPerQuery = opts.maxPerQuery ?? 1;
  const order = pairs.map((p, i) => ({ p, i, rank: copyRank(p) }));
  order.sort((a, b) => a.rank - b.rank || a.i - b.i);
  const codes = new Set<string>();
  const named = new Set<string>();
  const perQuery = new Map<string, number>();
  const keep: boolean[] = new Array<boolean>(pairs.length).fill(false);
  for (const { p, i } of order) {
    const ck = codeKey(p.code);
    const q = normQuery(p.query);
    const nk = `${q}\0${bareName(p.symbol).toLowerCase()}`;
    if (codes.has(ck) || named.has(nk)) continue;
    const n = perQuery.get(q) ?? 0;
    if (n >= maxPerQuery) continue;
    codes.add(ck);
    named.add(nk);
    perQuery.set(q, n + 1);
    keep[i] = true;
  }
  return pairs.filter((_, i) => keep[i]);
}
