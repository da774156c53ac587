// The bundled language server over stdio, driven as an editor would: initialize with a workspace folder,
// wait for the status notification to say the index is ready, then ask semcode/search.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { StreamMessageReader, StreamMessageWriter, createMessageConnection, type MessageConnection } from 'vscode-jsonrpc/node';
import { type ServerStatus, searchRequest, statusNotification } from '../server/src/protocol/lspExt';
import { makeProject, tempDir, testModel } from './helpers/workspace';

describe('language server over stdio', () => {
  const work = tempDir('lsp');
  const root = makeProject(join(work.dir, 'project'));
  let child: ChildProcess;
  let conn: MessageConnection;
  const statuses: ServerStatus[] = [];
  let ready: Promise<ServerStatus>;

  before(async () => {
    const model = await testModel(32);
    child = spawn(process.execPath, [join(__dirname, '..', 'dist', 'server.js'), '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
    conn = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
    ready = new Promise((resolve) =>
      conn.onNotification(statusNotification, (s) => {
        statuses.push(s);
        if (s.quiescent && s.health !== 'warning') resolve(s);
      }),
    );
    conn.listen();
    await conn.sendRequest('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: {},
      workspaceFolders: [{ uri: pathToFileURL(root).toString(), name: 'project' }],
      initializationOptions: { model, databaseDir: join(work.dir, 'db') },
    });
    await conn.sendNotification('initialized', {});
  });

  after(async () => {
    await conn.sendRequest('shutdown').catch(() => {});
    await conn.sendNotification('exit').catch(() => {});
    conn.dispose();
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    work.cleanup();
  });

  test('indexes the workspace folder and reports ok with model, dimension and counts', async () => {
    const s = await ready;
    assert.equal(s.health, 'ok', s.message);
    assert.equal(s.dimension, 32);
    assert.match(s.model ?? '', /^path:/);
    assert.equal(s.files, 11);
    assert.ok(s.chunks > 20);
    assert.ok(statuses.some((x) => !x.quiescent), 'progress was reported while indexing');
  });

  test('semcode/search answers with file URIs and 1-based ranges', async () => {
    await ready;
    const r = await conn.sendRequest(searchRequest, { query: 'ring buffer push', k: 3, mode: 'text' });
    assert.equal(r.items.length, 3);
    assert.equal(r.items[0]!.path, 'src/ringbuf.c');
    assert.equal(r.items[0]!.uri, pathToFileURL(join(root, 'src/ringbuf.c')).toString());
    assert.ok(r.items[0]!.startLine >= 1);
  });

  test('a failing request is an error response and the server keeps answering', async () => {
    await ready;
    await assert.rejects(conn.sendRequest(searchRequest, { query: 'x', mode: 'bogus' as never }), /mode|internal|error/i);
    const r = await conn.sendRequest(searchRequest, { query: 'cache', k: 2 });
    assert.equal(r.items.length, 2);
  });
});
