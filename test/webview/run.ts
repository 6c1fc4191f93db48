/**
 * Static webview harness: the real inspector page (same HTML and CSP as the editor, dist/webview.js) in
 * headless Debian chromium, talking through a fake `acquireVsCodeApi` to the REAL host session
 * (src/host/inspectorSession.ts) running here in Node on a real model: openModel → estimate → sensitivity →
 * solver. No code-server needed. Saves screenshots (light and dark) and checks what must hold:
 * layer count, chart canvases, no CSP violation, no page error, XSS names shown as text, 20k-row scrolling.
 *
 * Usage: node --import tsx test/webview/run.ts [--out DIR] [--no-build] [--only gpt2|many] [--trace] [--profile]
 * Exit code 1 when a check fails. Writes DIR/report.json (default .tmp/webview).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { TARGETS, type Target } from '../../src/core';
import { inspectorHtml, makeNonce } from '../../src/host/inspectorHtml';
import { InspectorSession } from '../../src/host/inspectorSession';
import { ModelDocument } from '../../src/host/modelDocument';
import { openModelFile } from '../../src/node/fileByteSource';
import type { InspectorAction } from '../../src/protocol/messages';
import { DEFAULT_STRINGS } from '../../src/protocol/strings';
import { XSS_NAME, writeManyLayersModel } from './syntheticModel';
import { summarizeProfile, summarizeTrace } from './traceSummary';

const REPO = path.resolve(__dirname, '../..');
const MODELS = path.resolve(REPO, '../shared/models');
const args = process.argv.slice(2);
const OUT = path.resolve(REPO, args.includes('--out') ? args[args.indexOf('--out') + 1]! : '.tmp/webview');
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
/** Record a chromium trace of the scroll probe (DIR/scroll-trace.json) and print where the frames' time went. */
const TRACE = args.includes('--trace');
/** Record a JavaScript CPU profile of the scroll probe (DIR/scroll.cpuprofile) and print its heaviest functions. */
const PROFILE = args.includes('--profile');
const TRACE_CATEGORIES = ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'disabled-by-default-devtools.timeline.frame', 'blink', 'cc', 'v8.execute'];

/** A user target with a hostile name: the picker must show it as text. */
const EVIL_TARGET: Target = { ...TARGETS.find((t) => t.id === 'rtx-4090')!, id: 'evil-target', name: `${XSS_NAME} GPU` };

interface Scenario {
  readonly name: string;
  readonly model: string;
  readonly theme: 'light' | 'dark';
  readonly targetId: string;
  /** Run the 20k-row scroll benchmark and the XSS search. */
  readonly large: boolean;
}

interface Check {
  readonly scenario: string;
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

const checks: Check[] = [];
const figures: Record<string, unknown> = {};

function check(scenario: string, name: string, ok: boolean, detail = ''): void {
  checks.push({ scenario, name, ok, detail });
  console.log(`${ok ? 'ok  ' : 'FAIL'} [${scenario}] ${name}${detail ? ` — ${detail}` : ''}`);
}

function contentType(file: string): string {
  return file.endsWith('.js') ? 'text/javascript' : file.endsWith('.css') ? 'text/css' : 'application/octet-stream';
}

/** Serves the page, the bundle, media and the harness files on 127.0.0.1. */
async function startServer(): Promise<{ origin: string; close(): void }> {
  const files: Record<string, string> = {
    '/dist/webview.js': path.join(REPO, 'dist/webview.js'),
    '/media/inspector.css': path.join(REPO, 'media/inspector.css'),
    '/harness/fakeHost.js': path.join(__dirname, 'fakeHost.js'),
    '/harness/theme-dark.css': path.join(__dirname, 'theme-dark.css'),
    '/harness/theme-light.css': path.join(__dirname, 'theme-light.css'),
  };
  let origin = '';
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname === '/') {
      const theme = url.searchParams.get('theme') === 'light' ? 'light' : 'dark';
      const html = inspectorHtml({
        cspSource: origin,
        nonce: makeNonce(),
        scriptUri: '/dist/webview.js',
        styleUris: [`/harness/theme-${theme}.css`, '/media/inspector.css'],
        preloadScriptUris: ['/harness/fakeHost.js'],
        title: 'Model Inspector (harness)',
      });
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
      return;
    }
    const file = files[url.pathname];
    if (url.pathname === '/favicon.ico') return void res.writeHead(204).end();
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': contentType(file) }).end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  origin = `http://127.0.0.1:${port}`;
  return { origin, close: () => server.close() };
}

