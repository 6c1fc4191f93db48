/**
 * UI suite: the packaged .vsix installed into a real VS Code (code-server 4.139.1 = VS Code 1.139.1), driven
 * through Debian's chromium. Checks what a user sees and saves screenshots to test-results/.
 * Usage: node --import tsx test/e2e/ui.ts <extension.vsix>   (after test/e2e/setup.sh; run.sh does both)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { ARTIFACTS, launchBrowser, log, makeRunDir, openWorkbench, startCodeServer, type CodeServer } from './lib/codeServer';
import { MEASURED_GGUF_DIR, MEASURED_MODEL, writeMeasuredGgufPlan, writeMeasuredPlan, type MeasuredPlan } from './lib/measuredPlan';
import { formatDb } from '../../src/core/format/numbers';
import { formatKl } from '../../src/core/editor/planLenses';
import { parsePlan } from '../../src/core/plan/planFile';
import { writePlanFixtures } from './lib/plans';
import { makeWorkspace } from './lib/workspace';
import { Results, answerInput, clickToastButton, editorText, focusWorkbench, logFailureContext, pickQuickItem, problems, quickOpen, quickPickRows, runCommand, screenshot, statusBarText, waitForLens, waitForToast, webview } from './lib/workbench';

const vsix = path.resolve(process.argv[2] ?? '');
if (!process.argv[2] || !fs.existsSync(vsix)) {
  console.error('usage: node --import tsx test/e2e/ui.ts <extension.vsix>');
  process.exit(2);
}

const results = new Results();

let workspaceDir = '';
/** The plan with a real onnxruntime-node measurement record, written before VS Code starts. */
let measured: MeasuredPlan | undefined;
/** The GGUF plan with a llama.cpp measurement record (a committed fixture from a real run). */
let measuredGguf: ReturnType<typeof writeMeasuredGgufPlan> | undefined;

async function sourceLens(page: Page): Promise<void> {
  await quickOpen(page, 'infer.py');
  const texts = await waitForLens(page, /Precision Lens: .*params.*Inspect/);
  log(`lenses in infer.py: ${JSON.stringify(texts)}`);
  // mnist-12.onnx: 5998 parameters, 23.4 KiB of FP32 weights (reference counts in ../shared/models/SOURCES.md).
  results.check('source lens: InferenceSession("models/mnist-12.onnx") shows params, size, dtype and fit', texts.some((t) => /^Precision Lens: 6k params · 23\.4 KiB FP32 · fits H100 SXM5 80GB — Inspect$/.test(t)), JSON.stringify(texts));
  results.check('source lens: Llama(model_path="models/stories260K.gguf") shows 293k params', texts.some((t) => t.startsWith('Precision Lens: 293k params · 1.12 MiB FP32')), JSON.stringify(texts));
  results.check('source lens: no lens for a model file that does not exist', texts.filter((t) => t.startsWith('Precision Lens:')).length === 2, JSON.stringify(texts));
  await screenshot(page, 'ui-1-source-lens');
}

async function inspector(page: Page): Promise<void> {
  await quickOpen(page, 'mnist-12.onnx');
  const view = webview(page);
  const count = view.locator('[data-testid="layer-count"]');
  await count.waitFor({ timeout: 30_000 });
  results.check('inspector: mnist-12.onnx shows its 6 layers', (await count.getAttribute('data-count')) === '6', String(await count.getAttribute('data-count')));
  await view.locator('[data-testid="layer-row"]').first().waitFor({ timeout: 20_000 });
  const canvas = view.locator('[data-testid^="chart-"] canvas').first();
  await canvas.waitFor({ timeout: 30_000 });
  const box = await canvas.boundingBox();
  results.check('inspector: a chart canvas is drawn', !!box && box.width > 50 && box.height > 50, JSON.stringify(box));
  await view.locator('[data-testid="target-banner"]').filter({ hasNotText: /estimating/i }).first().waitFor({ timeout: 20_000 }).catch(() => undefined);
  await screenshot(page, 'ui-2-inspector');
}

