import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServerStatus } from '../../server/src/protocol/lspExt';
import { presentStatus } from './statusView';

const ready: ServerStatus = {
  health: 'ok',
  quiescent: true,
  model: 'default',
  backend: 'static-js',
  dimension: 512,
  files: 66,
  chunks: 532,
  queue: 0,
  lastError: null,
};

test('the status item shows a check and the model, backend and counts once the index is up to date', () => {
  const v = presentStatus(ready);
  assert.equal(v.text, '$(check) Semcode');
  assert.equal(v.background, undefined);
  assert.match(v.tooltip, /index up to date/);
  assert.match(v.tooltip, /Model: default, 512 dimensions/);
  assert.match(v.tooltip, /Backend: static-js/);
  assert.match(v.tooltip, /66 files, 532 chunks/);
});

test('the status item spins with the percentage while indexing, or the files seen when no percentage is known', () => {
  assert.equal(presentStatus({ ...ready, quiescent: false, percent: 41.6 }).text, '$(sync~spin) Semcode 42%');
  assert.equal(presentStatus({ ...ready, quiescent: false, files: 12 }).text, '$(sync~spin) Semcode 12 files');
  assert.equal(presentStatus({ ...ready, quiescent: false, files: 0, message: 'starting' }).text, '$(sync~spin) Semcode');
  assert.match(presentStatus({ ...ready, quiescent: false, queue: 7 }).tooltip, /7 queued/);
});

test('a paused index shows the pause icon even while a run is unfinished', () => {
  assert.equal(presentStatus({ ...ready, quiescent: false, paused: true }).text, '$(debug-pause) Semcode paused');
});

test('errors and warnings colour the item and the tooltip carries the last error', () => {
  const e = presentStatus({ ...ready, health: 'error', message: 'database unreachable', lastError: 'database unreachable at x' });
  assert.deepEqual([e.text, e.background], ['$(error) Semcode', 'error']);
  assert.match(e.tooltip, /Last error: database unreachable at x/);
  assert.equal(presentStatus({ ...ready, health: 'warning' }).background, 'warning');
});

test('a stopped language server is shown as an error, not as its last status', () => {
  const v = presentStatus(ready, 'the language server stopped');
  assert.deepEqual([v.text, v.background], ['$(error) Semcode', 'error']);
  assert.match(v.tooltip, /the language server stopped/);
  assert.equal(presentStatus(undefined).text, '$(sync~spin) Semcode');
});
