// Temporary source trees and models for the indexing and CLI suites. Files are copies of the real-code
// fixtures under test/fixtures/chunker, so chunking and embedding see realistic code.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeBertModel } from '../fixtures/tinyModel';

export const FIXTURES = join(__dirname, '..', 'fixtures', 'chunker');

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `semcode-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A small multi-language project: the chunker fixtures laid out under src/. */
export function makeProject(dir: string): string {
  cpSync(FIXTURES, join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, '.gitignore'), 'build/\n');
  mkdirSync(join(dir, 'build'));
  writeFileSync(join(dir, 'build', 'out.js'), 'function zorkmidBuild() { return 1; }\n');
  return dir;
}

export function writeFile(root: string, rel: string, text: string): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), text);
}

const models = new Map<string, Promise<string>>();

/**
 * A tiny BERT-shaped ONNX model (random weights) written once per process per shape, and removed when the
 * process exits (suites share it, so no suite can remove it in its own `after`).
 */
export function testModel(dim = 32, seed = 1): Promise<string> {
  const key = `${dim}-${seed}`;
  if (!models.has(key)) {
    const { dir, cleanup } = tempDir(`model-${key}`);
    if (!models.size) process.once('exit', removeModels);
    modelDirs.push(cleanup);
    models.set(
      key,
      writeBertModel(dir, { dim, layers: 0, seed }).then(() => dir),
    );
  }
  return models.get(key)!;
}

const modelDirs: (() => void)[] = [];

function removeModels(): void {
  for (const cleanup of modelDirs) cleanup();
}
