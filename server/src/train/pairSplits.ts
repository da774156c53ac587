/**
 * Held-out splits of mined pairs: whole groups (sources for the corpus, files for fine-tuning) go to one side,
 * per language, in a seeded order, so that the test set measures search in code the model never saw and the
 * same seed gives the same split. Apart from mining (pairs.ts) because it is about evaluation, not about
 * what makes a good pair.
 */
import { createHash } from 'node:crypto';
import type { Pair } from './pair';

function seededKey(seed: number, key: string): string {
  return createHash('sha256').update(`${seed}\0${key}`).digest('hex');
}

/**
 * Assigns whole groups (sources, files) to the held-out side, per language, so that each language gets about
 * `share` of its pairs held out: groups are taken in seeded-hash order until the share is reached, skipping
 * a group that alone would overshoot it by more than another share (one huge package must not become the
 * whole test set), and always leaving a language at least one training group. Languages with the fewest
 * groups choose first; a group that spans languages is decided once, by the first language that takes it.
 */
function splitGroups(pairs: Pair[], groupOf: (p: Pair) => string, share: number, seed: number): { train: Pair[]; test: Pair[] } {
  if (!(share >= 0 && share <= 1)) throw new RangeError(`held-out share must be in [0, 1], got ${share}`);
  const byLang = new Map<string, Map<string, number>>();
  for (const p of pairs) {
    let m = byLang.get(p.language);
    if (!m) byLang.set(p.language, (m = new Map<string, number>()));
    const g = groupOf(p);
    m.set(g, (m.get(g) ?? 0) + 1);
  }
  const testGroups = new Set<string>();
  const trainGroups = new Set<string>();
  const langs = [...byLang.keys()].sort((a, b) => byLang.get(a)!.size - byLang.get(b)!.size || (a < b ? -1 : a > b ? 1 : 0));
  const hashes = new Map<string, string>();
  const hashOf = (g: string): string => {
    let h = hashes.get(g);
    if (h === undefined) hashes.set(g, (h = seededKey(seed, g)));
    return h;
  };
  for (const lang of langs) {
    const counts = byLang.get(lang)!;
    if (counts.size < 2) {
      // the language's only group trains: holding it out would leave nothing to learn the language from
      for (const g of counts.keys()) if (!testGroups.has(g)) trainGroups.add(g);
      continue;
    }
    if (share === 0) continue;
    const groups = [...counts.keys()].sort((a, b) => (hashOf(a) < hashOf(b) ? -1 : hashOf(a) > hashOf(b) ? 1 : a < b ? -1 : 1));
    const total = groups.reduce((n, g) => n + counts.get(g)!, 0);
    const target = share * total;
    let test = 0;
    let testN = 0;
    for (const g of groups) {
      if (testGroups.has(g)) {
        test += counts.get(g)!;
        testN++;
      }
    }
    const open = groups.filter((g) => !testGroups.has(g) && !trainGroups.has(g));
    // g may go to test only if another group of this language stays out of it
    const canTake = (g: string): boolean => groups.some((h) => h !== g && !testGroups.has(h));
    for (const g of open) {
      if (test >= target) break;
      const c = counts.get(g)!;
      if (test + c > target + Math.max(target, 1) || !canTake(g)) continue;
      testGroups.add(g);
      test += c;
      testN++;
    }
    if (testN === 0) {
      // every open group was too big: hold out the smallest rather than nothing, unless it is most of the
      // language (then the language's training data matters more than its test score)
      const smallest = open.filter(canTake).sort((a, b) => counts.get(a)! - counts.get(b)!)[0];
      if (smallest !== undefined && counts.get(smallest)! * 2 <= total) testGroups.add(smallest);
    }
    // pin this language's largest remaining group to train so a later language cannot take it
    if (!groups.some((g) => trainGroups.has(g))) {
      const keep = groups.filter((g) => !testGroups.has(g)).sort((a, b) => counts.get(b)! - counts.get(a)!)[0];
      if (keep !== undefined) trainGroups.add(keep);
    }
  }
  const train: Pair[] = [];
  const test: Pair[] = [];
  for (const p of pairs) (testGroups.has(groupOf(p)) ? test : train).push(p);
  return { train, test };
}

/**
 * Held-out split by source (package): every pair of a source lands on the same side, never a random pair,
 * so the test set measures search in code the model never saw. Deterministic for a given seed; each
 * language gets about `heldOutShare` of its pairs held out when it has two or more sources.
 */
export function splitBySource(pairs: Pair[], heldOutShare: number, seed: number): { train: Pair[]; test: Pair[] } {
  return splitGroups(pairs, (p) => p.source, heldOutShare, seed);
}

/** For fine-tuning on one codebase: about `share` of each language's pairs held out, whole files at a time. */
export function splitByFile(pairs: Pair[], share: number, seed: number): { train: Pair[]; test: Pair[] } {
  return splitGroups(pairs, (p) => `${p.source}\0${p.path}`, share, seed);
}
