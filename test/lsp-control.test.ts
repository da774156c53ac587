// Controlling the language server's indexing over stdio: requests answered while an index run is in
// progress (held by a pause, so the order is certain), pause/resume, cancelling through the progress UI,
// a model change that asks for a rebuild, an unreachable database, and several workspace folders.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SymbolInformation } from 'vscode-languageserver-protocol';
import { cancelRequest, pauseRequest, reindexRequest, resumeRequest, searchRequest } from '../server/src/protocol/lspExt';
import { IndexStore } from '../server/src/store/indexStore';
import { openDb } from '../server/src/store/open';
import { DEFAULT_MODEL, type Event, LspServer, copyRealCode } from './helpers/lspServer';
import { createTestDatabase } from './helpers/pg';
import { FIXTURES, tempDir, testModel, writeFile } from './helpers/workspace';

type ProgressEvent = Extract<Event, { kind: 'progress' }>;

/**
 * Another process holding the embedded database's lock, as `semcode index` does: the real DirLock, taken in
 * a child process and released when it is told to end.
 */
async function holdLock(dir: string): Promise<{ pid: number; release(): Promise<void> }> {
  mkdirSync(dir, { recursive: true });
  const code = `
    const { DirLock } = require(${JSON.stringify(join(__dirname, '..', 'server', 'src', 'store', 'lock.ts'))});
    DirLock.acquire(${JSON.stringify(join(dir, 'semcode.lock'))}, 'the test holder');
    process.on('SIGTERM', () => process.exit(0));
    setInterval(() => {}, 1 << 30);
    console.log('locked');`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [first] = (await once(child.stdout, 'data')) as [Buffer];
  assert.equal(first.toString().trim(), 'locked');
  return {
    pid: child.pid!,
    release: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
const isProgress =
  (kind: string) =>
  (e: Event): e is ProgressEvent =>
    e.kind === 'progress' && e.value.kind === kind;

describe('language server: indexing control', () => {
  const work = tempDir('lsp-control');
  const root = copyRealCode(join(work.dir, 'project'));
  const dbDir = join(work.dir, 'db');
  const settings = { model: DEFAULT_MODEL, databaseDir: dbDir };
  const uri = (rel: string) => pathToFileURL(join(root, rel)).toString();
  let s: LspServer | undefined;

  before(async () => {
    // An existing index, so the runs below are re-index runs with something to search.
    const first = await LspServer.start({ roots: [root], initializationOptions: settings });
    await first.ready();
    await first.stop();
  });
  after(async () => {
    await s?.stop();
    work.cleanup();
  });

  test('requests sent while the index run is held by a pause are answered before the run ends; resume finishes it', async () => {
    cpSync(FIXTURES, join(root, 'more'), { recursive: true });
    s = await LspServer.start({
      roots: [root],
      initializationOptions: settings,
      beforeInitialized: async (srv) => assert.deepEqual(await srv.conn.sendRequest(pauseRequest), { paused: true }),
    });
    const paused = await s.waitStatus((x) => x.paused === true && !x.quiescent && x.message === 'indexing paused');
    assert.equal(paused.health, 'warning');
    const r = await s.conn.sendRequest(searchRequest, { query: 'convert a dash separated string to camel case', k: 3 });
    const symbols = await s.conn.sendRequest<SymbolInformation[]>('workspace/symbol', { query: 'escapeLiteral' });
    const answered = s.now;
    assert.equal(r.items.length, 3);
    assert.equal(r.indexing, true, 'the answer says the index is still being built');
    assert.ok(r.items.some((i) => i.path === 'lib/camelcase/index.js'));
    assert.equal(symbols[0]?.name, 'escapeLiteral');
    assert.ok(!s.statuses().some((x) => x.quiescent), 'no run had ended when the answers arrived');
    assert.ok(!s.events.some((e) => e.kind === 'indexed'), 'no run had ended when the answers arrived');

    assert.deepEqual(await s.conn.sendRequest(resumeRequest), { paused: false });
    const run = await s.waitIndexed((p) => p.kind === 'full', answered);
    assert.equal(run.changedCount, 10, 'the held run indexed the new files once resumed');
    assert.ok(run.changed.every((u) => u.startsWith(uri('more/'))));
    const ready = await s.ready(answered);
    assert.equal(ready.paused, false);
    await s.stop();
    s = undefined;
  });

  test('cancelling the progress stops the run, the status says cancelled, and semcode/reindex finishes the work', async () => {
    writeFile(root, 'late/extra.js', 'function wibbleSnorkel(a) { return a * 7 }\n');
    s = await LspServer.start({
      roots: [root],
      initializationOptions: settings,
      capabilities: { window: { workDoneProgress: true } },
      beforeInitialized: async (srv) => void (await srv.conn.sendRequest(pauseRequest)),
    });
    const begin = await s.waitFor(isProgress('begin'));
    assert.equal(begin.value.cancellable, true);
    await s.conn.sendNotification('window/workDoneProgress/cancel', { token: begin.token });
    const cancelled = await s.waitStatus((x) => x.quiescent && /cancelled/.test(x.message ?? ''));
    assert.equal(cancelled.health, 'warning');
    await s.waitFor((e): e is ProgressEvent => isProgress('end')(e) && e.token === begin.token);
    assert.ok(!s.events.some((e) => e.kind === 'indexed'), 'the cancelled run reported no result');

    await s.conn.sendRequest(resumeRequest);
    const since = s.now;
    await s.conn.sendRequest(reindexRequest);
    const run = await s.waitIndexed((p) => p.kind === 'full', since);
    assert.deepEqual(run.changed, [uri('late/extra.js')]);
    const found = await s.conn.sendRequest<SymbolInformation[]>('workspace/symbol', { query: 'wibbleSnorkel' });
    assert.equal(found[0]?.name, 'wibbleSnorkel');
    await s.stop();
    s = undefined;
  });

  test('while a full run that started never finished, a successful watcher run is a warning saying so; a re-index clears it', async () => {
    // The state a killed full run leaves: started, never finished (the indexer's own marks).
    const db = await openDb({ dir: dbDir });
    try {
      const store = new IndexStore(db);
      await store.startRun((await store.codebase(realpathSync(root)))!.id);
    } finally {
      await db.close();
    }
    try {
      s = await LspServer.start({
        roots: [root],
        initializationOptions: settings,
        capabilities: { workspace: { didChangeWatchedFiles: { dynamicRegistration: true } } },
        beforeInitialized: async (srv) => void (await srv.conn.sendRequest(pauseRequest)),
      });
      // The start-up walk, which would finish it, is held and then cancelled.
      await s.waitStatus((x) => x.paused === true && !x.quiescent && x.message === 'indexing paused');
      await s.conn.sendRequest(cancelRequest);
      await s.waitStatus((x) => x.quiescent && /cancelled/.test(x.message ?? ''));
      await s.conn.sendRequest(resumeRequest);

      const edited = s.now;
      writeFile(root, 'late/another.js', 'function gronkWidget(a) { return a + 1 }\n');
      await s.conn.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: uri('late/another.js'), type: 1 }] });
      const run = await s.waitFor((e): e is Event => e.kind === 'indexed' && e.indexed.kind === 'paths', edited);
      const warned = await s.waitStatus((x) => x.quiescent, run.seq);
      assert.deepEqual([warned.health, warned.message], ['warning', 'index incomplete: re-index to finish it']);

      const reindexed = s.now;
      await s.conn.sendRequest(reindexRequest);
      const ok = await s.ready(reindexed);
      assert.equal(ok.message, undefined);
    } finally {
      // A failed wait must not leave this server running (the file would never end).
      await s?.stop();
      s = undefined;
    }
  });

  test("a folder's semcode.codebase setting, asked for per folder, names its codebase; a change re-indexes into the new name", async () => {
    const named = copyRealCode(join(work.dir, 'named'));
    const namedDb = join(work.dir, 'named-db');
    let name = 'acme/lsp-named';
    const t = await LspServer.start({
      roots: [named],
      initializationOptions: { model: DEFAULT_MODEL, databaseDir: namedDb },
      capabilities: { workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: false } } },
      onConfiguration: (items) =>
        items.map((i) =>
          i.section === 'semcode'
            ? { model: DEFAULT_MODEL, databaseDir: namedDb }
            : i.section === 'semcode.codebase' && i.scopeUri === pathToFileURL(named).href
              ? name
              : null,
        ),
    });
    try {
      await t.ready();
      name = 'acme/renamed';
      const since = t.now;
      await t.conn.sendNotification('workspace/didChangeConfiguration', { settings: { semcode: { model: DEFAULT_MODEL, databaseDir: namedDb } } });
      const run = await t.waitIndexed((p) => p.kind === 'full', since);
      assert.equal(run.embedded, 0, 'the new codebase reuses the cached vectors');
      await t.ready(since);
    } finally {
      await t.stop();
    }
    const db = await openDb({ dir: namedDb });
    try {
      const store = new IndexStore(db);
      assert.equal((await store.codebase(realpathSync(named)))?.name, 'acme/renamed');
      assert.ok(await store.codebases.named('acme/lsp-named'), 'the first name was indexed too');
    } finally {
      await db.close();
    }
  });

  test('changing the ignore setting walks the folders again and drops what is now ignored', async () => {
    s = await LspServer.start({ roots: [root], initializationOptions: settings });
    await s.ready();
    const since = s.now;
    await s.conn.sendNotification('workspace/didChangeConfiguration', { settings: { semcode: { ...settings, ignore: ['lib/flat/'] } } });
    const run = await s.waitIndexed((p) => p.kind === 'full', since);
    assert.deepEqual(run.deleted, [uri('lib/flat/index.js')]);
    assert.equal(run.embedded, 0);
    await s.stop();
    s = undefined;
  });
  test('a model change asks for a rebuild: "Not now" keeps the index and is not asked again, "Rebuild" switches', async () => {
    const answers = ['Not now', 'Rebuild'];
    s = await LspServer.start({ roots: [root], initializationOptions: settings, onShowMessage: () => ({ title: answers.shift()! }) });
    const before = await s.ready();
    assert.equal(before.dimension, 512);
    const applied = (since: number) => s!.waitFor((e): e is Event => e.kind === 'log' && e.message === 'settings applied', since);
    const change = async (model: string) => {
      const since = s!.now;
      await s!.conn.sendNotification('workspace/didChangeConfiguration', { settings: { semcode: { ...settings, model } } });
      await applied(since);
      return since;
    };

    const declined = await change(await testModel(32, 2));
    await s.waitFor((e): e is Event => e.kind === 'log' && /rebuild declined/.test(e.message), declined);
    assert.equal(s.shownMessages.length, 1);
    assert.match(s.shownMessages[0]!, /The model changed: rebuild the index\?/);
    const still = await s.conn.sendRequest(searchRequest, { query: 'escape a literal for sql', k: 3 });
    assert.equal(still.items.length, 3, 'the index still answers with its own model');
    await change(await testModel(32, 2)); // the same setting again: not asked twice

    const other = await testModel(16, 3);
    const since = await change(other);
    const run = await s.waitIndexed((p) => p.kind === 'full', since);
    assert.equal(s.shownMessages.length, 2, 'asked again only for a new model');
    assert.ok(!s.events.some((e) => e.kind === 'indexed' && e.seq < since && e.seq >= declined), 'nothing re-embedded without consent');
    assert.equal(run.reused, 0, 'no vector of the old model reused');
    const after = await s.ready(since);
    assert.equal(after.dimension, 16);
    assert.equal(after.chunks, run.embedded);
    assert.ok(after.model?.endsWith(other), after.model ?? '');
    await s.stop();
    s = undefined;
  });
});

