/** What the status-bar item shows for a server status: pure, so it is tested without VS Code. */
import type { ServerStatus } from '../../server/src/protocol/lspExt';

export interface StatusView {
  text: string;
  tooltip: string;
  background?: 'error' | 'warning';
}

/** `stopped`: the language server is gone, whatever its last status said. */
export function presentStatus(s: ServerStatus | undefined, stopped?: string): StatusView {
  if (stopped) return { text: '$(error) Semcode', tooltip: `Semcode: ${stopped}\n\nClick for actions`, background: 'error' };
  if (!s) return { text: '$(sync~spin) Semcode', tooltip: 'Semcode: starting the language server' };
  let text: string;
  let background: StatusView['background'];
  if (s.paused) text = `$(debug-pause) Semcode paused`;
  else if (!s.quiescent) text = `$(sync~spin) Semcode${s.percent !== undefined ? ` ${Math.round(s.percent)}%` : s.files ? ` ${s.files} files` : ''}`;
  else if (s.health === 'error') [text, background] = ['$(error) Semcode', 'error'];
  else if (s.health === 'warning') [text, background] = ['$(warning) Semcode', 'warning'];
  else text = '$(check) Semcode';

  const state = s.paused ? 'indexing paused' : !s.quiescent ? 'indexing' : s.health === 'ok' ? 'index up to date' : s.health;
  const lines = [`Semcode: ${s.message && s.message !== state ? `${state} (${s.message})` : state}`];
  if (s.model) lines.push(`Model: ${s.model}${s.dimension ? `, ${s.dimension} dimensions` : ''}`);
  if (s.backend) lines.push(`Backend: ${s.backend}`);
  lines.push(`Index: ${s.files} files, ${s.chunks} chunks${s.queue ? `, ${s.queue} queued` : ''}`);
  if (s.lastError) lines.push(`Last error: ${s.lastError}`);
  lines.push('', 'Click for actions');
  return { text, tooltip: lines.join('\n'), background };
}
