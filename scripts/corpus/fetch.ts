/**
 * Fetches the training corpus: real source code pinned in corpus/manifest.json, from the npm registry and
 * Debian's archive, into a cache outside the repo.
 *
 *   node --import tsx scripts/corpus/fetch.ts [--cache DIR] [--only NAME ...] [--manifest FILE]
 *
 * Cache: --cache, else $SEMCODE_CORPUS_DIR, else ${XDG_CACHE_HOME:-~/.cache}/semcode-corpus. Layout:
 *   sources/<kind>-<name>-<version>/     the extracted tree (npm: the package root; deb: the filesystem
 *                                        tree of the .deb, nested source archives unpacked in place)
 *   sources/<...>/.semcode-source.json   marker, written last: its presence means the tree is complete
 *   sources.json                         one record per manifest entry (license, files, bytes, estimates)
 * and the committed corpus/SOURCES.md (name, version, license) is regenerated from the same records when
 * the cache holds every manifest entry. A tree is also pruned to the entry's include/exclude prefixes and
 * loses its symlinks (dpkg trees point at host paths). Re-runs skip finished trees (marker present).
 *
 * npm: `npm pack NAME@VERSION` + system tar. deb: `apt-get download NAME=VERSION` + `dpkg-deb -x`, then
 * nested archives are unpacked (`**\/src.zip`, archives under usr/src/, and the entry's `unpack` list):
 * unzip for zips, tar for .tar.*. Needs `apt-get update` once (for the package lists) and unzip.
 *
 * The evaluation hold-out (corpus/eval-holdout.txt) is enforced three ways: a held-out manifest entry is
 * refused (exit 2) before anything is fetched; a package whose Debian Source or upstream/repository URL
 * names a held-out project is refused after download; directories that are vendored copies are deleted
 * from extracted trees and logged. Code files that merely name a held-out project are listed (NOTE lines,
 * `holdoutMentions` in sources.json) for a person to judge: that is how requests' utils.py, which holds
 * helpers copied from werkzeug, was found and excluded in the manifest.
 *
 * Exit: 0 done, 1 usage, 2 refusal or failure (one line on stderr saying what and why).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  heldOutProjectInUrl,
  holdoutMentionPattern,
  isHeldOutPackage,
  isVendoredHoldout,
} from '../../server/src/train/holdout';

const REPO = resolve(__dirname, '../..');
const MARKER = '.semcode-source.json';
/** Bump when post-processing changes what a finished tree contains, so old trees are redone. */
const LAYOUT_VERSION = 2;
/** Bump when the doc-comment estimate changes: finished trees are re-measured, not re-fetched. */
const ESTIMATOR_VERSION = 2;

export const LANGUAGES = ['typescript', 'javascript', 'python', 'go', 'java', 'rust'] as const;
export type Lang = (typeof LANGUAGES)[number];

export interface ManifestEntry {
  kind: 'npm' | 'deb';
  name: string;
  /** Exact: npm semver `1.2.3[-pre]`, Debian `[epoch:]upstream[-revision]`. */
  version: string;
  languages: Lang[];
  /** Keep only these path prefixes (relative to the tree root) plus license/metadata files: drops built
   *  copies (dist/, esm/, min/) that repeat the same doc comments as the real source. */
  include?: string[];
  /** Then drop these path prefixes (e.g. a bundled dist/ beside per-module sources). */
  exclude?: string[];
  /** Extra nested archives to unpack (paths relative to the tree root). */
  unpack?: string[];
  /** Why this source is here / what it adds. */
  note?: string;
}

interface LangStats {
  files: number;
  bytes: number;
  /** Rough regex count of functions/methods with a prose doc comment (the real miner is elsewhere). */
  docFunctions: number;
}

export interface SourceRecord {
  kind: 'npm' | 'deb';
  name: string;
  version: string;
  license: string;
  languages: Lang[];
  /** Relative to the cache root. */
  dir: string;
  files: number;
  bytes: number;
  byLanguage: Partial<Record<Lang, LangStats>>;
  /** npm: the registry's integrity string; deb: sha256 of the .deb. */
  integrity: string;
  /** Vendored held-out directories deleted from the tree (relative to it). */
  removedHoldout: string[];
  symlinksRemoved: number;
  estimator: number;
  /** deb: the package whose copyright file the license came from, when not this one (doc dir symlink). */
  licenseFrom?: string;
  /** Code files that name a held-out project (`file:line: text`), for review: possible copied code. */
  holdoutMentions: string[];
  layout: number;
}