async function generatePlan(page: Page): Promise<void> {
  await runCommand(page, 'Precision Lens: Generate Mixed-Precision Plan');
  await answerInput(page, 'capacity');
  await page.locator('.tab.active', { hasText: 'mnist-12.onnx.precision.json' }).first().waitFor({ timeout: 60_000 });
  const texts = await waitForLens(page, /H100 SXM5 80GB · .* · fits/);
  results.check('palette command: Generate Mixed-Precision Plan writes and opens the plan with its header lens', texts.some((t) => /^H100 SXM5 80GB · [\d.]+ [KMG]iB \/ 80\.0 GiB · fits · /.test(t)), JSON.stringify(texts.slice(0, 3)));
  const onDisk = path.join(workspaceDir, 'models', 'mnist-12.onnx.precision.json');
  results.check('plan file exists on disk and names its model', fs.existsSync(onDisk) && fs.readFileSync(onDisk, 'utf8').includes('"file": "mnist-12.onnx"'));
  await screenshot(page, 'ui-3-generated-plan');
}

async function planFixes(page: Page): Promise<void> {
  await quickOpen(page, 'stories260K.gguf.precision.json');
  const texts = await waitForLens(page, /^Q4_K · .* · predicted [\d.]+ dB$/, 60_000);
  log(`plan lenses: ${JSON.stringify(texts)}`);
  results.check('plan lens: header shows target, memory and fit', texts.some((t) => /^H100 SXM5 80GB · .* \/ 80\.0 GiB · fits · /.test(t)), JSON.stringify(texts));
  // The installed .vsix ships llama.cpp (issue 10), so a GGUF plan in this trusted workspace can be run in it.
  results.check('plan lens: the installed .vsix offers Verify in llama.cpp and Measure layers and verify on a GGUF plan', texts.some((t) => t.includes('Verify in llama.cpp')) && texts.some((t) => t.includes('Measure layers and verify')), JSON.stringify(texts.slice(0, 1)));
  results.check('plan lens: layer entry shows format, bytes, sensitivity and predicted SQNR', texts.some((t) => /^Q4_K · 1\.13 KiB · sensitivity \w+.* · predicted [\d.]+ dB$/.test(t)), JSON.stringify(texts));
  const rows = await problems(page, /cannot run natively/);
  results.check('diagnostic: NVFP4 is not native on the H100 (Problems panel)', rows.some((r) => r.includes('NVFP4') && r.includes('cannot run natively')), JSON.stringify(rows));
  results.check('diagnostic: unknown layer reported', rows.some((r) => r.includes("no layer named 'blk.9.attn_q.weight'")), JSON.stringify(rows));
  await screenshot(page, 'ui-4-plan-diagnostics');
  results.check('JSON schema: the contributed plan schema validates the file (json: "comment" is not allowed)', rows.some((r) => /^Property comment is not allowed\./.test(r)), JSON.stringify(rows.filter((r) => r.includes('comment'))));
  // Quick fix as a user does it: open the problem from the Problems panel, then Ctrl+. in the editor.
  await page.locator('.markers-panel .monaco-list-row', { hasText: 'cannot run natively' }).first().dblclick();
  await page.waitForTimeout(500);
  await page.keyboard.press('Control+.');
  const focused = page.locator('.action-widget .monaco-list-row.focused');
  await focused.first().waitFor({ timeout: 20_000 });
  const menu = await page.locator('.action-widget .monaco-list-row').allInnerTexts();
  await screenshot(page, 'ui-5-quick-fix-menu');
  results.check('quick fix menu offers the fixes tied to the diagnostic', menu.some((m) => m.includes('Use Q4_K')) && menu.some((m) => m.includes("solver's choice")), JSON.stringify(menu));
  if (!(await focused.first().innerText()).includes('Use Q4_K')) await page.locator('.action-widget .monaco-list-row', { hasText: 'Use Q4_K' }).first().hover();
  await page.keyboard.press('Enter');
  await runCommand(page, 'File: Save');
  const planPath = path.join(workspaceDir, 'models', 'stories260K.gguf.precision.json');
  let saved = '';
  const fixedEntry = /"blk\.0\.attn_q\.weight",\s*"format":\s*"q4_k"/;
  for (let i = 0; i < 50 && !fixedEntry.test(saved); i++) {
    await new Promise((r) => setTimeout(r, 200));
    saved = fs.readFileSync(planPath, 'utf8');
  }
 results.check('quick fix: "Use Q4_K" changed the plan file on disk', fixedEntry.test(saved), saved.split('\n').find((l) => l.includes('attn_q')) ?? '');
  // Diagnostics are recomputed asynchronously after the edit: wait (bounded) for the panel to catch up.
  let after: string[] = [];
  for (let i = 0; i < 50; i++) {
    after = await page.locator('.markers-panel .monaco-list-row').allInnerTexts();
    if (!after.some((r) => r.includes('cannot run natively')) && after.some((r) => r.includes('blk.9'))) break;
    await page.waitForTimeout(200);
  }
  results.check('quick fix: the not-native diagnostic is gone', !after.some((r) => r.includes('cannot run natively')) && after.some((r) => r.includes('blk.9')), JSON.stringify(after));
  await screenshot(page, 'ui-6-after-quick-fix');
}

