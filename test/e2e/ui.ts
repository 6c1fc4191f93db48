/**
 * UI suite: the packaged .vsix installed into a real VS Code (code-server 4.139.1 = VS Code 1.139.1), driven
 * through Debian's chromium. Checks what a user sees and saves screenshots to test-results/.
 * Usage: node --import tsx test/e2e/ui.ts <extension.vsix>   (after test/e2e/setup.sh; run.sh does both)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { ARTIFACTS, launchBrowser, log, makeRunDir, openWorkbench, startCodeServer, type CodeServer } from './lib/codeServer';
import { makeWorkspace } from './lib/workspace';
import { Results, pickQuickItem, quickOpen, runCommand, screenshot, statusBarText, waitForLens } from './lib/workbench';

const vsix = path.resolve(process.argv[2] ?? '');
if (!process.argv[2] || !fs.existsSync(vsix)) {
  console.error('usage: node --import tsx test/e2e/ui.ts <extension.vsix>');
  process.exit(2);
}

const results = new Results();

async function sourceLens(page: Page): Promise<void> {
  await quickOpen(page, 'infer.py');
  const texts = await waitForLens(page, /Precision Lens: .*params/);
  log(`lenses in infer.py: ${JSON.stringify(texts)}`);
  results.check('source lens: mnist-12.onnx line shows params, size and dtype', texts.some((t) => /Precision Lens: 5\.\dk params · [\d.]+ KiB FP32/.test(t)), JSON.stringify(texts));
  results.check('source lens: one lens per existing model (2 of 3 lines)', texts.filter((t) => t.startsWith('Precision Lens:')).length === 2, JSON.stringify(texts));
  await screenshot(page, 'ui-1-source-lens');
}

async function selectTarget(page: Page): Promise<void> {
  await runCommand(page, 'Precision Lens: Select Target Hardware');
  await pickQuickItem(page, 'RTX 4090', '4090');
  await page.locator('.statusbar-item', { hasText: '4090' }).first().waitFor({ timeout: 20_000 });
  results.check('palette command: Select Target Hardware updates the status bar', (await statusBarText(page)).includes('4090'));
  await screenshot(page, 'ui-2-select-target');
}

async function main(): Promise<number> {
  const runDir = makeRunDir('ui');
  const workspace = makeWorkspace(path.join(runDir, 'workspace'));
  let cs: CodeServer | undefined;
  let browser: BrowserContext | undefined;
  try {
    cs = await startCodeServer({ runDir, workspace, vsix });
    log(`code-server on ${cs.url}`);
    browser = await launchBrowser(runDir, cs.env);
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.on('pageerror', (e) => log(`[pageerror] ${e.message.slice(0, 200)}`));
    await openWorkbench(page, cs.url);
    log('workbench visible');
    for (const [name, fn] of [
      ['source lens', sourceLens],
      ['select target', selectTarget],
    ] as const) {
      const before = results.failed;
      await results.step(name, () => fn(page));
      if (results.failed > before) await screenshot(page, `ui-failure-${name.replace(/\W+/g, '-')}`).catch(() => undefined);
    }
  } catch (e) {
    results.check('suite ran', false, `(${(e as Error).stack})`);
  } finally {
    await browser?.close().catch(() => undefined);
    await cs?.stop();
  }
  fs.writeFileSync(path.join(ARTIFACTS, 'ui-results.txt'), `${results.lines.join('\n')}\n${results.passed} passed, ${results.failed} failed\n`);
  log(`${results.passed} passed, ${results.failed} failed`);
  return results.failed ? 1 : 0;
}

main().then((rc) => process.exit(rc));
