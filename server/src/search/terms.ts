/**
 * Words for full-text search. Code identifiers are split on camelCase, snake_case and letter/digit
 * boundaries and lowercased, and the whole identifier is kept too, so "parseHttpRequest" matches the
 * queries "parse http request", "parseHttpRequest" and "parse_http_request" alike. Words contain only
 * [a-z0-9], so PostgreSQL's 'simple' configuration turns them into lexemes unchanged.
 */
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

/** The text stored for `to_tsvector('simple', ...)` and its length in words (BM25's document length). */
export function searchText(text: string): { text: string; words: number } {
  const words = wordsOf(text);
  return { text: words.join(' '), words: words.length };
}

/** Distinct query words, in order of first appearance. */
export function queryTerms(query: string): string[] {
  return [...new Set(wordsOf(query))];
}
