/**
 * What a user does in the workbench, as playwright steps: Quick Open, the command palette, reading code
 * lenses, the Problems panel, quick fixes and the webview inside its nested iframes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FrameLocator, Page } from 'playwright-core';
import { ARTIFACTS, log } from './codeServer';

/** Collects pass/fail lines (TAP-like) and the screenshots taken. */
export class Results {
  passed = 0;
  failed = 0;
  readonly lines: string[] = [];
  check(name: string, ok: boolean, detail = ''): boolean {
    if (ok) this.passed++;
    else this.failed++;
    const line = `${ok ? 'ok' : 'not ok'} - ${name}${detail ? ` ${detail}` : ''}`;
    this.lines.push(line);
    log(line);
    return ok;
  }
  /** Runs `fn`; a throw counts as a failed check with the error message. */
  async step(name: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.check(name, false, `(${(e as Error).message.split('\n')[0]})`);
    }
  }
}

/** Saves a full-page screenshot under test-results/. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file });
  log(`screenshot ${path.relative(process.cwd(), file)}`);
  return file;
}

const quickInput = (page: Page) => page.locator('.quick-input-widget input');

/**
 * Opens a workspace file through Quick Open (Ctrl+P) and waits until its tab is active. `query` (default the name)
 * may add a folder ('measured/model.gguf') to pick one of several files with the same name.
 */