async function runScenario(browser: Browser, origin: string, sc: Scenario): Promise<void> {
  const opened = await openModelFile(sc.model);
  const doc = await ModelDocument.open({ fsPath: sc.model } as never, opened);
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, colorScheme: sc.theme });
  const page: Page = await context.newPage();
  const errors: string[] = [];
  const dialogs: string[] = [];
  const actions: InspectorAction[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
    if (m.text().startsWith('[pl-timing]')) console.log(`  page: ${m.text()}`);
  });
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  // Host → page, in order.
  let queue = Promise.resolve();
  let sent = 0;
  const session = new InspectorSession(
    {
      model: doc.model,
      settings: () => ({ targetId: sc.targetId, batch: 1, contextTokens: null, kvFormat: 'fp16', autoSensitivity: true }),
      strings: () => DEFAULT_STRINGS,
      targets: async () => ({ targets: [...TARGETS, EVIL_TARGET], userIds: new Set([EVIL_TARGET.id]) }),
      canMeasure: () => doc.model.format === 'onnx',
      planAssignment: async () => undefined,
      sensitivity: (token, onProgress) => doc.sensitivity(token, onProgress),
      cachedSensitivity: () => doc.cachedSensitivity(),
      runAction: async (action) => {
        actions.push(action);
        return { ok: true, message: '' };
      },
      log: (m) => console.log(`  host: ${m}`),
    },
    (m) => {
      sent++;
      // As a JSON string: Playwright's own argument serializer is slow for multi-megabyte objects.
      const json = JSON.stringify(m);
      const posted = performance.now();
      queue = queue
        .then(() => page.evaluate((text) => (window as unknown as { __fromHost(m: unknown): void }).__fromHost(JSON.parse(text)), json))
        .then(() => {
          if (json.length > 1e6) console.log(`  harness: delivered a ${(json.length / 1e6).toFixed(1)} MB message in ${Math.round(performance.now() - posted)} ms`);
        })
        .catch(() => undefined);
    },
  );
  await page.exposeFunction('__toHost', (m: unknown) => session.handleMessage(m));
  const t0 = Date.now();
  await page.goto(`${origin}/?theme=${sc.theme}`);
  await page.waitForSelector('[data-testid="layer-count"]', { timeout: 15_000 }).catch(async (e: unknown) => {
    const html = await page.evaluate(() => document.body.outerHTML.slice(0, 2000));
    throw new Error(`${sc.name}: the page never painted (${String(e)}); errors: ${errors.join(' | ')}; body: ${html}`);
  });
  const firstPaint = await page.evaluate(() => ({
    appMs: Number(document.getElementById('app')?.getAttribute('data-first-paint-ms')),
    sinceNavigationMs: Number(document.getElementById('app')?.getAttribute('data-first-paint-at')),
    scriptStartMs: Number(document.getElementById('app')?.getAttribute('data-script-start-at')),
  }));
  const wall = Date.now() - t0;
  figures[`${sc.name}.firstPaint`] = { ...firstPaint, wallMs: wall };
  const layerCount = await page.textContent('[data-testid="layer-count"]');
  check(sc.name, 'layer count shown', layerCount === String(doc.model.layers.length), `${layerCount} vs ${doc.model.layers.length}`);
  check(sc.name, 'first paint under 1 s', firstPaint.sinceNavigationMs < 1000, `${firstPaint.sinceNavigationMs} ms since navigation start (script started at ${firstPaint.scriptStartMs} ms; app ${firstPaint.appMs} ms; wall incl. harness ${wall} ms)`);
  // Analyses fill in.
  await page.waitForSelector('[data-testid="target-banner"][data-fits]', { timeout: 15_000 });
  await page.waitForSelector('[data-testid="chart-memory"] canvas', { timeout: 15_000 });
  check(sc.name, 'memory chart canvas', (await page.$$('[data-testid="chart-memory"] canvas')).length === 1);
  await page.waitForSelector('[data-testid="progress"][data-state="done"]', { timeout: 120_000 }).catch(() => undefined);
  const progressState = await page.getAttribute('[data-testid="progress"]', 'data-state');
  check(sc.name, 'sensitivity finished', progressState === 'done', `state ${progressState}`);
  await page.waitForSelector('[data-testid="chart-sensitivity"] canvas', { timeout: 15_000 }).catch(() => undefined);
  await page.waitForSelector('[data-testid="chart-frontier"] canvas', { timeout: 15_000 }).catch(() => undefined);
  await page.waitForSelector('[data-testid="chart-compare"] canvas', { timeout: 15_000 }).catch(() => undefined);
  for (const id of ['chart-formats', 'chart-sensitivity', 'chart-frontier', 'chart-compare']) {
    check(sc.name, `${id} canvas`, (await page.$$(`[data-testid="${id}"] canvas`)).length === 1);
  }
  const heatCells = await page.$$eval('.heat:not(.heat-none)', (els) => els.length);
  check(sc.name, 'sensitivity heat cells rendered', heatCells > 0, `${heatCells} cells in view`);
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(OUT, `${sc.name}.png`), fullPage: true });
  // Keyboard: focus the grid, move down, fold the first group.
  await page.focus('[data-testid="layer-table"]');
  await page.keyboard.press('Home');
  const activeBefore = await page.getAttribute('[data-testid="layer-table"]', 'aria-activedescendant');
  await page.keyboard.press('Enter');
  await page.waitForTimeout(50);
  const expanded = await page.$eval('#lt-active-row', (el) => el.getAttribute('aria-expanded')).catch(() => null);
  check(sc.name, 'keyboard folds a block group', activeBefore === 'lt-active-row' && expanded === 'false', `aria-expanded=${expanded}`);
  await page.keyboard.press('Enter');
  // Actions reach the host.
  await page.click('[data-testid="action-generatePlan"]');
  await page.waitForTimeout(100);
  check(sc.name, 'action reaches the host', actions.includes('generatePlan'), actions.join(','));

  if (sc.large) {
    // Scroll benchmark (issue 13: p95 frame < 16.7 ms). Headless chromium paces frames at 60 Hz and ignores the
    // flags that unlock vsync, so the time between two animation frames is 16.7 ms whatever the page does. The
    // frame time is therefore measured as the main-thread work of the frame that shows a scroll jump: from the
    // first animation-frame callback of that frame (the scroll event has been dispatched) to the first task after
    // it (a MessageChannel message posted from that callback runs once the frame's rendering update — the table's
    // own requestAnimationFrame render, style, layout, paint — has finished: the "after frame" technique).
    if (TRACE) await browser.startTracing(page, { path: path.join(OUT, 'scroll-trace.json'), categories: TRACE_CATEGORIES });
    const cdp = PROFILE ? await page.context().newCDPSession(page) : undefined;
    if (cdp) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
      await cdp.send('Profiler.start');
    }
    const perf = (await page.evaluate(`(async () => {
      const grid = document.querySelector('[data-testid="layer-table"]');
      const step = grid.clientHeight;
      const marks = ${TRACE};
      const afterFrame = () => new Promise((resolve) => requestAnimationFrame(() => {
        const start = performance.now();
        if (marks) console.timeStamp('pl-frame-start');
        const ch = new MessageChannel();
        ch.port1.onmessage = () => {
          if (marks) console.timeStamp('pl-frame-end jump');
          resolve({ start, end: performance.now() });
        };
        ch.port2.postMessage(0);
      }));
      const frames = [];
      const intervals = [];
      let missed = 0;
      await afterFrame();
      let lastEnd = performance.now();
      for (let i = 0; i < 300; i++) {
        // One screen down, a 25-screen jump every 10th, and back to the top after the end.
        const max = grid.scrollHeight - grid.clientHeight;
        const next = grid.scrollTop + step * (i % 10 === 9 ? 25 : 1);
        grid.scrollTop = next > max ? 0 : next;
        const f = await afterFrame();
        frames.push(f.end - f.start);
        intervals.push(f.end - lastEnd);
        lastEnd = f.end;
        // The frame must show the rows at the new scroll position (else we timed a frame without the render).
        const header = grid.querySelector('.lt-head').offsetHeight;
        const want = Math.floor(Math.max(0, grid.scrollTop - header) / 24) + 2;
        const row = grid.querySelector('.lt-body .lt-row[aria-rowindex="' + want + '"]');
        if (!row || row.hidden) missed++;
      }
      const rows = grid.querySelectorAll('.lt-body .lt-row:not([hidden])').length;
      // Synchronous cost of one jump: scroll, render the pool, force style and layout.
      const table = window.precisionLensInspector.table;
      const sync = [];
      for (let i = 0; i < 60; i++) {
        grid.scrollTop = (i * 7919 * 24) % (grid.scrollHeight - step);
        const t = performance.now();
        table.render();
        void grid.offsetHeight;
        sync.push(performance.now() - t);
      }
      for (const a of [sync, frames, intervals]) a.sort((x, y) => x - y);
      const pct = (a, p) => a[Math.min(a.length - 1, Math.floor(a.length * p))];
      return { frames: frames.length, missedRenders: missed, medianFrameMs: pct(frames, 0.5), p95FrameMs: pct(frames, 0.95), maxFrameMs: frames[frames.length - 1], medianIntervalMs: pct(intervals, 0.5), p95IntervalMs: pct(intervals, 0.95), medianSyncJumpMs: pct(sync, 0.5), p95SyncJumpMs: pct(sync, 0.95), domRows: rows, scrollHeight: grid.scrollHeight };
    })()`)) as { frames: number; missedRenders: number; medianFrameMs: number; p95FrameMs: number; maxFrameMs: number; medianIntervalMs: number; p95IntervalMs: number; medianSyncJumpMs: number; p95SyncJumpMs: number; domRows: number; scrollHeight: number };
    const wheel = await wheelProbe(page);
    if (cdp) {
      const { profile } = await cdp.send('Profiler.stop');
      writeFileSync(path.join(OUT, 'scroll.cpuprofile'), JSON.stringify(profile));
      console.log(summarizeProfile(profile));
    }
    if (TRACE) {
      await browser.stopTracing();
      const trace = summarizeTrace(readFileSync(path.join(OUT, 'scroll-trace.json'), 'utf8'));
      console.log(trace.text);
      figures[`${sc.name}.traceFrames`] = trace.frames;
    }
    figures[`${sc.name}.scroll`] = perf;
    check(sc.name, 'virtualised: few DOM rows for 20k layers', perf.domRows < 120, `${perf.domRows} rows in DOM, scrollHeight ${perf.scrollHeight}px`);
    check(sc.name, 'every timed frame showed the rows at its scroll position', perf.missedRenders === 0, `${perf.missedRenders} of ${perf.frames} frames without them`);
    check(sc.name, 'scroll p95 frame < 16.7 ms (60 Hz)', perf.p95FrameMs < 16.7, `median ${perf.medianFrameMs.toFixed(1)} ms, p95 ${perf.p95FrameMs.toFixed(1)} ms, max ${perf.maxFrameMs.toFixed(1)} ms over ${perf.frames} jumps (frame to frame incl. the 60 Hz pacing: median ${perf.medianIntervalMs.toFixed(1)} ms, p95 ${perf.p95IntervalMs.toFixed(1)} ms)`);
    figures[`${sc.name}.wheel`] = wheel;
    check(sc.name, 'wheel scrolling: every scrolled frame showed the rows at its scroll position', wheel.frames >= 100 && wheel.missedRenders === 0, `${wheel.missedRenders} of ${wheel.frames} scrolled frames without them`);
    check(sc.name, 'wheel scrolling p95 frame < 16.7 ms (60 Hz)', wheel.p95FrameMs < 16.7, `median ${wheel.medianFrameMs.toFixed(1)} ms, p95 ${wheel.p95FrameMs.toFixed(1)} ms, max ${wheel.maxFrameMs.toFixed(1)} ms over ${wheel.frames} frames that scrolled (${wheel.wheelEvents} wheel events of ${WHEEL_DELTA_PX} px, ${wheel.scrolledPx} px in all)`);
    check(sc.name, 'one scroll jump renders in < 16 ms (median)', perf.medianSyncJumpMs < 16, `median ${perf.medianSyncJumpMs.toFixed(1)} ms, p95 ${perf.p95SyncJumpMs.toFixed(1)} ms`);
    // Search for the hostile name: it must show as text and never create an <img>.
    await page.fill('[data-testid="layer-search"] >> input', 'onerror').catch(async () => {
      await page.evaluate(() => {
        const tf = document.querySelector('[data-testid="layer-search"]') as HTMLElement & { value: string };
        tf.value = 'onerror';
        tf.dispatchEvent(new Event('input'));
      });
    });
    await page.waitForTimeout(300);
    const xss = await page.evaluate((name) => {
      const cells = [...document.querySelectorAll('[data-testid="layer-row"] .lt-cell:first-child')].filter((c) => !c.closest('[hidden]'));
      return { texts: cells.map((c) => c.textContent), imgs: document.querySelectorAll('img').length, shown: cells.some((c) => c.textContent === name) };
    }, XSS_NAME);
    check(sc.name, 'XSS layer name shown as text', xss.shown && xss.imgs === 0, `rows ${JSON.stringify(xss.texts)}, <img> elements ${xss.imgs}`);
    await page.screenshot({ path: path.join(OUT, `${sc.name}-search.png`) });
  }
  // The hostile target name in the picker (shadow DOM of vscode-single-select included).
  // (A string: tsx would wrap a named inner function with a `__name` helper the page does not have.)
  const imgsAnywhere = (await page.evaluate(`(() => {
    const count = (root) => root.querySelectorAll('img').length + [...root.querySelectorAll('*')].reduce((a, el) => a + (el.shadowRoot ? count(el.shadowRoot) : 0), 0);
    return count(document);
  })()`)) as number;
  check(sc.name, 'no <img> created by hostile target name', imgsAnywhere === 0, `${imgsAnywhere}`);
  check(sc.name, 'no dialog (no script ran from model strings)', dialogs.length === 0, dialogs.join(' | '));
  const violations = await page.evaluate(() => (window as unknown as { __violations: string[] }).__violations);
  check(sc.name, 'no CSP violations', violations.length === 0, violations.slice(0, 5).join(' | '));
  check(sc.name, 'no page errors', errors.length === 0, errors.slice(0, 5).join(' | '));
  figures[`${sc.name}.messagesFromHost`] = sent;
  session.dispose();
  doc.dispose();
  await context.close();
}