const NPM_VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
const DEB_VERSION = /^(?:\d+:)?[0-9][A-Za-z0-9.+~]*(?:-[A-Za-z0-9.+~]+)?$/;

class Fail extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

function log(msg: string): void {
  process.stderr.write(msg + '\n');
}

/** Validates the manifest's shape; throws Fail(2) naming the first bad entry. */
export function loadManifest(file: string): ManifestEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Fail(`cannot read manifest ${file}: ${(e as Error).message}`);
  }
  const sources = (json as { sources?: unknown }).sources;
  if (!Array.isArray(sources)) throw new Fail(`${file}: expected { "sources": [...] }`);
  const seen = new Set<string>();
  return sources.map((s: ManifestEntry, i) => {
    const where = `${file}: sources[${i}] (${s?.name ?? '?'})`;
    if (s.kind !== 'npm' && s.kind !== 'deb') throw new Fail(`${where}: kind must be npm or deb`);
    if (typeof s.name !== 'string' || !/^(?:@[a-z0-9._-]+\/)?[a-z0-9][a-z0-9._+-]*$/.test(s.name)) {
      throw new Fail(`${where}: bad name`);
    }
    if (typeof s.version !== 'string' || !(s.kind === 'npm' ? NPM_VERSION : DEB_VERSION).test(s.version)) {
      throw new Fail(`${where}: version '${s.version}' is not an exact ${s.kind} version`);
    }
    if (!Array.isArray(s.languages) || !s.languages.length || s.languages.some((l) => !LANGUAGES.includes(l))) {
      throw new Fail(`${where}: languages must be a non-empty subset of ${LANGUAGES.join(', ')}`);
    }
    const key = `${s.kind}:${s.name}`;
    if (seen.has(key)) throw new Fail(`${where}: listed twice`);
    seen.add(key);
    return s;
  });
}

