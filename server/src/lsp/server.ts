/**
 * The language server: indexes every workspace folder in the background, keeps the index fresh from file
 * events, and answers semcode/search, workspace/symbol and hover. This file only wires the protocol to
 * the modules beside it; heavy work happens there and in the embedding worker thread, never in the editor.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type ClientCapabilities,
  DidChangeConfigurationNotification,
  DidChangeWatchedFilesNotification,
  ProposedFeatures,
  TextDocumentSyncKind,
  createConnection,
} from 'vscode-languageserver/node';
import { SemcodeError, errorMessage } from '../errors';
import { identityOf, isSameModel, resolveModel } from '../embed/modelResolve';
import {
  type SemcodeSettings,
  cancelRequest,
  indexedNotification,
  pauseRequest,
  rebuildRequest,
  reindexRequest,
  resumeRequest,
  searchRequest,
  statusNotification,
} from '../protocol/lspExt';
import { EngineHolder } from './engineHolder';
import { guarded } from './errors';
import { relatedHover } from './hover';
import { IndexService } from './indexService';
import { LockRetry } from './lockRetry';
import {
  didChangeWatchedFilesParams,
  didSaveParams,
  hoverParams,
  parseParams,
  searchParams,
  validated,
  workspaceFoldersChange,
  workspaceSymbolParams,
} from './params';
import { uriToPath } from './paths';
import { searchWorkspace } from './search';
import { diffSettings, normalizeSettings } from './settings';
import { StatusTracker } from './status';
import { workspaceSymbols } from './symbols';
import { ChangeBatcher, ChangeRouter } from './watcher';

const connection = createConnection(ProposedFeatures.all);
const log = (m: string) => connection.console.log(m);
const logError = (m: string) => connection.console.error(m);

let roots: string[] = [];
let settings: SemcodeSettings = {};
let caps: ClientCapabilities = {};
const status = new StatusTracker((s) => void connection.sendNotification(statusNotification, s).catch(() => {}));
let engines = new EngineHolder({});

const index = new IndexService({
  engine: () => engines.get(),
  roots: () => roots,
  walk: () => ({ maxFileSize: settings.maxFileSize, ignorePatterns: settings.ignore, followExternalLinks: settings.followExternalLinks }),
  status,
  createProgress: () => connection.window.createWorkDoneProgress(),
  indexed: (p) => void connection.sendNotification(indexedNotification, p).catch(() => {}),
  log,
  error: logError,
  modelMismatch: (e) => void askRebuild(e.message),
  dbLocked: () => lockRetry.start(),
  // The stopped PGlite instance answers nothing more; the next request opens the directory again
  // (PostgreSQL's crash recovery keeps every committed file) once there is room.
  dbStopped: () => void engines.reopen(engines.settings),
  advisory: () => (declined !== null ? DECLINED_MESSAGE : null),
});

// Another process holds the embedded database: open it once that process lets go, then index as usual.
const lockRetry = new LockRetry({
  open: () => engines.get(),
  stillLocked: (e) => {
    if (status.current.lastError !== e.message) status.set({ health: 'error', message: e.message, lastError: e.message });
  },
  unlocked: () => {
    log('the index database is free again: indexing');
    index.full(roots).catch(() => {});
  },
});

const router = new ChangeRouter({
  roots: () => roots,
  ignorePatterns: () => settings.ignore ?? [],
  followExternalLinks: () => !!settings.followExternalLinks,
  excluded: () => (settings.databaseDir && !settings.databaseUrl ? [resolve(settings.databaseDir)] : []),
});
const batcher = new ChangeBatcher((paths) => void routeChanges(paths));

async function routeChanges(fsPaths: string[]): Promise<void> {
  try {
    const routed = await router.route(fsPaths);
    if (routed.full.size) index.full([...routed.full]).catch(() => {});
    for (const [root, rels] of routed.paths) index.changed(root, rels);
  } catch (e) {
    logError(`file events dropped: ${errorMessage(e)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Settings: a model change is a rebuild the user agrees to, never vectors of two models in one index.

let asking = false;
/** The model setting the user declined to rebuild for: not asked again until the setting changes. */
let declined: string | null = null;
const DECLINED_MESSAGE = 'the model setting changed: the index keeps its model until Semcode: Rebuild index';

async function askRebuild(reason: string): Promise<void> {
  if (asking || declined === (settings.model ?? '')) return;
  asking = true;
  try {
    const pick = await connection.window.showWarningMessage(`The model changed: rebuild the index? (${reason})`, { title: 'Rebuild' }, { title: 'Not now' });
    if (pick?.title === 'Rebuild') await rebuild().catch(() => {});
    else {
      declined = settings.model ?? '';
      if (status.current.health !== 'error') status.set({ health: 'warning', message: DECLINED_MESSAGE });
      log('rebuild declined: the index keeps its model until Semcode: Rebuild index');
    }
  } catch (e) {
    logError(`could not ask about a rebuild: ${errorMessage(e)}`);
  } finally {
    asking = false;
  }
}

