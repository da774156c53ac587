import { createHash } from 'node:crypto';
import type { Chunk } from '../chunk';

/**
 * The exact text given to the model for a chunk. The path is part of it (it helps retrieval noticeably),
 * so a renamed file is re-embedded while a branch switch or a second copy of a file is not.
 */
export function modelInput(chunk: Pick<Chunk, 'path' | 'content'>): string {
  return `${chunk.path}\n${chunk.content}`;
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