export async function quickOpen(page: Page, fileName: string, query = fileName): Promise<void> {
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+P');
  await quickInput(page).waitFor({ timeout: 20_000 });
  await quickInput(page).fill(query);
  // Wait until the focused (top) row is the file itself: right after typing, the list may still show recently
  // opened files, one of which contains the name while another is focused (Enter would open that one).
  const exact = new RegExp(`^${fileName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  await page.locator('.quick-input-list .monaco-list-row.focused .label-name', { hasText: exact }).first().waitFor({ timeout: 20_000 });
  await page.keyboard.press('Enter');
  await page.locator('.tab.active', { hasText: fileName }).first().waitFor({ timeout: 30_000 });
}

/** Runs a command from the palette (F1) by its full title, e.g. 'Precision Lens: Select Target Hardware'. */
export async function runCommand(page: Page, title: string): Promise<void> {
  // A webview that just opened (the inspector) may hold the keyboard focus and swallow F1, or the palette may be
  // re-rendering as it opens: move focus to the workbench and try again, a few times, before giving up.
  let lastError: unknown;
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      await page.keyboard.press('Escape');
      if (attempt > 0) await focusWorkbench(page).catch(() => undefined);
      await page.keyboard.press('F1');
      await quickInput(page).waitFor({ timeout: attempt === 3 ? 20_000 : 5_000 });
      await quickInput(page).fill(`>${title}`, { timeout: 10_000 });
      // Click the row whose label is exactly `title` (Enter would run the top row, which may be a fuzzy match).
      const row = page.locator('.quick-input-list .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }) });
      await row.first().waitFor({ timeout: 20_000 });
      await row.first().click();
      return;
    } catch (e) {
      lastError = e;
      log(`runCommand '${title}': attempt ${attempt + 1} failed (${(e as Error).message.split('\n')[0]}); retrying`);
    }
  }
  throw lastError;
}

/** Picks the quick-pick row containing `text` (after a command opened a picker). */
export async function pickQuickItem(page: Page, text: string, filter = text): Promise<void> {
  await quickInput(page).waitFor({ timeout: 20_000 });
  await quickInput(page).fill(filter);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: text }).first().waitFor({ timeout: 20_000 });
  await page.locator('.quick-input-list .monaco-list-row', { hasText: text }).first().click();
}

/**
 * Types into an input box opened by a command and accepts it. The palette's input is replaced by the command's input
 * box once the command runs, which on a loaded machine can take seconds: wait until the visible input is no longer
 * the palette's (whose value starts with '>'), then fill it. Filling the closing palette instead was a CI flake.
 */
export async function answerInput(page: Page, value: string, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const input = quickInput(page);
      await input.waitFor({ timeout: 5_000 });
      if (!(await input.inputValue({ timeout: 2_000 })).startsWith('>')) {
        await input.fill(value, { timeout: 5_000 });
        await page.keyboard.press('Enter');
        return;
      }
    } catch (e) {
      lastError = e;
    }
    await page.waitForTimeout(250);
  }
  throw new Error(`answerInput('${value}'): no command input box within ${timeoutMs} ms${lastError ? ` (${(lastError as Error).message.split('\n')[0]})` : ''}`);
}

/** Texts of the code lenses in the visible editor, once one containing `expected` shows up. */
export async function waitForLens(page: Page, expected: string | RegExp, timeoutMs = 45_000): Promise<string[]> {
  await page.locator('.monaco-editor .codelens-decoration', { hasText: expected }).first().waitFor({ timeout: timeoutMs });
  return page.locator('.monaco-editor .codelens-decoration').allInnerTexts();
}

/** Opens the Problems panel and returns its rows' texts once one containing `expected` shows up. */
export async function problems(page: Page, expected: string | RegExp, timeoutMs = 30_000): Promise<string[]> {
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+Shift+M');
  const rows = page.locator('.markers-panel .monaco-list-row');
  await rows.filter({ hasText: expected }).first().waitFor({ timeout: timeoutMs });
  return rows.allInnerTexts();
}

/**
 * The inspector webview's document (outer `iframe.webview.ready`, inner `#active-frame`). With `visibleOnly`, the one
 * in the visible editor (hidden inspectors keep their iframe: retainContextWhenHidden).
 */
export function webview(page: Page, visibleOnly = false): FrameLocator {
  return page.frameLocator(visibleOnly ? 'iframe.webview.ready >> visible=true' : 'iframe.webview.ready').frameLocator('#active-frame');
}

/** Text of the active editor (visible lines), for checking an edit. */
export async function editorText(page: Page): Promise<string> {
  return (await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().innerText()).replace(/\u00a0/g, ' ');
}

/** Text of the status bar. */
export async function statusBarText(page: Page): Promise<string> {
  return (await page.locator('.statusbar').innerText()).replace(/\s+/g, ' ');
}

/** The notification toast whose message matches `message`, once it shows (VS Code's bottom-right toasts). */
export async function waitForToast(page: Page, message: string | RegExp, timeoutMs = 60_000): Promise<string> {
  const toast = page.locator('.notification-toast', { has: page.locator('.notification-list-item-message', { hasText: message }) }).first();
  await toast.waitFor({ timeout: timeoutMs });
  return (await toast.locator('.notification-list-item-message').innerText()).replace(/\s+/g, ' ');
}

/** Clicks the button `label` on the toast whose message matches `message`. */
export async function clickToastButton(page: Page, message: string | RegExp, label: string, timeoutMs = 60_000): Promise<void> {
  const toast = page.locator('.notification-toast', { has: page.locator('.notification-list-item-message', { hasText: message }) }).first();
  await toast.waitFor({ timeout: timeoutMs });
  await toast.locator('.monaco-button', { hasText: label }).first().click();
}

/** Texts of the rows of the open quick pick, once one containing `expected` shows up. */
export async function quickPickRows(page: Page, expected: string | RegExp, timeoutMs = 30_000): Promise<string[]> {
  const rows = page.locator('.quick-input-list .monaco-list-row');
  await rows.filter({ hasText: expected }).first().waitFor({ timeout: timeoutMs });
  return (await rows.allInnerTexts()).map((t) => t.replace(/\s+/g, ' '));
}

/**
 * Moves keyboard focus from a webview (which keeps key presses such as Ctrl+P to itself after a click inside
 * it) back to the workbench by clicking the side bar's title.
 */
export async function focusWorkbench(page: Page): Promise<void> {
  await page.locator('.part.sidebar .composite.title').first().click();
}

/** Files under `dir` (depth-first, at most `max`) whose base name is `name`. */
function findFiles(dir: string, name: string, max = 4): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (found.length >= max) return;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === name) found.push(p);
    }
  };
  walk(dir);
  return found;
}

/**
 * What was on screen and in the extension's logs when a step failed, printed with the failure so that a CI run (whose
 * artifacts are not kept) says why: the active tab, the code lenses drawn, the tail of the extension's "Precision
 * Lens" log and the extension host's lines about it or about errors.
 */
export async function logFailureContext(page: Page, runDir: string): Promise<void> {
  const active = await page.locator('.tab.active').allInnerTexts().catch(() => []);
  const lenses = await page.locator('.monaco-editor .codelens-decoration').allInnerTexts().catch(() => []);
  log(`  failure context: active tabs ${JSON.stringify(active)}; code lenses drawn ${JSON.stringify(lenses.slice(0, 8))}`);
  const logs = path.join(runDir, 'user-data', 'logs');
  for (const file of [...findFiles(logs, 'Precision Lens.log'), ...findFiles(logs, 'remoteexthost.log')]) {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const shown = file.endsWith('remoteexthost.log') ? lines.filter((l) => /precision|error/i.test(l)) : lines;
    log(`  ${path.relative(runDir, file)} (last ${Math.min(20, shown.length)} of ${shown.length} lines):`);
    for (const l of shown.slice(-20)) log(`    ${l.slice(0, 300)}`);
  }
}
