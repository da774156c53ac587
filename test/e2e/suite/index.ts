/**
 * Entry point for VS Code's extension test runner (extensionTestsPath): runs every *.e2e.js spec next to this
 * file with Mocha inside the extension host, as @vscode/test-electron and code-server's payload both expect.
 * It marks where its output starts (the workbench logs plenty before that) and ends with a machine-readable
 * line, so the runner can show just the tests and report counts without parsing the reporter.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

export const START_MARK = 'SEMCODE_E2E_START';
export const RESULT_PREFIX = 'SEMCODE_E2E_RESULT ';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', reporter: 'spec', color: false, timeout: 180_000 });
  const grep = process.env.SEMCODE_E2E_GREP;
  if (grep) mocha.grep(grep);
  for (const f of fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.e2e.js'))
    .sort())
    mocha.addFile(path.join(__dirname, f));
  console.log(START_MARK);
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const { passes = 0, failures: failed = 0, pending = 0 } = runner.stats ?? {};
      console.log(`${RESULT_PREFIX}${JSON.stringify({ passed: passes, failed, pending })}`);
      if (failures) reject(new Error(`${failures} end-to-end test(s) failed`));
      else resolve();
    });
  });
}