describe('language server: failures and several folders', () => {
  const work = tempDir('lsp-roots');
  let s: LspServer | undefined;
  after(async () => {
    await s?.stop();
    work.cleanup();
  });

  test('an unreachable database is health error with the reason; requests fail with it and a working setting recovers', async () => {
    const root = copyRealCode(join(work.dir, 'one'), ['camelcase/index.js']);
    s = await LspServer.start({ roots: [root], initializationOptions: { model: DEFAULT_MODEL, databaseUrl: 'postgres://semcode@127.0.0.1:9/nothing' } });
    const failed = await s.waitStatus((x) => x.health === 'error');
    assert.match(failed.lastError ?? '', /127\.0\.0\.1:9/);
    assert.equal(failed.quiescent, true);
    await assert.rejects(s.conn.sendRequest(searchRequest, { query: 'camel case' }), /127\.0\.0\.1:9/);
    const since = s.now;
    await s.conn.sendNotification('workspace/didChangeConfiguration', { settings: { semcode: { model: DEFAULT_MODEL, databaseDir: join(work.dir, 'db1') } } });
    const ok = await s.ready(since);
    assert.equal(ok.lastError, null);
    assert.equal((await s.conn.sendRequest(searchRequest, { query: 'camel case', k: 1 })).items.length, 1);
    await s.stop();
    s = undefined;
  });

  test('a database locked by another process is an error naming it until that process lets go; then the server indexes and answers', async () => {
    const root = copyRealCode(join(work.dir, 'locked'), ['camelcase/index.js']);
    const dbDir = join(work.dir, 'db-locked');
    const holder = await holdLock(dbDir);
    try {
      s = await LspServer.start({ roots: [root], initializationOptions: { model: DEFAULT_MODEL, databaseDir: dbDir } });
      const locked = await s.waitStatus((x) => x.health === 'error');
      assert.match(locked.lastError ?? '', new RegExp(`in use by pid ${holder.pid}\\b`));
      assert.equal(locked.quiescent, true);
      await assert.rejects(s.conn.sendRequest(searchRequest, { query: 'camel case' }), /in use by pid/);
      const released = s.now;
      await holder.release();
      assert.ok(!existsSync(join(dbDir, 'semcode.lock')), 'the holder removed its lock file');
      const ok = await s.ready(released);
      assert.equal(ok.lastError, null);
      assert.ok(ok.chunks > 0);
      assert.equal((await s.conn.sendRequest(searchRequest, { query: 'camel case', k: 1 })).items.length, 1);
    } finally {
      // A failed wait must not leave this server or the holder running (the file would never end).
      await s?.stop();
      s = undefined;
      await holder.release();
    }
  });

  test('before the first index has stored anything, a search answers an empty list marked as still indexing', async () => {
    const root = copyRealCode(join(work.dir, 'fresh'), ['camelcase/index.js']);
    s = await LspServer.start({
      roots: [root],
      initializationOptions: { model: DEFAULT_MODEL, databaseDir: join(work.dir, 'db0') },
      beforeInitialized: async (srv) => void (await srv.conn.sendRequest(pauseRequest)),
    });
    await s.waitStatus((x) => x.paused === true && !x.quiescent);
    assert.deepEqual(await s.conn.sendRequest(searchRequest, { query: 'camel case' }), { items: [], indexing: true });
    await s.conn.sendRequest(resumeRequest);
    await s.ready();
    assert.equal((await s.conn.sendRequest(searchRequest, { query: 'camel case', k: 1 })).items.length, 1);
    await s.stop();
    s = undefined;
  });

  test('every workspace folder is indexed and searched, and an added folder is indexed', async () => {
    const a = copyRealCode(join(work.dir, 'a'), ['camelcase/index.js', 'decamelize/index.js']);
    const b = copyRealCode(join(work.dir, 'b'), ['pg/lib/utils.js']);
    const c = copyRealCode(join(work.dir, 'c'), ['flat/index.js']);
    s = await LspServer.start({
      roots: [a, b],
      initializationOptions: { model: DEFAULT_MODEL, databaseDir: join(work.dir, 'db2') },
      capabilities: { workspace: { workspaceFolders: true } },
    });
    await s.ready();
    // Both folders answer one search, each hit with its own folder's URI.
    const hits = await s.conn.sendRequest(searchRequest, { query: 'escape an identifier, convert to camel case', k: 20 });
    const uris = new Set(hits.items.map((i) => i.uri));
    assert.ok(uris.has(pathToFileURL(join(a, 'lib/camelcase/index.js')).toString()), JSON.stringify([...uris]));
    assert.ok(uris.has(pathToFileURL(join(b, 'lib/pg/lib/utils.js')).toString()), JSON.stringify([...uris]));

    const since = s.now;
    await s.conn.sendNotification('workspace/didChangeWorkspaceFolders', {
      event: { added: [{ uri: pathToFileURL(c).toString(), name: 'c' }], removed: [{ uri: pathToFileURL(b).toString(), name: 'b' }] },
    });
    const run = await s.waitIndexed((p) => p.kind === 'full', since);
    assert.deepEqual(run.roots, [pathToFileURL(c).toString()]);
    await s.ready(since);
    const flat = await s.conn.sendRequest(searchRequest, { query: 'flatten a nested object', k: 20 });
    assert.ok(flat.items.some((i) => i.uri.startsWith(pathToFileURL(c).toString())));
    assert.ok(
      flat.items.every((i) => !i.uri.startsWith(pathToFileURL(b).toString())),
      'a removed folder is not searched',
    );
  });
});

