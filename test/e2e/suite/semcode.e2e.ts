/**
 * Semcode inside a real VS Code (code-server, or desktop VS Code through @vscode/test-electron): the real
 * extension starts the real language server with the shipped model on test/fixtures/e2e-workspace (semver,
 * pg-protocol and gyp sources). The specs run in order: the ordering check needs the initial index still running.
 */
import * as assert from 'node:assert/strict';
import { before, describe, it } from 'mocha';
import * as vscode from 'vscode';
import { State } from 'vscode-languageclient/node';
import type { SemcodeApi } from '../../../client/src/extension';
import type { IndexedParams, SearchResultItem } from '../../../server/src/protocol/lspExt';
import { EXTENSION_ID, bounded, describeStatus, indexed, relativePath, semcode, waitForStatus, workspaceUri } from './helpers';

/** Queries phrased in other words than the code they should find, with where that code is. */
const PARAPHRASES = [
  { query: 'make a deep copy of a dictionary', path: 'gyp/pylib/gyp/simple_copy.py', symbol: 'deepcopy' },
  { query: 'bump the version number to the next release', path: 'semver/classes/semver.js', symbol: 'SemVer.inc' },
  { query: 'build the packet that asks to authenticate with a password', path: 'pg-protocol/src/serializer.ts', symbol: 'password' },
] as const;

function show(items: SearchResultItem[]): string {
  return items.map((r) => `${r.path}:${r.startLine} ${r.symbol ?? '-'}`).join('; ') || 'no results';
}

