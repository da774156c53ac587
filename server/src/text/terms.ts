/**
 * Words for full-text search. Code identifiers are split on camelCase, snake_case and letter/digit
 * boundaries and lowercased, and the whole identifier is kept too, so "parseHttpRequest" matches the
 * queries "parse http request", "parseHttpRequest" and "parse_http_request" alike. Words contain only
 * [a-z0-9], so PostgreSQL's 'simple' configuration turns them into lexemes unchanged.
 */
import { chunkBm25Vector } from './bm25Vector';

const WORD = /[A-Za-z0-9_]+/g;
const PART = /[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+/g;
const MAX_WORD = 64; // longer runs are hashes, base64 or minified code: not words anyone searches for

export function wordsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(WORD)) {
    const raw = m[0];
    if (raw.length > MAX_WORD) continue;
    const parts = raw.match(PART);
    if (!parts) continue;
    const whole = parts.join('').toLowerCase();
    out.push(whole);
    if (parts.length > 1) for (const p of parts) out.push(p.toLowerCase());
  }
  return out;
}

const MAX_POSITION = 16383; // PostgreSQL's largest tsvector position
const MAX_POSITIONS = 255; // positions kept per lexeme: term frequency saturates long before

/**
 * The chunk's full-text terms (its words, stemmed: "parsing the entries" matches `parseEntry`) as a tsvector
 * literal (`'word':1,4 'other':2`), its length in words (BM25's document length) and its BM25 vector
 * (bm25Vector.ts) over the same term frequencies. PostgreSQL parses this literal about twice as fast as it
 * runs `to_tsvector` over the text, and the terms are exactly those `to_tsvector('simple', terms.join(' '))`
 * would produce.
 */
export function searchText(text: string): { text: string; words: number; bm25: string } {
  const words = wordsOf(text);
  const positions = positionsOf(words, stem);
  return { text: tsvectorLiteral(positions), words: words.length, bm25: chunkBm25Vector(frequencies(positions), words.length) };
}

/** Each term's positions (1-based, as a tsvector keeps them: capped, distinct, at most MAX_POSITIONS). */
function positionsOf(words: string[], term: (word: string) => string): Map<string, number[]> {
  const positions = new Map<string, number[]>();
  words.forEach((w, i) => {
    const t = term(w);
    const p = positions.get(t);
    const pos = Math.min(i + 1, MAX_POSITION);
    if (!p) positions.set(t, [pos]);
    else if (p.length < MAX_POSITIONS && p[p.length - 1] !== pos) p.push(pos);
  });
  return positions;
}

function tsvectorLiteral(positions: Map<string, number[]>): string {
  let out = '';
  for (const [w, p] of positions) out += `${out ? ' ' : ''}${w}${p.length ? `:${p.join(',')}` : ''}`;
  return out;
}

/** Term frequencies as PostgreSQL counts them: positions, or 1 for a lexeme stored without any. */
function frequencies(positions: Map<string, number[]>): [string, number][] {
  return [...positions].map(([w, p]): [string, number] => [w, Math.max(1, p.length)]);
}

/**
 * Stored terms from an index written before terms were stemmed (migration 3): a tsvector's lexemes with
 * their positions, each lexeme stemmed, positions of lexemes with one stem merged, exactly as searchText
 * builds them from the text. Returns the new tsvector literal and BM25 vector.
 */
export function stemStoredTerms(lexemes: [string, number[]][], words: number): { text: string; bm25: string } {
  const positions = new Map<string, number[]>();
  for (const [w, p] of lexemes) {
    const s = stem(w);
    positions.set(s, [...(positions.get(s) ?? []), ...p]);
  }
  for (const [s, p] of positions) positions.set(s, [...new Set(p)].sort((a, b) => a - b).slice(0, MAX_POSITIONS));
  return { text: tsvectorLiteral(positions), bm25: chunkBm25Vector(frequencies(positions), words) };
}

/**
 * tsvector literal of a symbol name's words, not stemmed, for workspace/symbol's prefix matches ("pars"
 * must not stand for "parse"); null without a symbol.
 */
export function symbolWords(symbol: string | null): string | null {
  return symbol === null ? null : tsvectorLiteral(positionsOf(wordsOf(symbol), (w) => w));
}

/** Distinct query words, in order of first appearance (not stemmed: the Okapi baseline's terms). */
export function queryTerms(query: string): string[] {
  return [...new Set(wordsOf(query))];
}

/** A query's full-text terms as searchText stores them: stemmed words, distinct, in order of first appearance. */
export function searchTerms(query: string): string[] {
  return [...new Set(wordsOf(query).map(stem))];
}

/**
 * The parts of the identifiers in `text` (camelCase, snake_case and letter/digit boundaries), lowercased,
 * without the whole identifiers and without numbers: `Cache.getUserById` → cache, get, user, by, id.
 */
export function partsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(WORD)) {
    if (m[0].length > MAX_WORD) continue;
    for (const p of m[0].match(PART) ?? []) if (!/^[0-9]+$/.test(p)) out.push(p.toLowerCase());
  }
  return out;
}

/**
 * A light English suffix stemmer for matching documentation words to identifier parts: "Returns the
 * entries" ~ `getEntry`, "parsing" ~ `parse`, "creates" ~ `create`. Plural and verb endings only (-s, -es,
 * -ies, -ed, -ing, then a final -e), so it rarely merges unrelated words; applied to both sides, so it only
 * has to map a word's forms to one key, not to a dictionary word.
 */
export function stem(word: string): string {
  let w = word;
  if (w.length > 4 && w.endsWith('ies')) w = `${w.slice(0, -3)}y`;
  else if (w.length > 4 && /(?:ss|x|ch|sh)es$/.test(w)) w = w.slice(0, -2);
  else if (w.length > 3 && w.endsWith('s') && !/(?:ss|us|is)$/.test(w)) w = w.slice(0, -1);
  // "string" and "red" keep their endings: what is left must still have a vowel
  const m = /^(.*[aeiouy].*?)(?:ing|ed)$/.exec(w);
  if (m && m[1]!.length >= 3 && w.length > 4) w = /([^aeiouylsz])\1$/.test(m[1]!) ? m[1]!.slice(0, -1) : m[1]!; // running → run
  if (w.length > 3 && w.endsWith('e')) w = w.slice(0, -1);
  return w;
}