describe('language server on postgres: a codebase another process is indexing', () => {
  const work = tempDir('lsp-lease');
  const root = copyRealCode(join(work.dir, 'project'), ['camelcase/index.js', 'decamelize/index.js']);
  let made: { url: string; drop(): Promise<void> } | undefined;
  let s: LspServer | undefined;
  after(async () => {
    await s?.stop();
    await made?.drop();
    work.cleanup();
  });

  test('a re-index waits for the other run, says who it waits for, and runs once it ends', async () => {
    made = await createTestDatabase('semcode_lsp_lease');
    s = await LspServer.start({ roots: [root], initializationOptions: { model: DEFAULT_MODEL, databaseUrl: made.url } });
    await s.ready();
    // What `semcode index` on another machine holds for the whole of its run.
    const db = await openDb({ url: made.url });
    try {
      const cb = (await new IndexStore(db).codebase(realpathSync(root)))!;
      const lease = await new IndexStore(db).leaseForIndexing(cb, 'semcode index, pid 4242 on elsewhere');
      const since = s.now;
      let done = false;
      const reindex = s.conn.sendRequest(reindexRequest).then(() => (done = true));
      const waiting = await s.waitStatus((st) => /^waiting: .*being indexed by semcode index, pid 4242 on elsewhere/.test(st.message ?? ''), since);
      assert.equal(waiting.quiescent, false);
      assert.equal(done, false, 'the run waits while the lease is held');
      await lease.release();
      await reindex;
      await s.ready(since);
    } finally {
      await db.close();
    }
  });
});