/** The configured model differs from the one the engine indexes with (same files count as the same model). */
async function modelDiffers(next: SemcodeSettings): Promise<boolean> {
  const current = (await engines.get().catch(() => null))?.activeEmbedder;
  if (!current) return true;
  try {
    return !isSameModel(await identityOf(resolveModel(undefined, next.model)), current);
  } catch {
    return true; // a model that cannot be found: the rebuild will say why
  }
}

/** Forgets the index and builds it again with the settings as they are now. */
async function rebuild(): Promise<void> {
  declined = null;
  lockRetry.stop();
  await index.stop();
  await engines.reopen(settings);
  await index.full(roots, true);
}

async function applySettings(raw: unknown): Promise<void> {
  const { settings: next, warnings } = normalizeSettings(raw);
  for (const w of warnings) logError(w);
  const change = diffSettings(settings, next);
  const modelChanged = diffSettings(engines.settings, next).model;
  if (change.model) declined = null;
  settings = next;
  router.reset();
  if (change.database || change.backend || change.codebases) {
    // Another database (or backend): a new engine; the model setting rides along only if it is unchanged.
    lockRetry.stop();
    await index.stop();
    await engines.reopen(modelChanged ? { ...next, model: engines.settings.model } : next);
    log(
      `settings changed: ${change.codebases && !change.database && !change.backend ? "a folder's codebase name" : 'database or backend'}; reopening the index`,
    );
    index.full(roots).catch(() => {});
  } else if (change.walk) {
    log('settings changed: ignore patterns or size limit; walking the workspace again');
    index.full(roots).catch(() => {});
  }
  if (modelChanged && (await modelDiffers(next))) {
    status.set({ health: 'warning', message: 'the model setting changed: the index still uses its model until it is rebuilt' });
    void askRebuild(`${engines.settings.model ?? 'default'} → ${next.model ?? 'default'}`);
  }
  log('settings applied');
}

async function pullSettings(): Promise<unknown> {
  if (!caps.workspace?.configuration) return undefined;
  try {
    const section: unknown = await connection.workspace.getConfiguration('semcode');
    return withCodebaseNames(section);
  } catch (e) {
    logError(`workspace/configuration failed: ${errorMessage(e)}`);
    return undefined;
  }
}

/**
 * semcode.codebase is a resource setting (each folder of a workspace names its own codebase), so it is
 * asked for per folder: the section as pushed or pulled without a scope holds only the window's value.
 */
async function withCodebaseNames(section: unknown): Promise<unknown> {
  if (!caps.workspace?.configuration || typeof section !== 'object' || section === null || Array.isArray(section)) return section;
  if (!roots.length) return { ...section, codebases: {} };
  const names: unknown[] = await connection.workspace.getConfiguration(roots.map((r) => ({ scopeUri: pathToFileURL(r).href, section: 'semcode.codebase' })));
  return { ...section, codebases: Object.fromEntries(roots.map((r, i) => [r, names[i]])) };
}

// ---------------------------------------------------------------------------------------------------------
// Lifecycle

connection.onInitialize((params) => {
  caps = params.capabilities ?? {};
  roots = (params.workspaceFolders ?? []).map((f) => uriToPath(f.uri)).filter((p): p is string => p !== null);
  if (!roots.length && params.rootUri) {
    const p = uriToPath(params.rootUri);
    if (p) roots = [p];
  }
  if (!roots.length && params.rootPath && isAbsolute(params.rootPath)) roots = [params.rootPath];
  const { settings: initial, warnings } = normalizeSettings(params.initializationOptions);
  settings = initial;
  engines = new EngineHolder(settings);
  for (const w of warnings) logError(w);
  return {
    capabilities: {
      workspaceSymbolProvider: true,
      hoverProvider: true,
      // Only saves: the index follows files on disk, not unsaved buffers.
      textDocumentSync: { openClose: false, change: TextDocumentSyncKind.None, save: { includeText: false } },
      workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
    },
    serverInfo: { name: 'semcode' },
  };
});

// A notification handler's promise is not awaited by the connection: a rejection goes to the process's
// unhandledRejection log below, as it did when this handler was async.
connection.onInitialized(() => void initialized());