async function selectTarget(page: Page): Promise<void> {
  await runCommand(page, 'Precision Lens: Select Target Hardware');
  await pickQuickItem(page, 'GeForce RTX 4090', 'rtx-4090');
  await page.locator('.statusbar-item', { hasText: 'RTX 4090' }).first().waitFor({ timeout: 20_000 });
  results.check('palette command: Select Target Hardware updates the status bar', (await statusBarText(page)).includes('RTX 4090'), await statusBarText(page));
  await screenshot(page, 'ui-7-select-target');
}

async function shardedModel(page: Page): Promise<void> {
  await quickOpen(page, 'model.safetensors.index.json');
  const texts = await waitForLens(page, /sharded model · 2 shards/);
  results.check('sharded index: lens shows shards and parameters', texts.some((t) => t.includes('sharded model · 2 shards · 310k params')), JSON.stringify(texts));
  await page.locator('.codelens-decoration a', { hasText: 'sharded model' }).first().click();
  const count = webview(page, true).locator('[data-testid="layer-count"]');
  await count.waitFor({ timeout: 30_000 });
  results.check('sharded index: the lens opens the inspector with all 15 tensors', (await count.getAttribute('data-count')) === '15', String(await count.getAttribute('data-count')));
  await screenshot(page, 'ui-8-sharded-inspector');
}

/**
 * Generate a plan at 5 bits per weight, verify it with ONNX Runtime and apply it, all from the palette and the
 * result toasts. Verify and Apply run in the extension's task process (a child of the extension host).
 */
