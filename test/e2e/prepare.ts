/**
 * Prepares what an extension-host run needs outside code-server (for @vscode/test-electron via .vscode-test.mjs):
 * the bundled suite and a workspace with real models and plan fixtures. Prints JSON { suite, workspace }.
 * Usage: node --import tsx test/e2e/prepare.ts <folder>
 */
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writePlanFixtures } from './lib/plans';
import { makeWorkspace } from './lib/workspace';

async function main(): Promise<void> {
  const dir = path.resolve(process.argv[2] ?? '.tmp/e2e-electron');
  fs.rmSync(dir, { recursive: true, force: true });
  const suite = path.join(dir, 'suite', 'index.js');
  await esbuild.build({ entryPoints: [path.join(__dirname, 'extHostSuite/index.ts')], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: suite, external: ['vscode'], logLevel: 'warning' });
  const workspace = makeWorkspace(path.join(dir, 'workspace'));
  await writePlanFixtures(workspace);
  process.stdout.write(`${JSON.stringify({ suite, workspace })}\n`);
}

void main();