/** Directory name of a source under sources/: `deb-python3-numpy-1_1.24.2-1+deb12u1`. */
export function sourceDirName(e: Pick<ManifestEntry, 'kind' | 'name' | 'version'>): string {
  const safe = (s: string) => s.replace(/\//g, '__').replace(/[^A-Za-z0-9._+@~-]/g, '_');
  return `${e.kind}-${safe(e.name)}-${safe(e.version)}`;
}

export function defaultCacheDir(): string {
  if (process.env.SEMCODE_CORPUS_DIR) return resolve(process.env.SEMCODE_CORPUS_DIR);
  const xdg = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(resolve(xdg), 'semcode-corpus');
}

function run(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Fail(missing ? `'${cmd}' is not installed (${installHint(cmd)})` : `${cmd}: ${r.error.message}`);
  }
  if (r.status !== 0) {
    const err = (r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' | ');
    throw new Fail(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${err}`);
  }
  return r.stdout;
}

function installHint(cmd: string): string {
  const pkg: Record<string, string> = { unzip: 'unzip', tar: 'tar', xz: 'xz-utils', 'dpkg-deb': 'dpkg', 'apt-get': 'apt' };
  return pkg[cmd] ? `apt-get install ${pkg[cmd]}` : 'install it';
}

function sha256File(f: string): string {
  return 'sha256-' + createHash('sha256').update(readFileSync(f)).digest('hex');
}

// ---------------------------------------------------------------- fetching

/** `npm pack` into a temp dir, checks the package is who it says and not a held-out copy, extracts. */
function fetchNpm(e: ManifestEntry, into: string): string {
  const tmp = mkdtempSync(join(tmpdir(), 'semcode-npm-'));
  try {
    const out = run('npm', ['pack', `${e.name}@${e.version}`, '--json', '--ignore-scripts', '--pack-destination', tmp], tmp);
    const info = (JSON.parse(out) as { filename: string; integrity: string; version: string; name: string }[])[0]!;
    if (info.name !== e.name || info.version !== e.version) {
      throw new Fail(`npm pack ${e.name}@${e.version} returned ${info.name}@${info.version}`);
    }
    mkdirSync(into, { recursive: true });
    // npm tarballs hold one top directory (usually package/); strip it so the tree is the package root.
    run('tar', ['-xzf', join(tmp, info.filename), '-C', into, '--strip-components=1', '--no-same-owner', '--no-same-permissions']);
    const pkg = JSON.parse(readFileSync(join(into, 'package.json'), 'utf8')) as Record<string, unknown>;
    const urls = [pkg.repository, pkg.homepage, pkg.bugs].map((u) =>
      typeof u === 'string' ? u : typeof u === 'object' && u && typeof (u as { url?: unknown }).url === 'string' ? (u as { url: string }).url : '',
    );
    for (const u of urls) {
      const p = heldOutProjectInUrl(u);
      if (p) throw new Fail(`refusing npm ${e.name}@${e.version}: its package.json points at held-out project ${p} (${u})`);
    }
    return info.integrity;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** `apt-get download` into a temp dir, checks Source against the hold-out, `dpkg-deb -x`. */
function fetchDeb(e: ManifestEntry, into: string): string {
  const tmp = mkdtempSync(join(tmpdir(), 'semcode-deb-'));
  try {
    try {
      run('apt-get', ['download', '-q', `${e.name}=${e.version}`], tmp);
    } catch (err) {
      // The archive keeps only current versions: a security or point-release update retires old pins.
      let avail = '';
      try {
        avail = run('apt-cache', ['madison', e.name]).trim().split('\n').map((l) => l.split('|')[1]?.trim()).filter(Boolean).join(', ');
      } catch {
        // no list of versions: the message says none
      }
      throw new Fail(
        `${(err as Error).message}\n  deb ${e.name}=${e.version} cannot be downloaded. Run 'apt-get update' first; if the ` +
          `archive has moved on (available: ${avail || 'none'}), update the pin in corpus/manifest.json.`,
      );
    }
    const debs = readdirSync(tmp).filter((f) => f.endsWith('.deb'));
    if (debs.length !== 1) throw new Fail(`apt-get download ${e.name}=${e.version}: expected one .deb, got ${debs.length}`);
    const deb = join(tmp, debs[0]!);
    const fields = run('dpkg-deb', ['-f', deb, 'Package', 'Version', 'Source']);
    const get = (k: string) => new RegExp(`^${k}: (\\S+)`, 'm').exec(fields)?.[1];
    if (get('Package') !== e.name || get('Version') !== e.version) {
      throw new Fail(`downloaded ${debs[0]} is ${get('Package')}=${get('Version')}, not ${e.name}=${e.version}`);
    }
    const source = get('Source') ?? e.name;
    if (isHeldOutPackage('deb', source)) {
      throw new Fail(`refusing deb ${e.name}=${e.version}: built from held-out source package ${source}`);
    }
    mkdirSync(into, { recursive: true });
    run('dpkg-deb', ['-x', deb, into]);
    return sha256File(deb);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- post-processing

/** Walks regular files and directories (not following symlinks); `visit` returning false prunes a dir. */
function walk(root: string, visit: (rel: string, abs: string, kind: 'file' | 'dir' | 'link' | 'other') => boolean | void): void {
  const stack = [''];
  while (stack.length) {
    const rel = stack.pop()!;
    for (const d of readdirSync(join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      const kind = d.isSymbolicLink() ? 'link' : d.isDirectory() ? 'dir' : d.isFile() ? 'file' : 'other';
      if (visit(r, join(root, r), kind) !== false && kind === 'dir') stack.push(r);
    }
  }
}

const ARCHIVE = /\.(?:zip|tar\.(?:gz|xz|bz2|zst)|tgz)$/;

/** Nested source archives: openjdk's lib/src.zip, Debian *-source packages' usr/src/*.tar.xz. Test
 *  fixtures (archive/zip/testdata/*.zip in Go's tree, say) are deliberately left alone. */
function unpackNested(e: ManifestEntry, root: string): string[] {
  const found: string[] = [];
  walk(root, (rel, _abs, kind) => {
    if (kind !== 'file' || !ARCHIVE.test(rel)) return;
    const base = rel.split('/').pop()!;
    if (base === 'src.zip' || /^usr\/src\/[^/]+$/.test(rel) || e.unpack?.includes(rel)) found.push(rel);
  });
  for (const rel of found) {
    const abs = join(root, rel);
    const dest = abs.replace(ARCHIVE, '');
    mkdirSync(dest, { recursive: true });
    if (rel.endsWith('.zip')) run('unzip', ['-q', '-o', abs, '-d', dest]);
    else run('tar', ['-xf', abs, '-C', dest, '--no-same-owner', '--no-same-permissions']);
    rmSync(abs);
    log(`  unpacked ${rel} -> ${relative(root, dest)}/`);
  }
  for (const u of e.unpack ?? []) if (!found.includes(u)) throw new Fail(`${e.name}: unpack path ${u} not found`);
  return found;
}

/** License and packaging metadata survive `include` pruning. */
const KEEP_ALWAYS = /^(?:package\.json|(?:licen[cs]e|copying|notice|authors)(?:[.-][^/]*)?|usr\/share\/doc(?:\/.*)?)$/i;

/** `rel` is `p` or below it; a prefix ending in '/' names a directory, otherwise a file or directory. */
function under(rel: string, p: string): boolean {
  const q = p.replace(/\/$/, '');
  return rel === q || rel.startsWith(q + '/');
}

export function prune(e: ManifestEntry, root: string): void {
  const inc = e.include ?? [];
  const exc = e.exclude ?? [];
  for (const p of [...inc, ...exc]) if (!existsSync(join(root, p))) throw new Fail(`${e.name}: include/exclude path ${p} not in the package`);
  walk(root, (rel, abs, kind) => {
    if (exc.some((p) => under(rel, p))) {
      rmSync(abs, { recursive: true, force: true });
      return false;
    }
    if (!inc.length || inc.some((p) => under(rel, p))) return; // kept (a kept dir is still walked for excludes)
    if (kind === 'dir' && (inc.some((p) => under(p, rel)) || /^usr(?:\/share(?:\/doc)?)?$/.test(rel))) return;
    if (KEEP_ALWAYS.test(rel)) return false;
    rmSync(abs, { recursive: true, force: true });
    return false;
  });
}

/** Symlinks go: dpkg trees point at absolute host paths, and in-tree links would duplicate files. */
function removeSymlinks(root: string): number {
  let n = 0;
  walk(root, (_rel, abs, kind) => {
    if (kind === 'link' || kind === 'other') {
      rmSync(abs, { force: true });
      n++;
    }
  });
  return n;
}

export function removeVendoredHoldout(root: string, label: string): string[] {
  const removed: string[] = [];
  walk(root, (rel, abs, kind) => {
    if (kind === 'dir' && isVendoredHoldout(rel + '/')) {
      rmSync(abs, { recursive: true, force: true });
      removed.push(rel + '/');
      log(`  HOLDOUT: deleted vendored copy ${label}/${rel}/`);
      return false;
    }
  });
  return removed;
}

// ---------------------------------------------------------------- license

function npmLicense(root: string): string {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  const l = pkg.license ?? pkg.licenses;
  const one = (x: unknown): string => (typeof x === 'string' ? x : typeof x === 'object' && x && typeof (x as { type?: unknown }).type === 'string' ? (x as { type: string }).type : '?');
  return Array.isArray(l) ? l.map(one).join(' OR ') : l === undefined ? 'UNKNOWN (no license field)' : one(l);
}

/**
 * Summarises a Debian copyright file: machine-readable (DEP-5) ones list their License: short names, by
 * how many Files: stanzas use each (the first is the main one); free-form ones are matched against a few
 * well-known license names.
 */
export function summariseDebCopyright(text: string): { summary: string; upstream: string | null } {
  const upstream = /^(?:Source|Upstream-Source):\s*(\S+)/im.exec(text)?.[1] ?? null;
  if (/^Format:/m.test(text)) {
    const counts = new Map<string, number>();
    for (const stanza of text.split(/\n\s*\n/)) {
      const raw = /^License:[ \t]*(\S[^\n]*)/m.exec(stanza)?.[1]?.trim();
      // "MIT or Apache-2.0" and "Apache-2.0 OR MIT" are one choice: sort the alternatives
      const lic = raw && raw.split(/\s+or\s+/i).sort().join(' OR ');
      if (!lic) continue;
      const files = /^Files:/m.test(stanza);
      const header = /^Format:/m.test(stanza);
      if (files || header) counts.set(lic, (counts.get(lic) ?? 0) + (files ? 1 : 0));
    }
    const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
    const shown = ranked.slice(0, 4).join('; ');
    return { summary: ranked.length > 4 ? `${shown}; +${ranked.length - 4} more` : shown || 'UNKNOWN', upstream };
  }
  const known: [RegExp, string][] = [
    [/Python Software Foundation License|PSF LICENSE AGREEMENT/i, 'PSF-2.0'],
    [/GNU General Public License[^.]{0,80}version 2[^.]{0,200}Classpath/i, 'GPL-2.0 with Classpath exception'],
    [/Apache License,? Version 2\.0/i, 'Apache-2.0'],
    [/GNU Lesser General Public License|GNU Library General Public License/i, 'LGPL'],
    [/GNU General Public License/i, 'GPL'],
    [/Permission is hereby granted, free of charge/i, 'MIT'],
    [/Redistribution and use in source and binary forms/i, 'BSD-style'],
  ];
  // Ranked by where each first appears: the upstream license usually comes first, mentions later.
  const hits = known
    .map(([re, n]) => ({ n, at: text.search(re) }))
    .filter((h) => h.at >= 0)
    .sort((a, b) => a.at - b.at)
    .map((h) => h.n)
    .filter((n, i, all) => all.indexOf(n) === i);
  if (!hits.length) return { summary: 'see copyright file (free-form)', upstream };
  const also = hits.length > 1 ? `; also mentions ${hits.slice(1).join(', ')}` : '';
  return { summary: `${hits[0]} (free-form copyright file${also})`, upstream };
}

/**
 * The copyright text for a deb tree, and which package it came from. Debian points the doc dir of a
 * package at a sibling built from the same source (openjdk-17-source → openjdk-17-jdk → openjdk-17-jre
 * → openjdk-17-jre-headless), so a symlinked doc dir is followed by downloading that sibling at the same
 * version and reading only its usr/share/doc. Runs before symlinks are removed from the tree.
 */
function debCopyright(name: string, version: string, root: string, hops = 0): { text: string; from: string } | null {
  const doc = join(root, 'usr/share/doc', name);
  let st;
  try {
    st = lstatSync(doc);
  } catch {
    return null;
  }
  if (st.isSymbolicLink()) {
    const target = readlinkSync(doc).replace(/\/+$/, '');
    if (target.includes('/') || hops >= 4) return null; // not the sibling-package convention
    const tmp = mkdtempSync(join(tmpdir(), 'semcode-doc-'));
    try {
      run('apt-get', ['download', '-q', `${target}=${version}`], tmp);
      const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
      if (!deb) return null;
      const out = join(tmp, 'x');
      mkdirSync(out);
      const r = spawnSync('sh', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards "./usr/share/doc/*"', 'sh', join(tmp, deb), out]);
      if (r.status !== 0) throw new Fail(`reading usr/share/doc of ${target}=${version}: ${String(r.stderr).trim()}`);
      return debCopyright(target, version, out, hops + 1);
    } catch (e) {
      log(`  (license: could not read ${target}=${version}'s copyright: ${(e as Error).message.split('\n')[0]})`);
      return null;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const f = join(doc, 'copyright');
  return existsSync(f) ? { text: readFileSync(f, 'utf8'), from: name } : null;
}

// ---------------------------------------------------------------- doc-comment estimate

export function languageOf(rel: string): Lang | null {
  if (/\.d\.[mc]?ts$/.test(rel) || /\.min\.[mc]?js$/.test(rel)) return null; // no bodies / no comments
  const ext = /\.([A-Za-z0-9]+)$/.exec(rel)?.[1]?.toLowerCase();
  switch (ext) {
    case 'ts': case 'mts': case 'cts': case 'tsx': return 'typescript';
    case 'js': case 'mjs': case 'cjs': case 'jsx': return 'javascript';
    case 'py': return 'python';
    case 'go': return 'go';
    case 'java': return 'java';
    case 'rs': return 'rust';
    default: return null;
  }
}

/** At least three words before the first @tag: a description, not just `@param {X} y`. */
function hasProse(doc: string): boolean {
  const text = doc
    .split('\n')
    .map((l) => l.replace(/^\s*(?:\/\*\*|\*\/|\*|\/\/\/?|#)?\s?/, ''))
    .join('\n');
  const body = text.split(/(?:^|\n)\s*@[A-Za-z]/)[0]!;
  return (body.match(/[A-Za-z]{2,}/g) ?? []).length >= 3;
}

const CONTROL = new Set(['if', 'for', 'while', 'switch', 'catch', 'return', 'with', 'do', 'else', 'new', 'throw', 'typeof', 'await', 'yield', 'super', 'this']);
const JS_DECL =
  /^(?:export\s+)?(?:default\s+)?(?:declare\s+)?(?:(?:public|private|protected|static|async|abstract|override|readonly|get|set)\s+)*(?:function\b|\*?\s*(#?[\w$]+)\s*(?:<[^>]*>)?\s*\(|(?:const|let|var)\s+[\w$]+\s*(?::[^=]+)?=\s*(?:async\s*)?(?:function\b|\(|[\w$]+\s*=>|<)|(?:const|let|var)\s+[\w$]+\s*=\s*(?:\/\*[^*]*\*\/\s*)?[\w$.]+\(\s*(?:async\s*)?(?:function\b|\([^)]*\)\s*=>)|[\w$.]+\s*=\s*(?:async\s*)?(?:function\b|\([^)]*\)\s*=>)|[\w$]+\s*:\s*(?:async\s*)?function\b)/;
const JS_DECL_INDENTED = new RegExp(`^\\s*${JS_DECL.source.slice(1)}`);
const JAVA_DECL =
  /^(?:(?:public|protected|private|static|final|abstract|synchronized|native|default|strictfp)\s+)*(?:<[^>]+>\s+)?(?:[\w$.]+(?:<[^()]*?>)?(?:\[\])*\s+)?([\w$]+)\s*\(/;

function countBlockDocs(src: string, decl: RegExp): number {
  let n = 0;
  const re = /\/\*\*(?!\/)([\s\S]*?)\*\//g;
  for (let m; (m = re.exec(src)); ) {
    if (!hasProse(m[1]!)) continue;
    // the next code line, skipping annotations/decorators (single-line ones)
    let rest = src.slice(re.lastIndex, re.lastIndex + 2000);
    for (;;) {
      rest = rest.replace(/^\s+/, '');
      const ann = /^@[\w.]+(?:\([^\n]*\))?[ \t]*\n/.exec(rest);
      if (!ann) break;
      rest = rest.slice(ann[0].length);
    }
    const d = decl.exec(rest.split('\n')[0]!);
    if (d && !(d[1] && CONTROL.has(d[1]))) n++;
  }
  return n;
}

/** Line-based (linear): a run of `marker` comment lines, optional attribute lines, then `decl`. */
function countLineDocs(src: string, marker: RegExp, attr: RegExp | null, decl: RegExp): number {
  let n = 0;
  let doc: string[] = [];
  for (const line of src.split('\n')) {
    if (marker.test(line)) doc.push(line);
    else if (doc.length && attr && attr.test(line)) continue;
    else {
      if (doc.length && decl.test(line) && hasProse(doc.join('\n'))) n++;
      doc = [];
    }
  }
  return n;
}

function countPythonDocs(src: string): number {
  let n = 0;
  const re = /^[ \t]*(?:async[ \t]+)?def[ \t]+\w+[ \t]*\(/gm;
  while (re.exec(src)) {
    // past the parameter list (depth-counted: defaults may hold parens), the return annotation, the colon
    let i = re.lastIndex;
    for (let depth = 1; i < src.length && depth > 0; i++) {
      if (src[i] === '(') depth++;
      else if (src[i] === ')') depth--;
    }
    const after = /^[^:\n]*:[ \t]*(?:#[^\n]*)?\n(?:[ \t]*(?:#[^\n]*)?\n)*[ \t]*[rRuUbB]?("""|''')([\s\S]*?)\1/.exec(src.slice(i, i + 20000));
    if (after && hasProse(after[2]!)) n++;
  }
  return n;
}

export function estimateDocFunctions(lang: Lang, src: string): number {
  switch (lang) {
    case 'typescript':
    case 'javascript':
      // `/** */` blocks, plus `///` line runs (ProseMirror's and CodeMirror's doc-comment style)
      return countBlockDocs(src, JS_DECL) + countLineDocs(src, /^\s*\/\/\/(?!\/|\s*<reference)/, /^\s*@/, JS_DECL_INDENTED);
    case 'java':
      return countBlockDocs(src, JAVA_DECL);
    case 'python':
      return countPythonDocs(src);
    case 'go':
      return countLineDocs(src, /^\s*\/\/(?!go:|line |\s*\+build)/, null, /^\s*func\b/);
    case 'rust':
      return countLineDocs(
        src,
        /^\s*\/\/\/(?!\/)/,
        /^\s*#\[/,
        /^\s*(?:pub(?:\([^)]*\))?\s+)?(?:default\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+"[^"]*"\s+)?fn\b/,
      );
  }
}

function measure(root: string): {
  files: number;
  bytes: number;
  byLanguage: Partial<Record<Lang, LangStats>>;
  holdoutMentions: string[];
} {
  let files = 0;
  let bytes = 0;
  const byLanguage: Partial<Record<Lang, LangStats>> = {};
  const holdoutMentions: string[] = [];
  const mention = holdoutMentionPattern();
  walk(root, (rel, abs, kind) => {
    if (kind !== 'file' || rel === MARKER) return;
    const size = lstatSync(abs).size;
    files++;
    bytes += size;
    const lang = languageOf(rel);
    if (!lang) return;
    const s = (byLanguage[lang] ??= { files: 0, bytes: 0, docFunctions: 0 });
    s.files++;
    s.bytes += size;
    if (size > 32 << 20) return;
    const text = readFileSync(abs, 'utf8');
    s.docFunctions += estimateDocFunctions(lang, text);
    if (mention.test(text)) {
      text.split('\n').forEach((line, i) => {
        if (mention.test(line)) holdoutMentions.push(`${rel}:${i + 1}: ${line.trim().slice(0, 120)}`);
      });
    }
  });
  return { files, bytes, byLanguage, holdoutMentions };
}

// ---------------------------------------------------------------- one source

function readMarker(dir: string, e: ManifestEntry): SourceRecord | null {
  try {
    const r = JSON.parse(readFileSync(join(dir, MARKER), 'utf8')) as SourceRecord & Pick<ManifestEntry, 'include' | 'exclude'>;
    const same =
      r.kind === e.kind && r.name === e.name && r.version === e.version && r.layout === LAYOUT_VERSION &&
      JSON.stringify([r.include ?? [], r.exclude ?? []]) === JSON.stringify([e.include ?? [], e.exclude ?? []]);
    return same ? r : null;
  } catch {
    return null;
  }
}

function fetchOne(e: ManifestEntry, cache: string): { record: SourceRecord; cached: boolean } {
  const name = sourceDirName(e);
  const dir = join(cache, 'sources', name);
  const have = readMarker(dir, e);
  if (have && have.estimator !== ESTIMATOR_VERSION) {
    Object.assign(have, measure(dir), { estimator: ESTIMATOR_VERSION });
    writeFileSync(join(dir, MARKER), JSON.stringify(have, null, 2) + '\n');
  }
  if (have) return { record: { ...have, languages: e.languages }, cached: true };

  // Build beside the final place and rename at the end: an interrupted fetch never looks complete.
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const integrity = e.kind === 'npm' ? fetchNpm(e, partial) : fetchDeb(e, partial);
  if (e.kind === 'deb') unpackNested(e, partial);
  prune(e, partial);
  let license: string;
  let licenseFrom: string | undefined;
  if (e.kind === 'npm') license = npmLicense(partial);
  else {
    const c = debCopyright(e.name, e.version, partial);
    if (c) {
      const { summary, upstream } = summariseDebCopyright(c.text);
      const p = upstream && heldOutProjectInUrl(upstream);
      if (p) throw new Fail(`refusing deb ${e.name}=${e.version}: its upstream ${upstream} is held-out project ${p}`);
      license = summary;
      if (c.from !== e.name) licenseFrom = c.from;
    } else license = 'UNKNOWN (no copyright file found)';
  }
  const symlinksRemoved = removeSymlinks(partial);
  const removedHoldout = removeVendoredHoldout(partial, name);
  const m = measure(partial);
  for (const h of m.holdoutMentions.slice(0, 20)) log(`  NOTE: names a held-out project (check for copied code): ${h}`);
  if (m.holdoutMentions.length > 20) log(`  NOTE: ... ${m.holdoutMentions.length - 20} more such lines in sources.json`);
  const record: SourceRecord & Pick<ManifestEntry, 'include' | 'exclude'> = {
    kind: e.kind,
    name: e.name,
    version: e.version,
    license,
    languages: e.languages,
    dir: `sources/${name}`,
    ...m,
    integrity,
    removedHoldout,
    symlinksRemoved,
    layout: LAYOUT_VERSION,
    estimator: ESTIMATOR_VERSION,
    ...(licenseFrom ? { licenseFrom } : {}),
    ...(e.include ? { include: e.include } : {}),
    ...(e.exclude ? { exclude: e.exclude } : {}),
  };
  writeFileSync(join(partial, MARKER), JSON.stringify(record, null, 2) + '\n');
  renameSync(partial, dir);
  return { record, cached: false };
}

// ---------------------------------------------------------------- outputs

function fmtBytes(n: number): string {
  return n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(2)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`;
}

function sourcesMd(entries: ManifestEntry[], records: Map<string, SourceRecord>): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    '# Training corpus sources',
    '',
    'Generated by `node --import tsx scripts/corpus/fetch.ts` from `corpus/manifest.json`; do not edit by hand.',
    'Every source is fetched unmodified from the npm registry or the Debian archive; projects in',
    '`corpus/eval-holdout.txt` are excluded. Licenses: npm `package.json` `license`; Debian: the package\'s',
    '`/usr/share/doc/<package>/copyright`, summarised (most-used license first).',
    '',
    '| Source | Version | License | Languages | Files | Size |',
    '| --- | --- | --- | --- | ---: | ---: |',
  ];
  for (const e of entries) {
    const r = records.get(`${e.kind}:${e.name}`)!;
    const lic = r.licenseFrom ? `${r.license} (copyright file of ${r.licenseFrom})` : r.license;
    lines.push(
      `| ${e.kind}: ${esc(e.name)} | ${esc(e.version)} | ${esc(lic)} | ${e.languages.join(', ')} | ${r.files} | ${fmtBytes(r.bytes)} |`,
    );
  }
  return lines.join('\n') + '\n';
}

function main(): void {
  const t0 = Date.now();
  let values: { cache?: string; only?: string[]; manifest?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        cache: { type: 'string' },
        only: { type: 'string', multiple: true },
        manifest: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new Fail(`${(e as Error).message}\nusage: fetch.ts [--cache DIR] [--only NAME ...] [--manifest FILE]`, 1);
  }
  if (values.help) {
    log('usage: node --import tsx scripts/corpus/fetch.ts [--cache DIR] [--only NAME ...] [--manifest FILE]');
    return;
  }
  const manifestFile = resolve(values.manifest ?? join(REPO, 'corpus/manifest.json'));
  const cache = values.cache ? resolve(values.cache) : defaultCacheDir();
  const entries = loadManifest(manifestFile);

  // Refuse the whole run, before fetching anything, if the manifest names a held-out package.
  const bad = entries.filter((e) => isHeldOutPackage(e.kind, e.name));
  if (bad.length) throw new Fail(`refusing: held-out package(s) in ${manifestFile}: ${bad.map((e) => `${e.kind}:${e.name}`).join(', ')}`);

  const only = values.only ?? [];
  for (const o of only) if (!entries.some((e) => e.name === o)) throw new Fail(`--only ${o}: not in the manifest`, 1);
  const selected = only.length ? entries.filter((e) => only.includes(e.name)) : entries;

  mkdirSync(join(cache, 'sources'), { recursive: true });
  log(`corpus cache: ${cache}`);
  const records = new Map<string, SourceRecord>();
  for (const e of selected) {
    const t = Date.now();
    log(`${e.kind} ${e.name}@${e.version} ...`);
    const { record, cached } = fetchOne(e, cache);
    records.set(`${e.kind}:${e.name}`, record);
    log(`  ${cached ? 'cached' : `fetched in ${((Date.now() - t) / 1000).toFixed(1)}s`}: ${record.files} files, ${fmtBytes(record.bytes)}`);
  }
  // Entries not selected this run still appear in the outputs if an earlier run finished them.
  for (const e of entries) {
    const key = `${e.kind}:${e.name}`;
    if (records.has(key)) continue;
    const r = readMarker(join(cache, 'sources', sourceDirName(e)), e);
    if (r) records.set(key, { ...r, languages: e.languages });
  }
  const ordered = entries.map((e) => records.get(`${e.kind}:${e.name}`)).filter((r): r is SourceRecord => !!r);
  const known = new Set(entries.map(sourceDirName));
  for (const d of readdirSync(join(cache, 'sources'))) {
    if (!known.has(d)) log(`note: ${join(cache, 'sources', d)} is not in the manifest (left in place; delete it if unwanted)`);
  }

  writeFileSync(join(cache, 'sources.json'), JSON.stringify({ manifest: relative(REPO, manifestFile), sources: ordered }, null, 2) + '\n');
  // The committed table describes the committed manifest, whole: only a cache holding every one of its
  // sources rewrites it (not an --only run into a fresh cache, nor another manifest).
  if (manifestFile === join(REPO, 'corpus/manifest.json')) {
    if (ordered.length === entries.length) {
      writeFileSync(join(REPO, 'corpus/SOURCES.md'), sourcesMd(entries, records));
      log('wrote corpus/SOURCES.md');
    } else log(`corpus/SOURCES.md left as is: ${ordered.length} of ${entries.length} sources in this cache`);
  }

  // Summary: what is on disk now and the rough doc-comment count per language.
  const total = { files: 0, bytes: 0 };
  const perLang = new Map<Lang, LangStats>();
  for (const r of ordered) {
    total.files += r.files;
    total.bytes += r.bytes;
    for (const [l, s] of Object.entries(r.byLanguage) as [Lang, LangStats][]) {
      const t = perLang.get(l) ?? { files: 0, bytes: 0, docFunctions: 0 };
      t.files += s.files;
      t.bytes += s.bytes;
      t.docFunctions += s.docFunctions;
      perLang.set(l, t);
    }
  }
  log(`\n${ordered.length}/${entries.length} sources on disk: ${total.files} files, ${fmtBytes(total.bytes)}; this run took ${((Date.now() - t0) / 1000).toFixed(0)}s`);
  log('rough count of functions with a prose doc comment (regex estimate), by language:');
  for (const l of LANGUAGES) {
    const s = perLang.get(l);
    if (s) log(`  ${l.padEnd(11)} ${String(s.docFunctions).padStart(7)}   (${s.files} files, ${fmtBytes(s.bytes)})`);
  }
  log(`wrote ${join(cache, 'sources.json')}`);
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    if (e instanceof Fail) {
      log(`fetch: ${e.message}`);
      process.exit(e.exitCode);
    }
    throw e;
  }
}