async function applyPlan(page: Page): Promise<void> {
  const models = path.join(workspaceDir, 'models');
  await focusWorkbench(page);
  await quickOpen(page, 'mnist-12.onnx');
  await runCommand(page, 'Precision Lens: Generate Mixed-Precision Plan');
  await answerInput(page, '5 bits');
  const written = await waitForToast(page, /^Plan written: mnist-12\.onnx on /);
  const plan = JSON.parse(fs.readFileSync(path.join(models, 'mnist-12.onnx.precision.json'), 'utf8')) as { target: string; layers: { format: string }[] };
  results.check('palette: Generate Plan at "5 bits" lowers layers to INT4/INT8', plan.layers.some((l) => /^int4/.test(l.format)), `${written} ${JSON.stringify(plan.layers.map((l) => l.format))}`);
  await clickToastButton(page, /^Plan written: mnist-12\.onnx/, 'Verify with ONNX Runtime');
  const verified = await waitForToast(page, /^Verified with ONNX Runtime: /, 90_000);
  log(`verify toast: ${verified}`);
  results.check('toast button: Verify with ONNX Runtime measures the plan in the task process', /measured -?[\d.]+ dB output SQNR/.test(verified), verified);
  // The plan file now records that measurement (output SQNR, never KL), so reopening it shows it without rerunning.
  const record = parsePlan(fs.readFileSync(path.join(models, 'mnist-12.onnx.precision.json'), 'utf8'), 'mnist-12.onnx.precision.json').plan?.measurement;
  results.check('Verify with ONNX Runtime writes the measurement record into the plan file (the figure its toast shows)', record?.metric === 'output-sqnr-db' && record.plan !== undefined && verified.includes(`${record.plan.measuredSqnrDb.toFixed(1)} dB output SQNR`) && /^onnxruntime-node /.test(record.runtime), JSON.stringify(record));
  await page.locator('.notification-toast', { hasText: 'verifying mnist-12' }).first().waitFor({ state: 'hidden', timeout: 5_000 }).catch(() => undefined);
  await screenshot(page, 'ui-9-verified-plan');

  await quickOpen(page, 'mnist-12.onnx.precision.json');
  await runCommand(page, 'Precision Lens: Apply Plan (Write ONNX)');
  const outName = `mnist-12.${plan.target}.onnx`;
  const input = page.locator('.quick-input-widget input');
  // The palette's input turns into the command's input box: wait until it holds the proposed path.
  for (let i = 0; i < 100 && !(await input.inputValue().catch(() => '')).endsWith('.onnx'); i++) await page.waitForTimeout(200);
  results.check('Apply Plan proposes an output file beside the model', (await input.inputValue()) === path.join(models, outName), await input.inputValue());
  await page.keyboard.press('Enter');
  const wrote = await waitForToast(page, /^Wrote mnist-12\./, 90_000);
  log(`apply toast: ${wrote}`);
  const out = path.join(models, outName);
  results.check('palette: Apply Plan writes the new .onnx beside the model and re-encodes layers', fs.existsSync(out) && fs.statSync(out).size > 1000 && /Wrote mnist-12\.[\w.-]+\.onnx \([\d.]+ KiB; [1-9]\d* layers re-encoded/.test(wrote), wrote);
  results.check('Apply Plan leaves no staging folder', !fs.readdirSync(models).some((f) => f.startsWith('.precision-lens-staging-')), JSON.stringify(fs.readdirSync(models)));
  const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: outName }).first();
  await row.waitFor({ timeout: 20_000 }).catch(() => undefined);
  results.check('the applied model appears in the explorer', await row.isVisible(), outName);
  await screenshot(page, 'ui-10-applied-plan');
  await clickToastButton(page, /^Wrote mnist-12\./, 'Open in Inspector');
  await page.locator('.tab.active', { hasText: outName }).first().waitFor({ timeout: 30_000 });
  const count = webview(page, true).locator('[data-testid="layer-count"]');
  await count.waitFor({ timeout: 30_000 });
  results.check('the applied model opens in the inspector with mnist-12\'s 6 layers', (await count.getAttribute('data-count')) === '6', String(await count.getAttribute('data-count')));
  await screenshot(page, 'ui-11-applied-inspector');
}

