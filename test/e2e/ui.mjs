// Drives the workbench like a person: wait for Semcode's status item to say the index is ready, F1, run
// "Semcode: Search Code by Meaning", type a description, look at the results (screenshot), pick the expected
// one with the arrow keys and Enter, then check which file and line the editor shows.

const BOUND_MS = 150_000; // generous bounds so a broken build fails with a message instead of hanging

function fail(msg) {
  throw new Error(`UI test: ${msg}`);
}

async function rowTexts(page) {
  return page.locator('.quick-input-list .monaco-list-row').allInnerTexts();
}

/**
 * @param {import('playwright-core').Page} page a page already on the workbench URL
 * @param {{ query: string, symbol: string, file: string, line: number, screenshot: string }} t
 */
export async function searchLikeAPerson(page, t) {
  await page.locator('.monaco-workbench').waitFor({ timeout: BOUND_MS });

  // The status item shows a check mark once the workspace is indexed.
  const status = page.locator('.statusbar-item', { hasText: 'Semcode' }).first();
  await status.waitFor({ timeout: BOUND_MS });
  await status
    .locator('.codicon-check')
    .waitFor({ timeout: BOUND_MS })
    .catch(async () => {
      fail(`the Semcode status item never showed the index as ready; it shows "${await status.innerText()}" (${await status.getAttribute('aria-label')})`);
    });

  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: 30_000 });
  await page.keyboard.type('Semcode: Search Code by Meaning', { delay: 20 });
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Semcode: Search Code by Meaning' }).first().waitFor({ timeout: 30_000 });
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Search Code by Meaning' }).waitFor({ timeout: 30_000 });

  // Typed at a person's pace: each keystroke cancels the request in flight, the last one is answered.
  await page.keyboard.type(t.query, { delay: 35 });
  const wanted = page.locator('.quick-input-list .monaco-list-row', { hasText: t.symbol });
  await wanted
    .first()
    .waitFor({ timeout: 60_000 })
    .catch(async () => {
      fail(`"${t.symbol}" is not among the results for "${t.query}": ${JSON.stringify(await rowTexts(page))}`);
    });
  await page
    .locator('.quick-input-widget .quick-input-progress')
    .waitFor({ state: 'hidden', timeout: 30_000 })
    .catch(() => {});
  await page.waitForTimeout(500); // let the preview editor paint before the picture; not an assertion
  await page.screenshot({ path: t.screenshot });

  // Arrow down to the expected result, as a person would when it is not the first one.
  for (let i = 0; i < 30; i++) {
    const focused = page.locator('.quick-input-list .monaco-list-row.focused');
    if ((await focused.count()) && (await focused.first().innerText()).includes(t.symbol)) break;
    await page.keyboard.press('ArrowDown');
    if (i === 29) fail(`could not move to "${t.symbol}" with the arrow keys: ${JSON.stringify(await rowTexts(page))}`);
  }
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 30_000 });

  const fileName = t.file.slice(t.file.lastIndexOf('/') + 1);
  const tab = page.locator('.tabs-container .tab.active');
  await tab
    .filter({ hasText: fileName })
    .waitFor({ timeout: 30_000 })
    .catch(async () => {
      fail(`the active editor is "${await tab.innerText().catch(() => 'none')}", not ${fileName}`);
    });
  // The breadcrumbs show the folders, so semver/classes/semver.js is told apart from any other semver.js.
  const crumbs = (await page.locator('.breadcrumbs-control').first().innerText()).replace(/\s+/g, '/');
  for (const part of t.file.split('/')) if (!crumbs.includes(part)) fail(`breadcrumbs "${crumbs}" do not show ${t.file}`);
  const selection = page.locator('[id="status.editor.selection"]');
  const wantPos = new RegExp(`Ln ${t.line}, Col 1\\b`);
  await selection
    .filter({ hasText: wantPos })
    .waitFor({ timeout: 30_000 })
    .catch(async () => {
      fail(`the cursor is at "${await selection.innerText().catch(() => '?')}", expected line ${t.line}`);
    });
  const pos = await selection.innerText();
  if (!/selected/.test(pos)) fail(`the result's range is not selected: "${pos}"`);
  return pos;
}

/**
 * The status item as a person meets it: hovering shows the model, backend and counts; clicking offers the
 * actions (re-index, rebuild, pause, show log). Escape closes the menu without running anything.
 * @param {import('playwright-core').Page} page a page on a workbench whose index is ready
 */
export async function statusItemLikeAPerson(page) {
  const status = page.locator('.statusbar-item', { hasText: 'Semcode' }).first();
  await status.hover();
  const hover = page.locator('.workbench-hover, .monaco-hover').filter({ hasText: 'Model:' }).first();
  await hover.waitFor({ timeout: 30_000 }).catch(() => fail('hovering the status item shows no tooltip with the model'));
  const tip = await hover.innerText();
  for (const want of ['index up to date', 'Model:', 'Backend:', 'files', 'chunks']) {
    if (!tip.includes(want)) fail(`the status tooltip lacks "${want}": ${JSON.stringify(tip)}`);
  }
  await status.click();
  const rows = page.locator('.quick-input-list .monaco-list-row');
  await rows.first().waitFor({ timeout: 30_000 });
  const labels = (await rowTexts(page)).join('\n');
  for (const want of ['Search code by meaning', 'Re-index changed files', 'Rebuild the index', 'Pause indexing', 'Show log']) {
    if (!labels.includes(want)) fail(`the status item's menu lacks "${want}": ${JSON.stringify(labels)}`);
  }
  await page.keyboard.press('Escape');
  return tip
    .split('\n')
    .filter((l) => /^(Model|Backend|Index):/.test(l))
    .join('; ');
}
