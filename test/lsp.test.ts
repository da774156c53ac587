// The bundled language server over stdio, driven as an editor would, with the shipped model on real code
// (installed packages' sources and the chunker fixtures): indexing, search, workspace/symbol, hover, file
// events and a restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ErrorCodes, type Hover, type ResponseError, type SymbolInformation } from 'vscode-languageserver-protocol';
import { listIndexableFiles } from '../server/src/index/walker';
import { searchRequest } from '../server/src/protocol/lspExt';
import { DEFAULT_MODEL, type Event, LspServer, copyRealCode } from './helpers/lspServer';
import { FIXTURES, tempDir, writeFile } from './helpers/workspace';

const LINK = /\[([^\]]+)\]\((file:\/\/[^)#]+)#L(\d+)\)/g;

describe('language server over stdio (shipped model, real code)', () => {
  const work = tempDir('lsp');
  const root = join(work.dir, 'project');
  copyRealCode(root);
  cpSync(FIXTURES, join(root, 'src'), { recursive: true });
  writeFile(root, '.gitignore', 'build/\n');
  writeFile(root, 'build/out.js', 'function zorkmidBuild() { return 1; }\n');
  const opts = {
    roots: [root],
    initializationOptions: { model: DEFAULT_MODEL, databaseDir: join(work.dir, 'db') },
    capabilities: { workspace: { didChangeWatchedFiles: { dynamicRegistration: true } } },
  };
  const uri = (rel: string) => pathToFileURL(join(root, rel)).toString();
  const symbols = (query: string) => s.conn.sendRequest<SymbolInformation[]>('workspace/symbol', { query });
  const hover = (rel: string, line: number, character: number) =>
    s.conn.sendRequest<Hover | null>('textDocument/hover', { textDocument: { uri: uri(rel) }, position: { line, character } });
  /** 0-based line and column of the first occurrence of `text` in the file. */
  const find = (rel: string, text: string) => {
    const lines = readFileSync(join(root, rel), 'utf8').split('\n');
    const line = lines.findIndex((l) => l.includes(text));
    assert.ok(line >= 0, `${text} in ${rel}`);
    return { line, character: lines[line]!.indexOf(text) };
  };
  let s: LspServer;

  before(async () => {
    s = await LspServer.start(opts);
  });
  after(async () => {
    await s?.stop();
    work.cleanup();
  });

  test('indexes the folder, then reports ok with the model, backend, dimension and counts', async () => {
    const ready = await s.ready();
    const expected = (await listIndexableFiles(root)).files.length;
    assert.equal(ready.health, 'ok', ready.message);
    assert.equal(ready.dimension, 512);
    assert.match(ready.model ?? '', /models\/default$/);
    assert.ok(ready.backend);
    assert.equal(ready.files, expected);
    assert.ok(ready.chunks > 100, `chunks ${ready.chunks}`);
    assert.equal(ready.lastError, null);
    assert.ok(
      s.statuses().some((x) => !x.quiescent),
      'progress was reported while indexing',
    );
    const run = await s.waitIndexed((p) => p.kind === 'full');
    assert.equal(run.changedCount, expected);
    assert.equal(run.embedded + run.reused, ready.chunks);
    assert.ok(!run.changed.includes(uri('build/out.js')), '.gitignore respected');
    assert.ok(
      s.registrations.some((r) => r.method === 'workspace/didChangeWatchedFiles' && JSON.stringify(r.registerOptions).includes('**/*')),
      'file watching registered with the client',
    );
  });

  test('semcode/search finds code by meaning, with file URIs and 1-based ranges', async () => {
    await s.ready();
    const r = await s.conn.sendRequest(searchRequest, { query: 'convert a dash separated string to camel case', k: 3 });
    assert.equal(r.items.length, 3);
    const hit = r.items.find((i) => i.path === 'lib/camelcase/index.js');
    assert.ok(hit, JSON.stringify(r.items.map((i) => i.path)));
    assert.equal(hit.uri, uri('lib/camelcase/index.js'));
    assert.ok(hit.startLine >= 1 && hit.endLine >= hit.startLine);
    assert.ok(!r.indexing, 'the index is complete');
  });

  test('workspace/symbol puts name matches first and adds matches by meaning', async () => {
    await s.ready();
    const byName = await symbols('escapeLit');
    assert.equal(byName[0]?.name, 'escapeLiteral');
    assert.equal(byName[0].location.uri, uri('lib/pg/lib/utils.js'));
    assert.equal(byName[0].kind, 12 /* Function */);
    assert.equal(byName[0].location.range.start.line + 1, find('lib/pg/lib/utils.js', 'escapeLiteral').line + 1);

    // No symbol is called anything like this: only the meaning can find camelCase.
    const byMeaning = await symbols('turn dash separated words into camel case');
    const top = byMeaning.slice(0, 5);
    assert.ok(
      top.some((x) => x.location.uri === uri('lib/camelcase/index.js') && /camel/i.test(x.name)),
      JSON.stringify(top.map((x) => x.name)),
    );
    const keys = byMeaning.map((x) => `${x.location.uri}#${x.containerName ?? ''}.${x.name}`);
    assert.equal(new Set(keys).size, keys.length, 'one entry per symbol');
    const method = (await symbols('RuleManager')).find((x) => x.containerName === 'RuleManager');
    assert.ok(method, 'methods carry their class as container');
    assert.equal(method.kind, 6 /* Method */);
  });

  test('workspace/symbol with an empty query answers an empty list', async () => {
    assert.deepEqual(await symbols(''), []);
    assert.deepEqual(await symbols('   '), []);
  });

  test('hover on a function name shows three related chunks elsewhere as links that open them, never itself', async () => {
    await s.ready();
    const at = find('lib/pg/lib/utils.js', 'escapeLiteral');
    const h = await hover('lib/pg/lib/utils.js', at.line, at.character + 3);
    assert.ok(h, 'a hover');
    const md = (h.contents as { kind: string; value: string }).value;
    assert.equal((h.contents as { kind: string }).kind, 'markdown');
    assert.match(md, /Related code/);
    const links = [...md.matchAll(LINK)];
    assert.equal(links.length, 3, md);
    const self = (await symbols('escapeLiteral')).find((x) => x.name === 'escapeLiteral')!.location.range;
    for (const [, label, target, line] of links) {
      const file = new URL(target!).pathname;
      const n = Number(line);
      assert.ok(n >= 1 && n <= readFileSync(file, 'utf8').split('\n').length, `${label} points into its file`);
      const inSelf = target === uri('lib/pg/lib/utils.js') && n - 1 >= self.start.line && n - 1 < self.end.line;
      assert.ok(!inSelf, `${label} is the hovered chunk itself`);
    }
  });

  test('hover on a call relates the called function; hover on blank space has nothing', async () => {
    await s.ready();
    // pg's utils calls prepareValue from arrayString: hovering the call uses prepareValue's definition.
    const lines = readFileSync(join(root, 'lib/pg/lib/utils.js'), 'utf8').split('\n');
    const def = lines.findIndex((l) => /function prepareValue\(|prepareValue = function/.test(l));
    const call = lines.findIndex((l, i) => i !== def && l.includes('prepareValue(') && !l.includes('function'));
    assert.ok(def >= 0 && call >= 0);
    const onCall = await hover('lib/pg/lib/utils.js', call, lines[call]!.indexOf('prepareValue') + 1);
    const onDef = await hover('lib/pg/lib/utils.js', def, lines[def]!.indexOf('prepareValue') + 1);
    assert.ok(onCall && onDef);
    assert.equal((onCall.contents as { value: string }).value, (onDef.contents as { value: string }).value);
    const blank = lines.findIndex((l) => l.trim() === '');
    assert.equal(await hover('lib/pg/lib/utils.js', blank, 0), null);
  });

  test('an edited file reported by the watcher is re-indexed alone', async () => {
    await s.ready();
    const since = s.now;
    appendFileSync(join(root, 'lib/flat/index.js'), '\nfunction quibbleFrobnicator(obj) {\n  return Object.keys(obj).length\n}\n');
    await s.conn.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: uri('lib/flat/index.js'), type: 2 }] });
    const run = await s.waitIndexed((p) => p.kind === 'paths', since);
    assert.deepEqual(run.changed, [uri('lib/flat/index.js')]);
    assert.equal(run.changedCount, 1);
    assert.equal(run.files, 1, 'one file read, no walk');
    assert.ok(run.embedded >= 1 && run.embedded < 15, `embedded ${run.embedded}`);
    await s.ready(since);
    const found = await symbols('quibbleFrobnicator');
    assert.equal(found[0]?.name, 'quibbleFrobnicator');
  });

  test('a deleted file leaves the index and an ignored new file never enters it', async () => {
    await s.ready();
    const since = s.now;
    rmSync(join(root, 'lib/decamelize/index.js'));
    writeFile(root, 'build/new.js', 'function zorkmidNew() { return 2; }\n');
    await s.conn.sendNotification('workspace/didChangeWatchedFiles', {
      changes: [
        { uri: uri('lib/decamelize/index.js'), type: 3 },
        { uri: uri('build/new.js'), type: 1 },
      ],
    });
    const run = await s.waitIndexed((p) => p.kind === 'paths', since);
    assert.deepEqual(run.deleted, [uri('lib/decamelize/index.js')]);
    assert.deepEqual(run.changed, []);
    await s.ready(since);
    assert.deepEqual(
      (await symbols('decamelize')).filter((x) => x.location.uri.includes('decamelize')),
      [],
    );
    assert.ok((await symbols('zorkmidNew')).every((x) => !x.location.uri.includes('/build/')));
  });

  test('a save re-indexes the saved file', async () => {
    await s.ready();
    const since = s.now;
    appendFileSync(join(root, 'lib/fastq/queue.js'), '\nfunction plughWarbler() { return 42 }\n');
    await s.conn.sendNotification('textDocument/didSave', { textDocument: { uri: uri('lib/fastq/queue.js') } });
    const run = await s.waitIndexed((p) => p.kind === 'paths', since);
    assert.deepEqual(run.changed, [uri('lib/fastq/queue.js')]);
  });

  test('an edited ignore file walks its directory again (the folder for a top one) and drops the files it now ignores', async () => {
    await s.ready();
    const since = s.now;
    writeFile(root, '.semcodeignore', 'lib/balanced-match/\n');
    await s.conn.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: uri('.semcodeignore'), type: 1 }] });
    const run = await s.waitIndexed((p) => p.kind === 'full', since);
    assert.deepEqual(run.deleted, [uri('lib/balanced-match/index.js')]);
    assert.deepEqual(run.changed, [uri('.semcodeignore')]);
    await s.ready(since);

    // A nested ignore file only concerns its directory: that directory is walked again, not the folder.
    const since2 = s.now;
    writeFile(root, 'lib/fast-deep-equal/.gitignore', 'index.js\n');
    await s.conn.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: uri('lib/fast-deep-equal/.gitignore'), type: 1 }] });
    const nested = await s.waitIndexed(() => true, since2);
    assert.equal(nested.kind, 'paths');
    assert.deepEqual(nested.deleted, [uri('lib/fast-deep-equal/index.js')]);
    assert.deepEqual(nested.changed, [uri('lib/fast-deep-equal/.gitignore')]);
    assert.equal(nested.files, 1);
  });

  /** The request fails with InvalidParams and exactly this message. */
  const invalid = (method: string, params: unknown, message: string) =>
    assert.rejects(s.conn.sendRequest(method, params), (e: ResponseError) => {
      assert.deepEqual({ code: e.code, message: e.message }, { code: ErrorCodes.InvalidParams, message }, `${method} ${JSON.stringify(params)}`);
      return true;
    });

  test('params of the wrong type or out of range are InvalidParams naming the field, and the server keeps answering', async () => {
    await s.ready();
    const search = 'semcode/search';
    await invalid(search, { query: 'x', k: 'abc' }, 'k must be an integer from 1 to 200, not "abc"');
    await invalid(search, { query: 'x', k: -1 }, 'k must be an integer from 1 to 200, not -1');
    await invalid(search, { query: 'x', k: 2.5 }, 'k must be an integer from 1 to 200, not 2.5');
    await invalid(search, { query: 'x', k: 201 }, 'k must be an integer from 1 to 200, not 201');
    await invalid(search, { query: 'x', mode: 'bogus' }, 'mode must be one of hybrid, vector, text, not "bogus"');
    await invalid(search, { query: 'x', glob: 123 }, 'glob must be a string, not 123');
    await invalid(search, { query: 'x', language: {} }, 'language must be a string, not {}');
    await invalid(search, { k: 3 }, 'query is missing: it must be a string');
    await invalid(search, { query: ['x'], k: 0 }, 'query must be a string, not ["x"]; k must be an integer from 1 to 200, not 0');
    await invalid(search, null, 'params must be an object, not null');
    await invalid('workspace/symbol', { query: 5 }, 'query must be a string, not 5');
    await invalid(
      'textDocument/hover',
      { textDocument: { uri: 5 }, position: { line: -1, character: 0 } },
      'textDocument.uri must be a string, not 5; position.line must be an integer from 0 up, not -1',
    );
    await invalid('textDocument/hover', { textDocument: { uri: uri('lib/flat/index.js') } }, 'position is missing: it must be an object');
    // A notification cannot be answered: the server logs why it dropped it.
    const since = s.now;
    await s.conn.sendNotification('workspace/didChangeWatchedFiles', { changes: 5 });
    const dropped = await s.waitFor((e): e is Extract<Event, { kind: 'log' }> => e.kind === 'log' && /didChangeWatchedFiles/.test(e.message), since);
    assert.equal(dropped.message, 'workspace/didChangeWatchedFiles ignored: changes must be a list, not 5');
    const r = await s.conn.sendRequest(searchRequest, { query: 'queue worker concurrency', k: 2 });
    assert.equal(r.items.length, 2);
  });

  test('an invalid glob is InvalidParams saying why, before any SQL; a valid one filters', async () => {
    await s.ready();
    await invalid('semcode/search', { query: 'camel case', glob: '[z-a]' }, 'invalid glob "[z-a]": the range z-a is reversed');
    await invalid('semcode/search', { query: 'camel case', glob: '[]' }, 'invalid glob "[]": [] is an empty character class');
    const r = await s.conn.sendRequest(searchRequest, { query: 'camel case', glob: 'lib/[c-d]*/**', k: 5 });
    assert.ok(r.items.length > 0 && r.items.every((i) => /^lib\/[cd]/.test(i.path)), JSON.stringify(r.items.map((i) => i.path)));
  });

  test('a query with no words answers no items and says why; workspace/symbol answers an empty list', async () => {
    await s.ready();
    assert.deepEqual(await s.conn.sendRequest(searchRequest, { query: '  !!! ' }), { items: [], message: 'the query has no words to search for' });
    assert.deepEqual(await symbols('  !!! '), []);
  });

  test('a restart on the same index re-embeds nothing', async () => {
    await s.ready();
    const chunks = s.statuses().at(-1)!.chunks;
    await s.stop();
    s = await LspServer.start(opts);
    const run = await s.waitIndexed((p) => p.kind === 'full');
    assert.equal(run.embedded, 0);
    assert.equal(run.changedCount, 0);
    assert.equal(run.deletedCount, 0);
    const ready = await s.ready();
    assert.equal(ready.chunks, chunks);
  });
});