async function initialized(): Promise<void> {
  try {
    if (caps.workspace?.workspaceFolders) watchFolders();
    if (caps.workspace?.didChangeWatchedFiles?.dynamicRegistration) {
      await connection.client.register(DidChangeWatchedFilesNotification.type, { watchers: [{ globPattern: '**/*' }] });
    }
    if (caps.workspace?.didChangeConfiguration?.dynamicRegistration) {
      await connection.client.register(DidChangeConfigurationNotification.type, { section: 'semcode' });
    }
  } catch (e) {
    logError(`registering for file events failed: ${errorMessage(e)}`);
  }
  const pulled = await pullSettings();
  if (pulled !== undefined && pulled !== null) {
    const { settings: s, warnings } = normalizeSettings(pulled);
    for (const w of warnings) logError(w);
    settings = s;
    await engines.reopen(settings);
  }
  if (roots.length) index.full(roots).catch(() => {});
  else status.set({ health: 'warning', quiescent: true, message: 'no workspace folder open' });
}

// One settings change at a time: each may close and reopen the engine.
let settingsChain: Promise<void> = Promise.resolve();

connection.onDidChangeConfiguration((params) => {
  settingsChain = settingsChain.then(async () => {
    try {
      const pushed = (params?.settings as { semcode?: unknown } | null | undefined)?.semcode;
      const raw = pushed !== undefined ? await withCodebaseNames(pushed) : await pullSettings();
      if (raw !== undefined) await applySettings(raw);
    } catch (e) {
      logError(`applying settings failed: ${errorMessage(e)}`);
    }
  });
});

/** A notification cannot be answered: one whose params are wrong is logged and dropped. */
function notified<P>(name: string, handle: (params: P) => void): (params: P) => void {
  return (params) => {
    try {
      handle(params);
    } catch (e) {
      logError(`${name} ignored: ${errorMessage(e)}`);
    }
  };
}

connection.onDidChangeWatchedFiles(
  notified('workspace/didChangeWatchedFiles', (params) => {
    const { changes } = parseParams(didChangeWatchedFilesParams, params);
    batcher.add(changes.map((c) => uriToPath(c.uri)).filter((p): p is string => p !== null));
  }),
);

connection.onDidSaveTextDocument(
  notified('textDocument/didSave', (params) => {
    const p = uriToPath(parseParams(didSaveParams, params).textDocument.uri);
    if (p) batcher.add([p]);
  }),
);

/** Multi-root: an added folder is indexed; a removed one is no longer searched (its index is kept). */
function watchFolders(): void {
  connection.workspace.onDidChangeWorkspaceFolders(
    notified('workspace/didChangeWorkspaceFolders', (raw) => {
      const event = parseParams(workspaceFoldersChange, raw);
      const added = event.added.map((f) => uriToPath(f.uri)).filter((p): p is string => p !== null && !roots.includes(p));
      const removed = new Set(event.removed.map((f) => uriToPath(f.uri)));
      roots = [...roots.filter((r) => !removed.has(r)), ...added];
      router.reset();
      // A new folder may name its own codebase: the names are read again before it is indexed.
      settingsChain = settingsChain
        .then(async () => {
          const names = normalizeSettings(await withCodebaseNames({})).settings.codebases;
          if (diffSettings(settings, { ...settings, codebases: names }).codebases) await applySettings({ ...settings, codebases: names });
          else if (added.length) index.full(added).catch(() => {});
        })
        .catch((e: unknown) => logError(`reading folder settings failed: ${errorMessage(e)}`));
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Requests

// Each request's params are checked (params.ts) before anything opens the engine.
connection.onRequest(
  searchRequest,
  guarded(
    'semcode/search',
    logError,
    validated(searchParams, async (params) => searchWorkspace(await engines.get(), roots, params, index.busy)),
  ),
);

connection.onWorkspaceSymbol(
  guarded(
    'workspace/symbol',
    logError,
    validated(workspaceSymbolParams, async (params) => workspaceSymbols(await engines.get(), roots, params.query)),
  ),
);

connection.onHover(
  guarded(
    'textDocument/hover',
    logError,
    validated(hoverParams, async (params) => relatedHover(await engines.get(), roots, params.textDocument.uri, params.position)),
  ),
);

connection.onRequest(
  reindexRequest,
  guarded('semcode/reindex', logError, () => index.full(roots)),
);
connection.onRequest(rebuildRequest, guarded('semcode/rebuild', logError, rebuild));
connection.onRequest(pauseRequest, () => {
  index.pause();
  return { paused: true };
});
connection.onRequest(resumeRequest, () => {
  index.resume();
  return { paused: false };
});
connection.onRequest(cancelRequest, () => index.cancel());

connection.onShutdown(async () => {
  lockRetry.stop();
  batcher.dispose();
  await index.stop().catch(() => {});
  status.dispose();
  await engines.close();
});

process.on('unhandledRejection', (e) => logError(`unhandled: ${errorMessage(e)}`));
process.on('uncaughtException', (e) => logError(`uncaught: ${e instanceof SemcodeError ? e.message : (e.stack ?? e.message)}`));
connection.listen();
