/**
 * From a doc comment's raw text to plain prose: JSDoc/Javadoc inline tags unwrapped, HTML and Markdown
 * reduced to text, and everything from the first block tag (`@param`), docstring section (`Args:`) or
 * reference heading (`# Examples`) on dropped, per the language's conventions. What is left is the
 * description a query is taken from (pairs.ts).
 */
import type { Flavor } from './docComments';

const HTML_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", nbsp: ' ', '#39': "'", mdash: '—', ndash: '–', hellip: '…' };

/**
 * `{@link Foo#bar text}` → text, `{@code x}` → x, `{@return the size}` → Returns the size (JSDoc, TSDoc,
 * Javadoc inline tags); innermost first, since they nest (`{@return a {@link Entry}}`).
 */
function inlineTags(s: string): string {
  for (let prev = ''; prev !== s;) {
    prev = s;
    s = s.replace(/\{@(\w+)\s*([^{}]*)\}/g, inlineTag);
  }
  return s;
}

function inlineTag(_m: string, tag: string, body: string): string {
  const b = body.trim();
  if (tag === 'inheritDoc' || tag === 'inheritdoc') return '';
  if (tag === 'return') return `Returns ${b}.`;
  if (/^link/.test(tag)) {
    const bar = b.indexOf('|');
    if (bar >= 0) return b.slice(bar + 1).trim();
    // the reference ends at the first space outside parentheses: `#of(Object, int) of(x, 0)`
    let depth = 0;
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!;
      if (c === '(') depth++;
      else if (c === ')') depth--;
      else if (depth <= 0 && /\s/.test(c)) return b.slice(i + 1).trim();
    }
    return b.replace(/^#/, '').replace(/#/g, '.');
  }
  return b;
}

/** Markdown to plain text: code fences and reference definitions dropped, links and code spans unwrapped. */
function markdownText(s: string): string {
  return s
    .replace(/^[ \t]*(```|~~~)[^\n]*\n[\s\S]*?^[ \t]*\1[^\n]*$/gm, '')
    .replace(/^[ \t]*\[[^\]\n]+\]:[^\n]*$/gm, '')
    .replace(/!?\[([^\]\n]*)\]\([^)\n]*\)/g, '$1')
    .replace(/\[([^\]\n]+)\]\[[^\]\n]*\]/g, '$1')
    .replace(/\[([^\]\n]+)\](?![(:[])/g, '$1')
    .replace(/`+([^`\n]*)`+/g, '$1')
    .replace(/\*\*([^*\n]+)\*\*/g, '$1');
}

function htmlText(s: string): string {
  return s
    .replace(/<pre\b[\s\S]*?<\/pre>/gi, '\n\n')
    .replace(/<\/?(?:p|br|ul|ol|li|dl|dt|dd|table|tr|h\d|blockquote)\b[^>]*>/gi, '\n\n')
    .replace(/<\/?[a-zA-Z][^<>]*>/g, '')
    .replace(/&(#?\w+);/g, (m, e: string) => HTML_ENTITIES[e] ?? (/^#\d+$/.test(e) ? String.fromCodePoint(Number(e.slice(1))) : m));
}

/** Python docstring sections and fields (Google, NumPy, reST), doctests: where the summary is over. */
const PY_SECTION =
  /^[ \t]*(?:(?:Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments|Other Parameters|Returns?|Yields?|Raises|Throws|Examples?|Notes?|Warnings?|See Also|References|Attributes|Methods|Todo)\s*:?[ \t]*$|:(?:param|type|returns?|rtype|raises?|arg|key|keyword|ivar|cvar|var|yields?|meta)\b|>>>|-{3,}[ \t]*$|={3,}[ \t]*$|\.\. \w+::)/m;
/** Block tags (JSDoc/Javadoc) and fields: the description ends at the first. */
export const BLOCK_TAG = /^[ \t]*@[A-Za-z]/m;
/** Markdown headings (`# Examples`, `# Safety`, `# Panics` in Rust docs) start the reference sections. */
const HEADING = /^[ \t]*#{1,6}[ \t]+\S/m;
/** Go: a `Deprecated:` paragraph is a notice, not a description */
const GO_DEPRECATED = /^Deprecated:/m;

export function cutAt(s: string, re: RegExp): string {
  const m = re.exec(s);
  return m ? s.slice(0, m.index) : s;
}

export function cleanDoc(raw: string, flavor: Flavor): string {
  let s = raw.replace(/\r\n?/g, '\n');
  if (flavor === 'python') {
    s = cutAt(s, PY_SECTION);
    s = s
      .replace(/:[\w:]+:`~?([^`]*)`/g, '$1')
      .replace(/``([^`]*)``/g, '$1')
      .replace(/`([^`]*)`/g, '$1');
  } else {
    s = inlineTags(s);
    s = cutAt(s, BLOCK_TAG);
    if (flavor === 'javadoc' || flavor === 'c') s = htmlText(s);
    s = markdownText(s);
    s = cutAt(s, HEADING);
    if (flavor === 'go') s = cutAt(s, GO_DEPRECATED);
  }
  return s
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
