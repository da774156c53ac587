import type { IndexProgress } from '../index/indexer';

/** Index progress on stderr: a live line on a terminal, a line every few seconds otherwise. */
export function progressReporter(stream: NodeJS.WriteStream = process.stderr): { update(p: IndexProgress): void; done(): void } {
  const tty = stream.isTTY === true;
  let last = 0;
  let drawn = false;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < (tty ? 100 : 5000)) return;
      last = now;
      const pct = p.chunksQueued ? Math.floor((100 * p.chunksDone) / p.chunksQueued) : 0;
      const width = 24;
      const fill = Math.round((pct / 100) * width);
      const line =
        `${p.phase} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${pct}% ` +
        `files ${p.filesSeen} (changed ${p.filesChanged}) chunks ${p.chunksDone}/${p.chunksQueued}`;
      if (tty) {
        stream.write(`\r\x1b[2K${line}`);
        drawn = true;
      } else stream.write(`${line}\n`);
    },
    done() {
      if (drawn) stream.write('\r\x1b[2K');
    },
  };
}
