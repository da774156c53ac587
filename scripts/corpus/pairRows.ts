/**
 * Reading mined pairs (pairs.jsonl) and the seeded orderings that train-default.ts and eval-model.ts must
 * share: eval-model's validation slice is train-default's only if both shuffle and group the same way.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { mulberry32 } from '../../server/src/model/random';

/** One JSON object per non-empty line. */
export async function readJsonl<T>(file: string): Promise<T[]> {
  const rows: T[] = [];
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) if (line) rows.push(JSON.parse(line) as T);
  return rows;
}

/** Seeded Fisher–Yates on a copy. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const a = items.slice();
  const rand = mulberry32(seed);
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Rows grouped by language, languages in sorted order. */
export function byLanguage<T extends { language: string }>(rows: readonly T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const r of rows) {
    let l = m.get(r.language);
    if (!l) m.set(r.language, (l = []));
    l.push(r);
  }
  return new Map([...m.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1)));
}