describe('Semcode in a real VS Code', function () {
  let api: SemcodeApi;

  before(async () => {
    api = await semcode();
  });

  it('activates, starts the language server and registers its commands', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is not installed`);
    assert.equal(ext.isActive, true);
    assert.equal(api.client.state, State.Running, 'the language client is not running');
    const commands = await vscode.commands.getCommands(true);
    for (const c of ['search', 'reindex', 'rebuild', 'pause', 'resume', 'cancel', 'showLog', 'showActions']) {
      assert.ok(commands.includes(`semcode.${c}`), `command semcode.${c} is not registered`);
    }
  });

  it('answers a search sent while the initial index is running before that index ends', async () => {
    // The first status may still be on its way; what matters is that indexing has not finished yet.
    const s = await waitForStatus(api, () => true, 'the first status');
    assert.ok(!indexed(s), `the initial index ended before the search could be sent (make the fixture larger): ${describeStatus(s)}`);
    const order: string[] = [];
    const sub = api.onDidChangeStatus((st) => {
      if (st.quiescent) order.push('index ended');
    });
    try {
      // Requests and notifications arrive over one ordered channel, so this order is the server's order.
      const res = await api.search({ query: PARAPHRASES[0].query, k: 5 });
      order.push('search answered');
      assert.ok(Array.isArray(res.items));
      assert.equal(res.indexing, true, 'the answer does not say the index is still being built');
      await waitForStatus(api, (st) => st.quiescent, 'the initial index to end');
    } finally {
      sub.dispose();
    }
    assert.deepEqual(order.slice(0, 2), ['search answered', 'index ended']);
  });

  it('reports health ok with the model, backend and counts once the workspace is indexed', async () => {
    const s = await waitForStatus(api, indexed, 'the index to be up to date');
    assert.equal(s.health, 'ok', describeStatus(s));
    assert.equal(s.lastError, null);
    assert.ok(s.model, 'no model in the status');
    assert.ok(s.backend, 'no backend in the status');
    assert.ok(s.dimension && s.dimension > 0, `dimension: ${s.dimension}`);
    assert.ok(s.files >= 50 && s.chunks > s.files, `files ${s.files}, chunks ${s.chunks}`);
  });

  for (const p of PARAPHRASES) {
    it(`finds ${p.symbol} for "${p.query}"`, async () => {
      await waitForStatus(api, indexed, 'the index to be up to date');
      const res = await api.search({ query: p.query, k: 10 });
      const top5 = res.items.slice(0, 5);
      assert.ok(
        top5.some((r) => r.path === p.path && r.symbol === p.symbol),
        `expected ${p.path} ${p.symbol} in the top 5, got: ${show(res.items)}`,
      );
      const hit = top5.find((r) => r.symbol === p.symbol)!;
      assert.equal(vscode.Uri.parse(hit.uri).toString(), workspaceUri(p.path).toString());
    });
  }

  it('returns semantic matches from the workspace symbol provider', async () => {
    await waitForStatus(api, indexed, 'the index to be up to date');
    const p = PARAPHRASES[1];
    const symbols = await vscode.commands.executeCommand<vscode.SymbolInformation[]>('vscode.executeWorkspaceSymbolProvider', p.query);
    const found = symbols.filter((s) => relativePath(s.location.uri) === p.path && p.symbol.endsWith(s.name));
    const names = symbols.map((s) => `${relativePath(s.location.uri)}:${s.location.range.start.line + 1} ${s.name}`).join('; ');
    assert.ok(found.length, `expected ${p.symbol} in ${p.path} among the workspace symbols, got: ${names || 'none'}`);
  });

  it('shows related code when hovering a function', async () => {
    await waitForStatus(api, indexed, 'the index to be up to date');
    // gt (semver/functions/gt.js) is one of a family of version comparisons: its neighbours by meaning are too.
    const uri = workspaceUri('semver/functions/gt.js');
    const doc = await vscode.workspace.openTextDocument(uri);
    const line = doc
      .getText()
      .split('\n')
      .findIndex((l) => l.startsWith('const gt ='));
    assert.ok(line >= 0, 'fixture changed: gt not found');
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, new vscode.Position(line, 6));
    const text = hovers
      .flatMap((h) => h.contents)
      .map((c) => (typeof c === 'string' ? c : c.value))
      .join('\n');
    assert.match(text, /Related code/, `no related code in the hover: ${text || 'no hover'}`);
    const linked = [...text.matchAll(/\]\((file:[^)#]+)/g)].map((m) => relativePath(vscode.Uri.parse(m[1]!)));
    const family = ['lt', 'gte', 'lte', 'eq', 'neq', 'cmp', 'compare', 'rcompare', 'compare-loose', 'compare-build'].map((f) => `semver/functions/${f}.js`);
    assert.ok(linked.length, `the hover links to nothing: ${text}`);
    assert.ok(!linked.includes('semver/functions/gt.js'), `the hover relates gt to itself: ${text}`);
    assert.ok(
      linked.some((p) => family.includes(p)),
      `no other version comparison among the related code: ${linked.join(', ')}`,
    );
  });

  it('pauses and resumes indexing from its commands, answering searches while paused', async () => {
    await waitForStatus(api, indexed, 'the index to be up to date');
    await vscode.commands.executeCommand('semcode.pause');
    await waitForStatus(api, (s) => s.paused === true, 'the status to say indexing is paused');
    const res = await api.search({ query: PARAPHRASES[0].query, k: 5 });
    assert.ok(
      res.items.some((r) => r.symbol === PARAPHRASES[0].symbol),
      `no answer while paused: ${show(res.items)}`,
    );
    await vscode.commands.executeCommand('semcode.resume');
    await waitForStatus(api, (s) => s.paused === false, 'the status to say indexing resumed');
  });

  it('walks the workspace again on the reindex command without re-embedding unchanged files', async () => {
    await waitForStatus(api, indexed, 'the index to be up to date');
    const run = nextIndexRun(api, (p) => p.kind === 'full');
    await vscode.commands.executeCommand('semcode.reindex');
    const p = await run;
    assert.ok(p.files >= 50, `only ${p.files} files checked`);
    assert.equal(p.changedCount, 0, `unchanged files were re-indexed: ${p.changed.join(', ')}`);
    assert.equal(p.embedded, 0);
  });

  it('re-indexes only the file that was edited and saved', async () => {
    await waitForStatus(api, indexed, 'the index to be up to date');
    const uri = workspaceUri('semver/functions/inc.js');
    const doc = await vscode.workspace.openTextDocument(uri);
    const editor = await vscode.window.showTextDocument(doc);
    const run = nextIndexRun(api, (p) => p.changedCount > 0);
    const added = '\n// Converts a temperature from degrees Celsius to degrees Fahrenheit.\nconst celsiusToFahrenheit = (c) => (c * 9) / 5 + 32\n';
    assert.ok(await editor.edit((e) => e.insert(doc.lineAt(doc.lineCount - 1).range.end, added)));
    assert.ok(doc.isDirty, 'the edit did not reach the document');
    // The save event is what counts: on code-server, save() has resolved false while its write still completed.
    const saved = bounded(
      new Promise<void>((resolve) => {
        const sub = vscode.workspace.onDidSaveTextDocument((d) => {
          if (d.uri.toString() !== uri.toString()) return;
          sub.dispose();
          resolve();
        });
      }),
      30_000,
      'the edited file to be saved',
    );
    await doc.save();
    await saved;
    const p = await run;
    assert.equal(p.kind, 'paths', `a ${p.kind} run, not one over the changed file`);
    assert.deepEqual(
      p.changed.map((u) => relativePath(vscode.Uri.parse(u))),
      ['semver/functions/inc.js'],
    );
    assert.equal(p.changedCount, 1);
    assert.equal(p.deletedCount, 0);
    await waitForStatus(api, indexed, 'the index to be up to date again');
    const res = await api.search({ query: 'turn celsius degrees into fahrenheit', k: 5 });
    assert.equal(res.items[0]?.path, 'semver/functions/inc.js', `the edit is not searchable: ${show(res.items)}`);
  });
});

/** The next `semcode/indexed` run that `match`es; bounded like waitForStatus so a silent server fails the test. */
function nextIndexRun(api: SemcodeApi, match: (p: IndexedParams) => boolean, boundMs = 120_000): Promise<IndexedParams> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`no index run re-indexed anything within ${boundMs / 1000} s; status: ${describeStatus(api.status())}`));
    }, boundMs);
    const sub = api.onDidIndex((p) => {
      if (!match(p)) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(p);
    });
  });
}
