/**
 * Extension-host suite (the @vscode/test-electron style: tests run INSIDE VS Code's extension host with the
 * real `vscode` API; exit code = result), against code-server instead of a downloaded VS Code. The suite
 * (extHostSuite/index.ts) is bundled with esbuild, the extension is loaded from the repository
 * (extensionDevelopmentPath = repo, dist/ built), and the result comes back through `codeAutomationExit`.
 * Usage: node --import tsx test/e2e/extHost.ts     (after setup and a build; run.sh does both)
 */
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as util from 'node:util';
import type { BrowserContext } from 'playwright-core';
import { ARTIFACTS, REPO, launchBrowser, log, makeRunDir, startCodeServer, type CodeServer } from './lib/codeServer';
import { makeWorkspace } from './lib/workspace';
import { writePlanFixtures } from './lib/plans';

const TIMEOUT_MS = Number(process.env.EXT_TESTS_TIMEOUT_MS ?? 180_000);

async function main(): Promise<number> {
  const runDir = makeRunDir('exthost');
  const suite = path.join(runDir, 'suite', 'index.js');
  await esbuild.build({ entryPoints: [path.join(__dirname, 'extHostSuite/index.ts')], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: suite, external: ['vscode'], logLevel: 'warning' });
  if (!fs.existsSync(path.join(REPO, 'dist/extension.js'))) throw new Error('dist/extension.js is missing: run npm run build first.');
  const workspace = makeWorkspace(path.join(runDir, 'workspace'));
  await writePlanFixtures(workspace);
  const resultFile = path.join(ARTIFACTS, 'exthost-results.txt');
  fs.rmSync(resultFile, { force: true });
  let cs: CodeServer | undefined;
  let browser: BrowserContext | undefined;
  try {
    cs = await startCodeServer({ runDir, workspace, smokeTestDriver: true, env: { PRECISION_LENS_TEST_RESULT: resultFile } });
    browser = await launchBrowser(runDir, cs.env);
    const page = browser.pages()[0] ?? (await browser.newPage());
    const exited = new Promise<number | string>((resolve) => {
      // VS Code calls window.codeAutomationExit(code) when the extension test run ends.
      void page.exposeFunction('codeAutomationExit', (code: number) => resolve(code));
      void page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => {
        const line = util.format(...(args ?? []));
        if (/^\[pl-test\]/.test(line) || process.env.VERBOSE) log(line);
      });
    });
    const payload = [
      ['extensionDevelopmentPath', `vscode-remote://${cs.authority}${REPO}`],
      ['extensionTestsPath', `vscode-remote://${cs.authority}${suite}`],
    ];
    await page.goto(`${cs.url}&payload=${encodeURIComponent(JSON.stringify(payload))}`);
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), TIMEOUT_MS))]);
    if (fs.existsSync(resultFile)) process.stdout.write(fs.readFileSync(resultFile, 'utf8'));
    log(`extension-host suite exit code: ${code}`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'exthost-final.png') }).catch(() => undefined);
    return code === 0 ? 0 : 1;
  } finally {
    await browser?.close().catch(() => undefined);
    await cs?.stop();
  }
}

main().then(
  (rc) => process.exit(rc),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