/** Pixels per wheel event of {@link wheelProbe} (one mouse-wheel notch). */
const WHEEL_DELTA_PX = 100;

/**
 * Real scrolling: mouse-wheel events over the table (chromium's own input path, compositor scrolling, scroll events,
 * the hover update), one notch per animation frame, down 200 notches and up 100. Every frame is timed like the
 * jumps (first animation-frame callback → first task after the frame); the frames whose scroll position moved are
 * the ones reported, each checked to show the rows at its position.
 */
async function wheelProbe(page: Page): Promise<{ frames: number; missedRenders: number; medianFrameMs: number; p95FrameMs: number; maxFrameMs: number; wheelEvents: number; scrolledPx: number }> {
  const box = await page.locator('[data-testid="layer-table"]').boundingBox();
  if (!box) throw new Error('the layer table has no box');
  await page.evaluate(`(() => {
    const grid = document.querySelector('[data-testid="layer-table"]');
    grid.scrollTop = 0;
    const w = (window.__wheel = { frames: [], missed: 0, stop: false, scrolled: 0 });
    let last = grid.scrollTop;
    const marks = ${TRACE};
    const loop = () => requestAnimationFrame(() => {
      const start = performance.now();
      if (marks) console.timeStamp('pl-frame-start');
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        const end = performance.now();
        const top = grid.scrollTop;
        if (marks) console.timeStamp(top !== last ? 'pl-frame-end wheel' : 'pl-frame-end idle');
        if (top !== last) {
          w.frames.push(end - start);
          w.scrolled += Math.abs(top - last);
          const header = grid.querySelector('.lt-head').offsetHeight;
          const want = Math.floor(Math.max(0, top - header) / 24) + 2;
          const row = grid.querySelector('.lt-body .lt-row[aria-rowindex="' + want + '"]');
          if (!row || row.hidden) w.missed++;
          last = top;
        }
        if (!w.stop) loop();
      };
      ch.port2.postMessage(0);
    });
    loop();
  })()`);
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  let wheelEvents = 0;
  const nextFrame = (): Promise<unknown> => page.evaluate(() => new Promise((r) => requestAnimationFrame(r)));
  for (let i = 0; i < 300; i++) {
    await page.mouse.wheel(0, i < 200 ? WHEEL_DELTA_PX : -WHEEL_DELTA_PX);
    wheelEvents++;
    await nextFrame();
  }
  // Let a smooth-scroll animation finish, then stop the frame loop.
  for (let i = 0; i < 30; i++) await nextFrame();
  const w = (await page.evaluate(`(() => { const w = window.__wheel; w.stop = true; return { frames: w.frames, missed: w.missed, scrolled: w.scrolled }; })()`)) as { frames: number[]; missed: number; scrolled: number };
  const f = [...w.frames].sort((a, b) => a - b);
  const pct = (p: number): number => f[Math.min(f.length - 1, Math.floor(f.length * p))] ?? Number.NaN;
  return { frames: f.length, missedRenders: w.missed, medianFrameMs: pct(0.5), p95FrameMs: pct(0.95), maxFrameMs: f[f.length - 1] ?? Number.NaN, wheelEvents, scrolledPx: Math.round(w.scrolled) };
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  if (!args.includes('--no-build')) execFileSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, stdio: 'inherit' });
  const server = await startServer();
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const many = ONLY === undefined || ONLY === 'many' ? writeManyLayersModel() : undefined;
  const gpt2 = path.join(MODELS, 'onnx/tiny-random-gpt2-fp32.onnx');
  const scenarios: Scenario[] = [];
  if (ONLY === undefined || ONLY === 'gpt2') {
    scenarios.push({ name: 'gpt2-dark', model: gpt2, theme: 'dark', targetId: 'h100', large: false });
    scenarios.push({ name: 'gpt2-light', model: gpt2, theme: 'light', targetId: 'rtx-4090', large: false });
  }
  if (many) scenarios.push({ name: 'many-layers-dark', model: many.file, theme: 'dark', targetId: 'h100', large: true });
  try {
    for (const sc of scenarios) await runScenario(browser, server.origin, sc);
  } finally {
    await browser.close();
    server.close();
    if (many) rmSync(many.dir, { recursive: true, force: true });
  }
  writeFileSync(path.join(OUT, 'report.json'), JSON.stringify({ checks, figures }, null, 2));
  console.log(JSON.stringify(figures, null, 2));
  const failed = checks.filter((c) => !c.ok);
  console.log(`${checks.length - failed.length}/${checks.length} checks passed; screenshots in ${path.relative(REPO, OUT)}`);
  process.exitCode = failed.length > 0 ? 1 : 0;
}

void main();
