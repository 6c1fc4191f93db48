// @vscode/test-electron set-up for developers whose machines can download VS Code (CI cannot: it runs the same
// extension-host suite inside code-server with `bash test/e2e/run.sh`, see ../shared/E2E.md).
// Usage: npm run build && node .vscode-test.mjs          (VSCODE_EXECUTABLE=/path/to/code to skip the download)
// The default export is also a valid @vscode/test-cli configuration for `vscode-test` users.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.dirname(fileURLToPath(import.meta.url));
const folder = path.join(repo, '.tmp', 'e2e-electron');

export default {
  files: path.join(folder, 'suite', 'index.js'),
  workspaceFolder: path.join(folder, 'workspace'),
  extensionDevelopmentPath: repo,
  version: '1.139.1',
};

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { suite, workspace } = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', 'test/e2e/prepare.ts', folder], { cwd: repo, encoding: 'utf8' }));
  const { runTests } = await import('@vscode/test-electron');
  await runTests({
    extensionDevelopmentPath: repo,
    extensionTestsPath: suite,
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
    ...(process.env.VSCODE_EXECUTABLE ? { vscodeExecutablePath: process.env.VSCODE_EXECUTABLE } : { version: '1.139.1' }),
  }).then(
    () => console.log('extension-host suite passed'),
    (e) => {
      console.error(`extension-host suite failed: ${e instanceof Error ? e.message : e}`);
      process.exit(1);
    },
  );
}
