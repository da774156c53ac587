// Issue 9: a symlink inside the workspace leading outside it must not put outside content into the index.
// End to end through the bundled CLI (npm test builds it first) on PGlite with the shipped model: links to
// an outside file and to an outside tree are counted as skipped outside_root, and no search, in any mode,
// returns their content.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type IndexJson, type SearchJson, type StatusJson, parseJson, parseJsonLines } from './helpers/cliJson';
import { makeProject, tempDir } from './helpers/workspace';

const REPO = join(__dirname, '..');
const CLI = join(REPO, 'bin', 'semcode.js');
const MARKER = 'OUTSIDE-ROOT-MARKER-9c41e7'; // matched literally below

function semcode(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, SEMCODE_MODEL: undefined },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('symlinks out of the root, through the CLI', () => {
  const work = tempDir('symlinks');
  const outside = join(work.dir, 'outside');
  const root = makeProject(join(work.dir, 'project'));
  const dbDir = join(work.dir, 'db');

  before(() => {
    assert.ok(existsSync(join(REPO, 'dist', 'cli.js')), 'run `npm run build` first (npm test does)');
    assert.ok(existsSync(join(REPO, 'models', 'default')), 'the shipped model');
    mkdirSync(join(outside, 'vault'), { recursive: true });
    writeFileSync(join(outside, 'passwd'), `root:x:0:0:${MARKER}:/root:/bin/bash\n`);
    writeFileSync(
      join(outside, 'vault', 'credentials.ts'),
      `/** Sends the vault credentials to a remote host. */\nexport function exfiltrateVaultCredentials(host: string): string {\n  return host + '${MARKER}';\n}\n`,
    );
    symlinkSync(join(outside, 'passwd'), join(root, 'passwd'));
    symlinkSync(join(outside, 'vault', 'credentials.ts'), join(root, 'src', 'credentials.ts'));
    symlinkSync(join(outside, 'vault'), join(root, 'vendor'));
  });
  after(() => work.cleanup());

  test('index counts the links as skipped outside_root and indexes only the project', () => {
    const r = semcode(['index', '--root', root, '--db-dir', dbDir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const s = parseJson<IndexJson>(r.stdout);
    assert.equal(s.skipped.outside_root, 3, JSON.stringify(s.skipped));
    assert.equal(s.files, 11, 'the project files alone');
    const status = parseJson<StatusJson>(semcode(['status', '--root', root, '--db-dir', dbDir, '--json']).stdout);
    assert.equal(status.files, 11);
  });

  test('search --json never returns the content of an outside file linked into the root', () => {
    const queries = join(work.dir, 'queries.txt');
    writeFileSync(queries, `exfiltrate vault credentials\n${MARKER}\nroot passwd bin bash\nsend credentials to a remote host\n`);
    for (const mode of ['hybrid', 'text', 'vector']) {
      const r = semcode(['search', '--queries', queries, '--root', root, '--db-dir', dbDir, '--json', '--mode', mode, '-k', '100']);
      assert.equal(r.code, 0, r.stderr);
      const lines = parseJsonLines<SearchJson>(r.stdout);
      assert.equal(lines.length, 4);
      for (const { results } of lines) {
        // every field: path, symbol, snippet...
        const leaked = results.filter((h: object) => /OUTSIDE-ROOT-MARKER|exfiltrateVaultCredentials/.test(JSON.stringify(h)));
        assert.deepEqual(leaked, [], `${mode}: outside content in the results`);
        for (const h of results) {
          assert.ok(!['passwd', 'src/credentials.ts'].includes(h.path) && !h.path.startsWith('vendor/'), `${mode}: ${h.path}`);
        }
      }
      if (mode === 'vector') assert.ok(lines[0]!.results.length > 0, 'the project itself is searchable');
    }
  });
});