async function exportPlan(page: Page): Promise<void> {
  await focusWorkbench(page);
  await quickOpen(page, 'mnist-12.onnx.precision.json');
  await runCommand(page, 'Precision Lens: Export Plan (ONNX Runtime / llama.cpp)');
  await pickQuickItem(page, 'ONNX Runtime', 'ONNX Runtime');
  await page.locator('.editor-group-container.active .monaco-editor .view-lines', { hasText: 'quantize_static' }).first().waitFor({ timeout: 30_000 });
  const ort = await editorText(page);
  results.check('palette: Export Plan (ONNX Runtime) opens a quantize_static script with the plan\'s per-tensor INT4/INT8 overrides', ort.includes('quantize_static') && ort.includes('TensorQuantOverrides') && ort.includes('"QInt4"') && ort.includes('"QInt8"'), ort.split('\n').slice(0, 4).join(' | '));
  await screenshot(page, 'ui-12-export-ort');
  // The GGUF plan still names 'blk.9.attn_q.weight', a layer the model does not have (the diagnostics step above):
  // Export refuses it, as Apply and the CLI do, instead of exporting a plan checked against nothing.
  await quickOpen(page, 'stories260K.gguf.precision.json');
  await runCommand(page, 'Precision Lens: Export Plan (ONNX Runtime / llama.cpp)');
  const refused = await waitForToast(page, /no layer named 'blk\.9\.attn_q\.weight'.*fix the plan or re-solve it/, 30_000).catch(() => '');
  results.check('palette: Export Plan refuses a plan with a layer the model does not have, naming it', refused !== '', refused);
  const planPath = path.join(workspaceDir, 'models', 'stories260K.gguf.precision.json');
  fs.writeFileSync(planPath, fs.readFileSync(planPath, 'utf8').replace(/,\s*\{"layer":"blk\.9\.attn_q\.weight"[^}]*\}/, ''));
  for (let i = 0; i < 40 && (await editorText(page)).includes('blk.9'); i++) await page.waitForTimeout(500); // VS Code reloads the file
  await runCommand(page, 'Precision Lens: Export Plan (ONNX Runtime / llama.cpp)');
  await pickQuickItem(page, 'llama.cpp', 'llama.cpp');
  await page.locator('.editor-group-container.active .monaco-editor .view-lines', { hasText: 'llama-quantize' }).first().waitFor({ timeout: 30_000 });
  const llama = await editorText(page);
  results.check('palette: Export Plan (llama.cpp) opens a llama-quantize command with per-tensor types', llama.includes('llama-quantize') && llama.includes('--tensor-type'), llama.split('\n').slice(0, 4).join(' | '));
  await screenshot(page, 'ui-13-export-llama');
}

/**
 * The installed .vsix runs GGUF models (issue 10): the platform package ships llama.cpp, so a GGUF plan's lenses offer
 * Verify in llama.cpp and Measure layers and verify, and Verify runs the plan in the packaged llama.cpp and writes
 * the measurement into the plan file (its header lens then shows it). Runs after Export Plan removed the fixture's
 * unknown layer.
 */
async function verifyGgufPlan(page: Page): Promise<void> {
  await focusWorkbench(page);
  await quickOpen(page, 'stories260K.gguf.precision.json');
  // The cursor is still where the quick fix left it; the header lens sits above line 1.
  // Control+Home can land while quick open still holds the focus (then line 1, with the lens, stays scrolled out):
  // pressed again until the lens shows.
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('Control+Home');
    try {
      await waitForLens(page, 'Verify in llama.cpp', 20_000);
      break;
    } catch (e) {
      if (attempt >= 3) throw e;
    }
  }
  await page.locator('.codelens-decoration a', { hasText: 'Verify in llama.cpp' }).first().click();
  const done = await waitForToast(page, /^Measured in llama\.cpp: /, 180_000).catch(async (e: Error) => {
    const toasts = await page.locator('.notification-list-item-message').allInnerTexts().catch(() => []);
    throw new Error(`${e.message.split('\n')[0]}; toasts: ${JSON.stringify(toasts)}`);
  });
  results.check('lens: Verify in llama.cpp runs the plan in the packaged llama.cpp and reports its KL', /KL \d/.test(done), done);
  const header = await waitForLens(page, /measured (KL )?[\d.e+-]+ · perplexity [\d.]+ \(original [\d.]+\)/, 30_000);
  results.check('plan lens: the header shows the measurement the verification recorded in the plan file', header.some((t) => /^H100 SXM5 80GB · .* · measured (KL )?[\d.e+-]+ · perplexity /.test(t)), JSON.stringify(header.slice(0, 2)));
  await screenshot(page, 'ui-15-verified-gguf');
}

async function compareTargets(page: Page): Promise<void> {
  await focusWorkbench(page);
  await quickOpen(page, 'tiny-random-gpt2-fp32.onnx');
  await webview(page, true).locator('[data-testid="layer-count"]').waitFor({ timeout: 30_000 });
  await runCommand(page, 'Precision Lens: Compare Targets');
  const rows = await quickPickRows(page, /fits /);
  log(`compare rows: ${rows.length}`);
  const fits = rows.filter((r) => / · fits /.test(r));
  results.check('palette: Compare Targets lists every target with its fit verdict for the model', fits.length >= 5 && rows.some((r) => r.includes('H100')) && rows.some((r) => /native: /.test(r)), JSON.stringify(rows.slice(0, 4)));
  await screenshot(page, 'ui-14-compare-targets');
  await page.keyboard.press('Escape');
}

