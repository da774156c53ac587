/**
 * The language server: indexes every workspace folder in the background and answers semcode/search.
 * Heavy work happens here (and in the embedding worker thread), never in the editor's extension host.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ProposedFeatures, ResponseError, createConnection } from 'vscode-languageserver/node';
import { SemcodeError, errorMessage } from '../errors';
import { Engine } from '../engine';
import {
  type SemcodeSettings,
  type ServerStatus,
  rebuildRequest,
  reindexRequest,
  searchRequest,
  statusNotification,
} from '../protocol/lspExt';

const connection = createConnection(ProposedFeatures.all);
let roots: string[] = [];
let settings: SemcodeSettings = {};
let engine: Engine | null = null;
let indexing: Promise<void> | null = null;
const status: ServerStatus = {
  health: 'warning',
  quiescent: false,
  message: 'starting',
  model: null,
  backend: null,
  dimension: null,
  files: 0,
  chunks: 0,
  queue: 0,
  lastError: null,
};

function publish(patch: Partial<ServerStatus>): void {
  Object.assign(status, patch);
  void connection.sendNotification(statusNotification, { ...status });
}

async function openEngine(): Promise<Engine> {
  engine ??= await Engine.open({
    db: settings.databaseUrl ? { url: settings.databaseUrl } : { dir: settings.databaseDir || undefined },
    modelSetting: settings.model || undefined,
    backend: settings.backend,
  });
  return engine;
}

function runIndex(rebuild: boolean): Promise<void> {
  if (indexing) return indexing;
  publish({ quiescent: false, health: status.health === 'error' ? 'warning' : status.health, message: 'indexing' });
  indexing = (async () => {
    try {
      const e = await openEngine();
      const s = await e.index({
        roots,
        rebuild,
        walk: { maxFileSize: settings.maxFileSize, ignorePatterns: settings.ignore },
        onProgress: (p) => publish({ queue: Math.max(0, p.chunksQueued - p.chunksDone), files: p.filesSeen }),
      });
      const emb = e.activeEmbedder;
      publish({
        health: 'ok',
        quiescent: true,
        message: undefined,
        model: s.modelId,
        dimension: s.dimension,
        backend: emb?.backend ?? null,
        files: s.files,
        chunks: s.chunks,
        queue: 0,
        lastError: null,
      });
    } catch (err) {
      const msg = errorMessage(err);
      connection.console.error(`indexing failed: ${msg}`);
      publish({ health: 'error', quiescent: true, message: msg, lastError: msg });
    } finally {
      indexing = null;
    }
  })();
  return indexing;
}

connection.onInitialize((params) => {
  roots = (params.workspaceFolders ?? []).map((f) => fileURLToPath(f.uri));
  if (!roots.length && params.rootUri) roots = [fileURLToPath(params.rootUri)];
  settings = (params.initializationOptions ?? {}) as SemcodeSettings;
  return { capabilities: {}, serverInfo: { name: 'semcode' } };
});

connection.onInitialized(() => {
  if (roots.length) void runIndex(false);
  else publish({ health: 'warning', quiescent: true, message: 'no workspace folder open' });
});

connection.onRequest(searchRequest, async (params) => {
  try {
    const e = await openEngine();
    const hits = await e.search(roots, params.query, { k: params.k, mode: params.mode, glob: params.glob, language: params.language });
    return {
      items: hits.map((h) => ({
        uri: pathToFileURL(`${h.root}/${h.path}`).toString(),
        path: h.path,
        startLine: h.startLine,
        endLine: h.endLine,
        symbol: h.symbol,
        kind: h.kind,
        language: h.language,
        score: h.score,
        snippet: h.snippet,
      })),
    };
  } catch (err) {
    // A failed request is an error response with one clear message, never a crashed server.
    throw new ResponseError(1, err instanceof SemcodeError ? err.message : `internal error: ${errorMessage(err)}`);
  }
});

connection.onRequest(reindexRequest, () => runIndex(false));
connection.onRequest(rebuildRequest, () => runIndex(true));

connection.onShutdown(async () => {
  await indexing?.catch(() => {});
  await engine?.close();
  engine = null;
});

process.on('unhandledRejection', (e) => connection.console.error(`unhandled: ${errorMessage(e)}`));
connection.listen();