/**
 * A plan whose file records a real onnxruntime-node measurement (written before VS Code started, lib/measuredPlan.ts):
 * the inspector's Measured column holds each recorded layer's output SQNR, the scatter is drawn with one point per
 * measured layer and names its metric and source, and the plan's lenses say "predicted … · measured …".
 */
async function measuredPlan(page: Page): Promise<void> {
  const m = measured!.measurement;
  await focusWorkbench(page);
  await quickOpen(page, MEASURED_MODEL);
  await page.locator('.tab.active', { hasText: MEASURED_MODEL }).first().waitFor({ timeout: 30_000 });
  const view = webview(page, true);
  await view.locator('[data-testid="layer-row"]').first().waitFor({ timeout: 30_000 });
  const header = view.locator('[data-testid="measured-header"]');
  await header.filter({ hasText: 'Measured SQNR' }).waitFor({ timeout: 30_000 }).catch(() => undefined);
  results.check('measured column: the header names output SQNR, not KL', (await header.innerText()).trim() === 'Measured SQNR', await header.innerText());
  const tip = (await header.getAttribute('title')) ?? '';
  results.check('measured column: its tooltip names the plan file, runtime and inputs of the record', tip.includes(`${MEASURED_MODEL}.precision.json · ${m.runtime} · ${m.text}`), tip);
  const headers = (await view.locator('[role="columnheader"]').allInnerTexts()).map((x) => x.trim());
  const col = headers.indexOf('Measured SQNR');
  const shown: string[] = [];
  const want: string[] = [];
  for (const l of m.layers) {
    const row = view.locator('[data-testid="layer-row"]', { has: view.locator('.lt-cell', { hasText: new RegExp(`^${l.layer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }) }).first();
    shown.push(`${l.layer}=${(await row.locator('.lt-cell').nth(col).innerText()).trim()}`);
    want.push(`${l.layer}=${formatDb(l.measuredSqnrDb)}`);
  }
  results.check(`measured column: each of the ${m.layers.length} recorded layers shows its measured output SQNR`, col >= 0 && JSON.stringify(shown) === JSON.stringify(want), `${JSON.stringify(shown)} want ${JSON.stringify(want)}`);
  const panel = view.locator('[data-testid="chart-measured"]');
  await panel.scrollIntoViewIfNeeded();
  const canvas = panel.locator('canvas');
  await canvas.waitFor({ timeout: 30_000 });
  const box = await canvas.boundingBox();
  const points = await panel.getAttribute('data-points');
  results.check('scatter: a canvas is drawn with one point per measured layer', !!box && box.width > 50 && box.height > 50 && points === String(m.layers.length), `${JSON.stringify(box)} points ${points} of ${m.layers.length}`);
  const title = (await panel.locator('h3').innerText()).trim();
  const notes = await panel.locator('.chart-note').allInnerTexts();
  results.check('scatter: titled output SQNR (dB), never KL', title === 'Predicted vs measured output SQNR (dB), per layer alone' && !notes.some((n) => /KL|perplexity/.test(n)), `${title} | ${notes.join(' | ')}`);
  const plan = m.plan;
  results.check('scatter: names its source and the whole plan predicted beside measured',
    notes.some((n) => n === `Measured: ${MEASURED_MODEL}.precision.json · ${m.runtime} · ${m.text} · ${m.measuredAt.slice(0, 16).replace('T', ' ')}`)
      && notes.some((n) => n.startsWith('Predicted: static score'))
      && notes.some((n) => n === `Whole plan: predicted output SQNR ${formatDb(plan.predictedSqnrDb)} (layers measured alone, added) · measured ${formatDb(plan.measuredSqnrDb)}`),
    JSON.stringify(notes));
  await screenshot(page, 'ui-15-measured-inspector');

  await quickOpen(page, `${MEASURED_MODEL}.precision.json`);
  const lenses = await waitForLens(page, /predicted output SQNR .* · measured /, 60_000);
  log(`measured plan lenses: ${JSON.stringify(lenses)}`);
  const headerLens = `predicted output SQNR ${formatDb(plan.predictedSqnrDb)} (layers measured alone, added) · measured ${formatDb(plan.measuredSqnrDb)}`;
  // A decoration's text is its lenses joined by ' | ': the header lens is the first.
  results.check('plan lens: the header says "predicted … · measured …" from the record', lenses.some((t) => t.split(/\s*\|\s*/)[0]!.trim().endsWith(headerLens)), `${JSON.stringify(lenses.slice(0, 2))} want …${headerLens}`);
  const first = m.layers[0]!;
  // The layer entries follow the record, below the first screen: VS Code renders lenses only for lines in view.
  await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+End');
  const entries = await waitForLens(page, /measured alone -?[\d.]+ dB/, 30_000).catch(() => lenses);
  results.check('plan lens: a layer entry shows its measured output SQNR alone', entries.some((t) => t.includes(`measured alone ${formatDb(first.measuredSqnrDb)}`)), JSON.stringify(entries));
  results.check('plan lenses never label an ONNX figure KL', !entries.some((t) => /KL/.test(t)), JSON.stringify(entries));
  // The contributed JSON schema accepts the ONNX record (its low-SQNR warnings list the file in the Problems panel).
  const rows = await problems(page, /predicted to leave/);
  const schemaProblems = rows.filter((r) => /metric|SqnrDb|predictor|measurement|Matches multiple schemas|Missing property|Incorrect type|Value is not accepted/.test(r));
  results.check('JSON schema: the plan\'s output-SQNR measurement record validates (no schema problem names it)', schemaProblems.length === 0, JSON.stringify(schemaProblems));
  await screenshot(page, 'ui-16-measured-plan-lenses');
}

/**
 * A GGUF plan recording a llama.cpp measurement (a committed fixture from a real run, lib/measuredPlan.ts): the
 * inspector's Measured KL column, the KL scatter with its source (runtime, text, context) and the plan's lenses
 * "predicted KL … · measured …".
 */
async function measuredGgufPlan(page: Page): Promise<void> {
  const m = measuredGguf!.measurement;
  await focusWorkbench(page);
  await quickOpen(page, 'stories260K.gguf', `${MEASURED_GGUF_DIR}/stories260K.gguf`);
  await page.locator('.tab.active', { hasText: 'stories260K.gguf' }).first().waitFor({ timeout: 30_000 });
  const view = webview(page, true);
  await view.locator('[data-testid="layer-row"]').first().waitFor({ timeout: 30_000 });
  const header = view.locator('[data-testid="measured-header"]');
  await header.filter({ hasText: 'Measured KL' }).waitFor({ timeout: 30_000 }).catch(() => undefined);
  results.check('GGUF measured column: the header names KL', (await header.innerText()).trim() === 'Measured KL', await header.innerText());
  const headers = (await view.locator('[role="columnheader"]').allInnerTexts()).map((x) => x.trim());
  const col = headers.indexOf('Measured KL');
  // The table is virtualised: the rows in the DOM are checked (at least 5 recorded layers among them).
  const byName = new Map(m.layers.filter((l) => l.measuredKl !== undefined).map((l) => [l.layer, l.measuredKl!.toPrecision(3)]));
  const rows = view.locator('[data-testid="layer-row"]');
  const seen: string[] = [];
  const wrong: string[] = [];
  for (let i = 0; i < (await rows.count()); i++) {
    const cells = rows.nth(i).locator('.lt-cell');
    const name = (await cells.nth(0).innerText()).trim();
    const want = byName.get(name);
    if (want === undefined) continue;
    const got = (await cells.nth(col).innerText()).trim();
    seen.push(`${name}=${got}`);
    if (got !== want) wrong.push(`${name}: ${got} ≠ ${want}`);
  }
  results.check('GGUF measured column: the rendered recorded layers show their measured KL', col >= 0 && seen.length >= 5 && wrong.length === 0, `${wrong.join('; ')} | ${seen.slice(0, 6).join(', ')}`);
  const panel = view.locator('[data-testid="chart-measured"]');
  await panel.scrollIntoViewIfNeeded();
  // The predicted side needs the static scores (analysed automatically for a small model): wait for the points.
  await panel.locator('canvas').waitFor({ timeout: 60_000 }).catch(() => undefined);
  const box = await panel.locator('canvas').boundingBox().catch(() => null);
  const points = Number(await panel.getAttribute('data-points'));
  const notes = await panel.locator('.chart-note').allInnerTexts();
  const paired = notes.map((n) => /over (\d+) layers$/.exec(n)?.[1]).find((x) => x !== undefined);
  results.check('GGUF scatter: a canvas with one point per measured layer that has a static score (as many as Spearman counts)', !!box && box.width > 50 && points >= 3 && points <= m.layers.length && String(points) === paired, `${JSON.stringify(box)} points ${points} of ${m.layers.length}; ${notes.join(' | ')}`);
  results.check('GGUF scatter: names its runtime, text and context, and the whole plan predicted beside measured',
    (await panel.locator('h3').innerText()).trim() === 'Predicted vs measured KL, per layer alone'
      && notes.some((n) => n.startsWith('Measured: stories260K.gguf.precision.json · llama.cpp (node-llama-cpp 3.21.1, CPU) · tinyTales.txt (bundled;') && /context 128/.test(n))
      && notes.some((n) => /^Predicted: static score × median measured\/static over \d+ layer\(s\)$/.test(n))
      && notes.some((n) => n.startsWith(`Whole plan: predicted KL ${m.plan.predictedKl!.toPrecision(3)} (layers measured alone, added) · measured ${m.plan.klDivergence.toPrecision(3)} ± `)),
    JSON.stringify(notes));
  await screenshot(page, 'ui-17-measured-gguf-inspector');
  await quickOpen(page, 'stories260K.gguf.precision.json', `${MEASURED_GGUF_DIR}/stories260K.gguf.precision.json`);
  const lenses = await waitForLens(page, /predicted KL .* · measured /, 60_000);
  results.check('GGUF plan lens: the header says "predicted KL … · measured …" from the record', lenses.some((t) => t.split(/\s*\|\s*/)[0]!.includes(`predicted KL ${formatKl(m.plan.predictedKl!)} · measured ${formatKl(m.plan.klDivergence)} · perplexity`)), JSON.stringify(lenses.slice(0, 2)));
  await screenshot(page, 'ui-18-measured-gguf-lenses');
}

async function main(): Promise<number> {
  const runDir = makeRunDir('ui');
  const workspace = makeWorkspace(path.join(runDir, 'workspace'));
  workspaceDir = workspace;
  await writePlanFixtures(workspace);
  measured = await writeMeasuredPlan(workspace, path.join(runDir, 'measure-cache'));
  log(`measured plan: ${measured.planPath} (${measured.measurement.layers.length} layers measured alone)`);
  measuredGguf = writeMeasuredGgufPlan(workspace);
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
    // E2E_ONLY=name,name runs only those steps (for iterating on one; the full suite runs them all).
    const only = process.env.E2E_ONLY?.split(',').map((s) => s.trim());
    for (const [name, fn] of [
      ['source lens', sourceLens],
      ['inspector', inspector],
      ['generate plan', generatePlan],
      ['plan lenses, diagnostics, quick fix', planFixes],
      ['select target', selectTarget],
      ['sharded model', shardedModel],
      ['verify and apply plan', applyPlan],
      ['export plan', exportPlan],
      ['verify GGUF plan in llama.cpp', verifyGgufPlan],
      ['compare targets', compareTargets],
      ['measured plan', measuredPlan],
      ['measured GGUF plan', measuredGgufPlan],
    ] as const) {
      if (only && !only.includes(name)) continue;
      const before = results.failed;
      await results.step(name, () => fn(page));
      if (results.failed > before) {
        await screenshot(page, `ui-failure-${name.replace(/\W+/g, '-')}`).catch(() => undefined);
        await logFailureContext(page, runDir).catch(() => undefined);
      }
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
