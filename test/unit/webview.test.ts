/**
 * Webview rendering code in a DOM shim (happy-dom): model strings stay text, the virtual table keeps the DOM
 * small for 20,000 rows, the row model filters/sorts/groups, the codec round-trips, the page's CSP is strict.
 * The same page runs in real Chromium in test/webview/run.ts.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { Window } from 'happy-dom';
import type { LayerRow, ModelSummary, SensitivityUpdate, TargetEstimate } from '../../src/protocol/messages';
import { decodeLayers, decodeSensitivity, encodeLayers, encodeSensitivity, heatFromSqnrDb } from '../../src/protocol/codec';
import { inspectorCsp, inspectorHtml, makeNonce } from '../../src/host/inspectorHtml';

const XSS = '<img src=x onerror=alert(1)>';
let win: Window;
type Dom = typeof import('../../webview/views/dom');
let dom: Dom;
let tableMod: typeof import('../../webview/views/layerTable');
let rowsMod: typeof import('../../webview/views/layerRows');
let summaryMod: typeof import('../../webview/views/summary');
let stateMod: typeof import('../../webview/state');

before(async () => {
  win = new Window({ url: 'https://inspector.test/', width: 1200, height: 800 });
  const g = globalThis as Record<string, unknown>;
  for (const k of ['document', 'HTMLElement', 'Element', 'Node', 'Event', 'KeyboardEvent', 'MouseEvent', 'getComputedStyle', 'ResizeObserver']) g[k] = (win as unknown as Record<string, unknown>)[k];
  g.window = win;
  g.requestAnimationFrame = (cb: (t: number) => void) => setTimeout(() => cb(Date.now()), 0);
  dom = await import('../../webview/views/dom');
  tableMod = await import('../../webview/views/layerTable');
  rowsMod = await import('../../webview/views/layerRows');
  summaryMod = await import('../../webview/views/summary');
  stateMod = await import('../../webview/state');
});

function layer(index: number, over: Partial<LayerRow> = {}): LayerRow {
  return {
    index,
    name: `model.layers.${Math.floor(index / 30)}.mlp.proj_${index}.weight`,
    op: 'MatMul',
    role: index % 3 === 0 ? 'attention_q' : index % 3 === 1 ? 'ffn_up' : 'norm',
    block: Math.floor(index / 30),
    expert: null,
    shape: [64, 64],
    parameterCount: 4096 + (index % 17),
    byteLength: (4096 + (index % 17)) * 2,
    dtype: 'float16',
    dtypeLabel: 'FP16',
    quantizable: index % 3 !== 2,
    ...over,
  };
}

function layers(n: number): LayerRow[] {
  const out = Array.from({ length: n }, (_, i) => layer(i));
  out[n - 1] = layer(n - 1, { name: XSS, op: XSS, block: null });
  return out;
}

function allImgs(): number {
  return win.document.querySelectorAll('img').length;
}

test('h() sets text only and refuses event handlers, style, src and href attributes', () => {
  const el = dom.h('div', { title: XSS, 'data-name': XSS }, XSS, 42);
  win.document.body.appendChild(el as never);
  assert.equal(el.textContent, `${XSS}42`);
  assert.equal(el.getAttribute('title'), XSS);
  assert.equal(el.children.length, 0);
  assert.equal(allImgs(), 0);
  for (const bad of ['onclick', 'onerror', 'style', 'src', 'href', 'srcdoc', 'formaction', 'data-X']) {
    assert.throws(() => dom.h('div', { [bad]: 'alert(1)' }), /not allowed/, bad);
  }
  el.remove();
});

test('summary renders hostile model strings as text', () => {
  const s: ModelSummary = {
    fileName: XSS,
    format: 'safetensors',
    formatVersion: 1,
    producer: `<script>alert(2)</script>`,
    architecture: `<svg onload=alert(3)>`,
    parameterCount: 1234567,
    activeParameterCount: 234567,
    mtpParameterCount: 1000,
    visionParameterCount: 2000,
    audioParameterCount: 0,
    attention: XSS,
    kvBytesPerToken: 70_272,
    blockAttention: [XSS, 'MLA full'],
    totalFileBytes: 5 * 2 ** 20,
    weightBytes: 5 * 2 ** 20,
    fileCount: 2,
    tensorCount: 3,
    nodeCount: 0,
    layerCount: 3,
    dtypeMix: [{ dtype: XSS, label: XSS, bytes: 100, tensorCount: 1 }],
    hyperparameters: { architecture: 'x', blockCount: 2, expertCount: 8, expertUsedCount: 2 },
    warnings: [XSS],
  };
  const el = summaryMod.renderSummary(s);
  win.document.body.appendChild(el as never);
  assert.equal(el.querySelectorAll('img, script, svg').length, 0);
  assert.ok(el.textContent!.includes(XSS));
  assert.match(el.querySelector('[data-testid="summary-attention"]')!.textContent!, /68\.6 KiB KV per token/);
  assert.match(el.textContent!, /Vision tower \(per image\)/);
  assert.ok(el.textContent!.includes('<script>alert(2)</script>'));
  assert.equal(el.querySelector('[data-testid="summary-parameters"]')!.textContent, '1.23M (1,234,567)');
  assert.ok(el.textContent!.includes('Active per token235k'), 'active parameters for MoE');
  el.remove();
});

test('virtual table: 20,000 rows keep the DOM small; hostile names stay text; heat cells carry reasons', () => {
  const rows = layers(20_000);
  const sorted: string[] = [];
  const toggled: number[] = [];
  const table = new tableMod.LayerTable({ onSort: (k) => sorted.push(k), onToggleGroup: (b) => toggled.push(b) });
  win.document.body.appendChild(table.element as never);
  const update: SensitivityUpdate = {
    formats: [{ id: 'int4', label: 'INT4 (weight-only, g128)' }],
    method: 'weights',
    rows: rows.map((r) => ({ index: r.index, cells: [{ heat: (r.index % 10) / 9, label: `${r.index % 50}`, reason: `outliers ${XSS}` }] })),
  };
  const sensitivity = stateMod.mergeSensitivity(undefined, update, rows.length);
  const model = rowsMod.buildRows(rows, { search: '', role: '', quantizableOnly: false, grouped: false, collapsed: new Set(), sortKey: 'index', sortDescending: false, estimate: undefined, sensitivity });
  table.setData({ layers: rows, rows: model.rows, estimate: undefined, sensitivity, sortKey: 'index', sortDescending: false }, true);
  const domRows = table.element.querySelectorAll('.lt-body .lt-row');
  assert.ok(domRows.length > 0 && domRows.length < 100, `${domRows.length} row elements for 20,000 rows`);
  assert.equal(table.element.getAttribute('aria-rowcount'), String(20_001));
  // Jump to the end: the hostile last row is rendered from the same small pool, as text.
  (table.element as unknown as { scrollTop: number }).scrollTop = 20_000 * tableMod.ROW_HEIGHT_PX;
  table.setActive(19_999);
  const names = [...table.element.querySelectorAll('[data-testid="layer-row"]:not([hidden]) .lt-cell:first-child')].map((c) => c.textContent);
  assert.ok(names.includes(XSS), 'the hostile name is shown literally');
  assert.equal(allImgs(), 0);
  assert.ok(table.element.querySelectorAll('.lt-body .lt-row').length < 100);
  const heat = [...table.element.querySelectorAll('.heat')].filter((c) => !c.closest('[hidden]'));
  assert.ok(heat.length > 0);
  assert.ok(heat.every((c) => /heat-\d/.test(c.className) && c.getAttribute('aria-label')!.includes('outliers')));
  // Tooltips are set on hover (one delegated listener): the hovered cell has one, the cell hovered before loses it.
  const hover = (el: Element) => el.dispatchEvent(new win.MouseEvent('mouseover', { bubbles: true }) as never);
  hover(heat[0]!);
  assert.match(heat[0]!.getAttribute('title') ?? '', /^INT4 .*: \d+ — outliers /);
  const nameCell = heat[1]!.parentElement!.children[0]!;
  hover(nameCell);
  assert.equal(nameCell.getAttribute('title'), nameCell.textContent);
  assert.equal(heat[0]!.getAttribute('title'), null);
  // Rows scrolling under the pointer: the hovered cell's tooltip follows its new content.
  (table.element as unknown as { scrollTop: number }).scrollTop = 10_000 * tableMod.ROW_HEIGHT_PX;
  table.render();
  assert.ok(!nameCell.closest('[hidden]') && nameCell.textContent!.includes('.mlp.'), nameCell.textContent!);
  assert.equal(nameCell.getAttribute('title'), nameCell.textContent);
  // Sorting through the header button.
  (table.element.querySelector('button[data-sort="params"]') as unknown as { click(): void }).click();
  assert.deepEqual(sorted, ['params']);
  table.element.remove();
});

test('virtual table: scrolling updates recycled cells in place (no childList mutations for document-wide observers)', async () => {
  const rows = layers(2_000);
  const table = new tableMod.LayerTable({ onSort: () => undefined, onToggleGroup: () => undefined });
  win.document.body.appendChild(table.element as never);
  const model = rowsMod.buildRows(rows, { search: '', role: '', quantizableOnly: false, grouped: false, collapsed: new Set(), sortKey: 'index', sortDescending: false, estimate: undefined, sensitivity: undefined });
  table.setData({ layers: rows, rows: model.rows, estimate: undefined, sensitivity: undefined, sortKey: 'index', sortDescending: false }, true);
  const scrollTo = (row: number) => {
    (table.element as unknown as { scrollTop: number }).scrollTop = row * tableMod.ROW_HEIGHT_PX;
    table.render();
  };
  for (const r of [100, 300, 500]) scrollTo(r); // every slot of the pool has shown a row
  const nameCells = () => [...table.element.querySelectorAll('[data-testid="layer-row"]:not([hidden]) .lt-cell:first-child')];
  const before = [...table.element.querySelectorAll('.lt-body .lt-row .lt-cell:first-child')].map((c) => [c.firstChild, c.textContent] as const);
  assert.ok(before.length > 5);
  // chart.js watches the whole document for childList changes; a scroll frame must not feed it records.
  const records: unknown[] = [];
  const observer = new win.MutationObserver((rs) => records.push(...rs.filter((r) => r.type === 'childList')));
  observer.observe(win.document as never, { childList: true, subtree: true });
  scrollTo(507);
  await new Promise((r) => setTimeout(r, 0));
  observer.disconnect();
  const after = nameCells();
  assert.ok(after.some((c, i) => c.textContent !== before[i]?.[1]), 'the rows show other layers after the scroll');
  assert.ok(after.every((c) => before.some(([node]) => node === c.firstChild)), 'the same text nodes carry the new names');
  assert.deepEqual(records, []);
  table.element.remove();
});

test('virtual table: refilling rows that show the same thing writes nothing to the cells; only text that may not fit clips', async () => {
  const rows = layers(500).map((l) => (l.index === 3 ? { ...l, dtypeLabel: 'Q4_K (4.5 bits, mixed blocks)' } : l));
  const table = new tableMod.LayerTable({ onSort: () => undefined, onToggleGroup: () => undefined });
  win.document.body.appendChild(table.element as never);
  const update: SensitivityUpdate = {
    formats: [{ id: 'int4', label: 'INT4 (weight-only, g128)' }],
    method: 'weights',
    rows: rows.map((r) => ({ index: r.index, cells: [{ heat: (r.index % 10) / 9, label: `${r.index % 50}`, reason: 'outliers' }] })),
  };
  const sensitivity = stateMod.mergeSensitivity(undefined, update, rows.length);
  const model = rowsMod.buildRows(rows, { search: '', role: '', quantizableOnly: false, grouped: false, collapsed: new Set(), sortKey: 'index', sortDescending: false, estimate: undefined, sensitivity });
  const data = { layers: rows, rows: model.rows, estimate: undefined, sensitivity, sortKey: 'index' as const, sortDescending: false };
  table.setData(data, true);
  const row = (i: number) => table.element.querySelector(`.lt-body .lt-row[aria-rowindex="${i + 2}"]`)!;
  const cell = (i: number, c: number) => row(i).children[c]!;
  // Name, op and shape always clip with an ellipsis; short text in a narrow column does not; long text there does.
  assert.ok(cell(3, 0).classList.contains('clip'));
  assert.equal(cell(2, 4).textContent, 'FP16');
  assert.ok(!cell(2, 4).classList.contains('clip'), cell(2, 4).className);
  assert.ok(cell(3, 4).classList.contains('clip'), cell(3, 4).className);
  assert.ok(!cell(2, 8).classList.contains('clip') && /heat-\d/.test(cell(2, 8).className));
  assert.match(cell(2, 8).getAttribute('aria-label') ?? '', /INT4 .*outliers/);
  // New data version, same content: every row is refilled, and no cell text, class, tooltip or label is written.
  const records: { type: string; attributeName: string | null; target: unknown }[] = [];
  const observer = new win.MutationObserver((rs) => records.push(...rs));
  observer.observe(table.element as never, { subtree: true, characterData: true, attributes: true, childList: true });
  table.setData(data, true);
  await new Promise((r) => setTimeout(r, 0));
  observer.disconnect();
  const inBody = (n: Node): boolean => (n.nodeType === 3 ? n.parentElement : (n as Element))?.closest('.lt-body .lt-cell') != null;
  const onCells = records.filter((r) => inBody(r.target as Node));
  assert.deepEqual(onCells.map((r) => `${r.type} ${r.attributeName ?? ''}`), []);
  table.element.remove();
});

test('keyboard: arrows move the active row, Enter folds a block group', () => {
  const rows = layers(100);
  const toggled: number[] = [];
  const table = new tableMod.LayerTable({ onSort: () => undefined, onToggleGroup: (b) => toggled.push(b) });
  win.document.body.appendChild(table.element as never);
  const model = rowsMod.buildRows(rows, { search: '', role: '', quantizableOnly: false, grouped: true, collapsed: new Set(), sortKey: 'index', sortDescending: false, estimate: undefined, sensitivity: undefined });
  table.setData({ layers: rows, rows: model.rows, estimate: undefined, sensitivity: undefined, sortKey: 'index', sortDescending: false }, true);
  const key = (k: string) => table.element.dispatchEvent(new win.KeyboardEvent('keydown', { key: k, bubbles: true }) as never);
  key('Home');
  key('Enter');
  assert.deepEqual(toggled, [0]);
  key('ArrowDown');
  const active = table.element.querySelector('#lt-active-row');
  assert.equal(active?.getAttribute('data-testid'), 'layer-row');
  assert.equal(table.element.getAttribute('aria-activedescendant'), 'lt-active-row');
  key('End');
  assert.equal(table.element.querySelector('#lt-active-row')?.getAttribute('aria-rowindex'), String(model.rows.length + 1));
  table.element.remove();
});

test('row model: search, role, quantizable filters, sort and block groups', () => {
  const rows = layers(300);
  const base = { search: '', role: '', quantizableOnly: false, grouped: false, collapsed: new Set<number>(), sortKey: 'index' as const, sortDescending: false, estimate: undefined, sensitivity: undefined };
  assert.equal(rowsMod.buildRows(rows, base).matched, 300);
  assert.equal(rowsMod.buildRows(rows, { ...base, role: 'norm' }).matched, rows.filter((r) => r.role === 'norm').length);
  assert.equal(rowsMod.buildRows(rows, { ...base, quantizableOnly: true }).matched, rows.filter((r) => r.quantizable).length);
  assert.equal(rowsMod.buildRows(rows, { ...base, search: 'PROJ_12' }).matched, rows.filter((r) => r.name.includes('proj_12')).length);
  assert.equal(rowsMod.buildRows(rows, { ...base, search: 'onerror' }).matched, 1);
  const byParams = rowsMod.buildRows(rows, { ...base, sortKey: 'params', sortDescending: true }).rows;
  const params = byParams.map((r) => (r.kind === 'layer' ? rows[r.index]!.parameterCount : -1));
  assert.deepEqual(params, [...params].sort((a, b) => b - a));
  const grouped = rowsMod.buildRows(rows, { ...base, grouped: true, collapsed: new Set([0]) });
  const groups = grouped.rows.filter((r) => r.kind === 'group');
  const blocks = new Set(rows.map((r) => r.block ?? rowsMod.NO_BLOCK));
  assert.equal(groups.length, blocks.size);
  assert.equal(groups.at(-1)!.kind === 'group' && groups.at(-1)!.block, rowsMod.NO_BLOCK, 'layers without a block come last');
  const g0 = groups[0]!;
  assert.ok(g0.kind === 'group' && g0.collapsed && g0.layerCount === rows.filter((r) => r.block === 0).length);
  assert.equal(grouped.rows.length, groups.length + rows.length - rows.filter((r) => r.block === 0).length);
  // Sorting by the assigned bytes of an estimate.
  const estimate = { layerBytes: rows.map((r) => 1000 - r.index), layerFormats: rows.map(() => 'int4') } as unknown as TargetEstimate;
  const byBytes = rowsMod.buildRows(rows, { ...base, sortKey: 'bytes', estimate }).rows;
  assert.equal(byBytes[0]!.kind === 'layer' && byBytes[0]!.index, 299);
});

test('codec: layer columns and sensitivity batches round-trip, and are smaller than row objects', () => {
  const rows = layers(2000);
  const cols = encodeLayers(rows);
  assert.deepEqual(decodeLayers(structuredClone(cols)), rows);
  assert.ok(JSON.stringify(cols).length < JSON.stringify(rows).length * 0.6, 'columnar form is at least 40% smaller');
  assert.throws(() => decodeLayers({ ...cols, names: cols.names.slice(1) }), /Inconsistent/);
  const b = encodeSensitivity([{ id: 'int8', label: 'INT8' }, { id: 'int4', label: 'INT4' }], 'weights', [
    { index: 3, facts: [{ outputDb: 45.26, weightDb: 40.11, overflows: 0, reason: 'outliers' }, undefined] },
    { index: 7, facts: [{ outputDb: 120, weightDb: 99, overflows: 2, reason: 'outliers' }, { outputDb: 8, weightDb: 9, overflows: 0, reason: '' }] },
  ]);
  assert.deepEqual(b.reasonTable, ['outliers']);
  const u = decodeSensitivity(structuredClone(b));
  assert.deepEqual(u.rows.map((r) => r.index), [3, 7]);
  assert.equal(u.rows[0]!.cells[1], null);
  assert.equal(u.rows[0]!.cells[0]!.label, '45.3');
  assert.equal(u.rows[1]!.cells[0]!.label, '≥100');
  assert.match(u.rows[1]!.cells[0]!.reason, /2 overflow/);
  assert.equal(u.rows[1]!.cells[1]!.heat, 1);
  assert.equal(heatFromSqnrDb(50), 0);
  assert.equal(heatFromSqnrDb(30), 0.5);
});

test('sensitivity merge keeps earlier batches and grows the format list', () => {
  const a: SensitivityUpdate = { formats: [{ id: 'int8', label: 'INT8' }], method: 'weights', rows: [{ index: 0, cells: [{ heat: 0.1, label: 'a', reason: 'r' }] }] };
  const b: SensitivityUpdate = { formats: [{ id: 'int4', label: 'INT4' }, { id: 'int8', label: 'INT8' }], method: 'weights', rows: [{ index: 1, cells: [{ heat: 0.9, label: 'b', reason: 'r' }, null] }, { index: 99, cells: [null, null] }] };
  const s = stateMod.mergeSensitivity(stateMod.mergeSensitivity(undefined, a, 3), b, 3);
  assert.deepEqual(s.formats.map((f) => f.id), ['int8', 'int4']);
  assert.equal(s.cells[0]![0]!.label, 'a');
  assert.equal(s.cells[1]![1]!.label, 'b');
  assert.equal(s.cells.length, 3, 'out-of-range rows are dropped');
  assert.equal(s.version, 2);
});

test('persisted view state is restored defensively', () => {
  const v = stateMod.restoreView({ sortKey: 'name;alert(1)', collapsed: [1, 'x', 2.5, 3], compareIds: Array(40).fill('h100'), grouped: false, search: 'q' });
  assert.equal(v.sortKey, 'index');
  assert.deepEqual(v.collapsed, [1, 3]);
  assert.equal(v.compareIds.length, 16);
  assert.equal(v.grouped, false);
  assert.equal(v.search, 'q');
  assert.deepEqual(stateMod.restoreView(null), stateMod.DEFAULT_VIEW);
});

test('page HTML: strict CSP with a nonce, no unsafe-inline/eval, escaped attributes', () => {
  const nonce = makeNonce();
  assert.notEqual(nonce, makeNonce());
  const html = inspectorHtml({ cspSource: 'https://x.vscode-cdn.net', nonce, scriptUri: 'https://x/dist/webview.js?a="b"', styleUris: ['https://x/media/inspector.css'], title: `Model Inspector: ${XSS}` });
  const csp = inspectorCsp('https://x.vscode-cdn.net', nonce);
  assert.ok(html.includes(csp.replace(/'/g, '&#39;')));
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, new RegExp(`script-src 'nonce-${nonce.replace(/[+/=]/g, '\\$&')}'`));
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal((html.match(/<script /g) ?? []).length, (html.match(new RegExp(`nonce="${nonce.replace(/[+/=]/g, '\\$&')}"`, 'g')) ?? []).length);
  assert.ok(!html.includes(XSS) && html.includes('&lt;img src=x onerror=alert(1)&gt;'));
  assert.ok(html.includes('&quot;b&quot;'));
  assert.throws(() => inspectorHtml({ cspSource: 'x', nonce: "a' 'unsafe-inline", scriptUri: '', styleUris: [], title: '' }), /nonce/);
});

test('webview sources never build HTML from strings', () => {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const f of readdirSync(dir)) {
      const p = path.join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) files.push(p);
    }
  };
  walk(path.resolve(__dirname, '../../webview'));
  assert.ok(files.length >= 8);
  for (const f of files) {
    const code = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    assert.doesNotMatch(code, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\(\s*['"]on/, f);
  }
});

test('the banner speed is model-kind aware and never a guessed rate (shared formatter)', () => {
  const { speedText } = summaryMod;
  assert.equal(speedText({ generative: true, decodeTokensPerSecond: 4071848.2, inferenceSeconds: 1e-4, unpublishedRates: [] }), '4.07M tok/s decode');
  assert.equal(speedText({ generative: false, decodeTokensPerSecond: 42.6e6, inferenceSeconds: 23.5e-9, unpublishedRates: [] }), '≥ 23.5 ns per inference (roofline bound)');
  assert.equal(speedText({ generative: false, decodeTokensPerSecond: 133e6, inferenceSeconds: null, unpublishedRates: ['fp32'] }), 'speed not published (fp32 rate)');
  assert.equal(speedText({ generative: true, decodeTokensPerSecond: 24_200, inferenceSeconds: null, unpublishedRates: ['fp16'] }), '≤ 24.2k tok/s decode');
  assert.equal(dom.formatDb(Infinity), '∞ dB');
});

test('the banner runtime line shows KV per token only for a model with a KV cache', () => {
  const { runtimeText } = summaryMod;
  const memory = (kvBytesPerToken: number, cacheKind: string | null) => ({ weightBytes: 0, kvCacheBytes: 0, activationBytes: 0, overheadBytes: 0, totalBytes: 0, capacityBytes: 1, runtime: { id: 'ort', measured: true, attention: '', cacheKind, kvBytesPerToken, components: [] } });
  assert.equal(runtimeText({ generative: false, memory: memory(0, null) }), 'ort');
  assert.doesNotMatch(runtimeText({ generative: false, memory: memory(0, null) }), /KV/);
  assert.equal(runtimeText({ generative: true, memory: memory(256, 'GQA full') }), 'ort · GQA full · KV 256 B/token');
});

test('measured column and the predicted-vs-measured panel: values from the plan record, model strings as text', async () => {
  const rows = layers(50);
  const table = new tableMod.LayerTable({ onSort: () => undefined, onToggleGroup: () => undefined });
  win.document.body.appendChild(table.element as never);
  const model = rowsMod.buildRows(rows, { search: '', role: '', quantizableOnly: false, grouped: false, collapsed: new Set(), sortKey: 'index', sortDescending: false, estimate: undefined, sensitivity: undefined });
  const labels = await import('../../webview/views/measuredLabels');
  const measured = new Map([[0, { index: 0, format: 'q4_k', predicted: 0.0123, measured: 0.0456 }], [2, { index: 2, format: 'q8_0', predicted: null, measured: 0.00078 }]]);
  const klRecord = { unit: 'kl', source: 'p.precision.json · llama.cpp (test) · tinyTales.txt · 2026-12-03 16:00', runtime: 'llama.cpp (test)', predictedFrom: 'static score × median measured/static over 1 layer(s)', points: [...measured.values()], plan: null, spearman: null } as const;
  const tableData = { layers: rows, rows: model.rows, estimate: undefined, sensitivity: undefined, sortKey: 'index' as const, sortDescending: false };
  table.setData({ ...tableData }, true);
  const headers = () => [...table.element.querySelectorAll('[role="columnheader"]')].map((c) => c.textContent);
  assert.ok(headers().includes('Measured') && !headers().some((x) => /KL|SQNR/.test(x ?? '')), 'nothing measured: the column names no metric');
  table.setData({ ...tableData, measured, measuredColumn: labels.measuredColumn(klRecord) }, true);
  const header = headers();
  assert.ok(header.includes('Measured KL'), header.join('|'));
  const col = header.indexOf('Measured KL');
  assert.match(table.element.querySelector('[data-testid="measured-header"]')!.getAttribute('title')!, /KL divergence .*plan file record: p\.precision\.json · llama\.cpp \(test\) · tinyTales\.txt/);
  const cellOf = (i: number) => [...table.element.querySelectorAll('[data-testid="layer-row"]:not([hidden])')].find((r) => r.getAttribute('aria-rowindex') === String(i + 2))!.querySelectorAll('.lt-cell')[col]!;
  assert.equal(cellOf(0).textContent, '0.0456');
  assert.match(cellOf(0).getAttribute('title')!, /Q4 K: Measured KL \(llama\.cpp \(test\)\) 0\.0456 · Predicted KL \(static score × median measured\/static over 1 layer\(s\)\) 0\.0123/);
  assert.equal(cellOf(1).textContent, '', 'a layer without a measurement is blank');
  assert.equal(cellOf(2).textContent, '0.000780');
  // ONNX: output SQNR in dB, never labelled KL.
  const sqnrPoints = new Map([[0, { index: 0, format: 'int4', predicted: 30.04, measured: 27.96 }], [1, { index: 1, format: 'int8', predicted: 51.2, measured: 49.5 }]]);
  const sqnrRecord = { unit: 'output-sqnr-db', source: 'm.onnx.precision.json · ONNX Runtime node 1.30.0 (CPU) · 4 generated samples; compared output y · 2026-12-03 16:00', runtime: 'ONNX Runtime node 1.30.0 (CPU)', predictedFrom: 'static score (additive output noise-to-signal ratio)', points: [...sqnrPoints.values()], plan: null, spearman: null } as const;
  table.setData({ ...tableData, measured: sqnrPoints, measuredColumn: labels.measuredColumn(sqnrRecord) }, true);
  const sqnrHeader = headers();
  assert.ok(sqnrHeader.includes('Measured SQNR') && !sqnrHeader.some((x) => /KL/.test(x ?? '')), sqnrHeader.join('|'));
  const sqnrCol = sqnrHeader.indexOf('Measured SQNR');
  const sqnrCell = (i: number) => [...table.element.querySelectorAll('[data-testid="layer-row"]:not([hidden])')].find((r) => r.getAttribute('aria-rowindex') === String(i + 2))!.querySelectorAll('.lt-cell')[sqnrCol]!;
  assert.equal(sqnrCell(0).textContent, '28.0 dB');
  assert.equal(sqnrCell(1).textContent, '49.5 dB');
  assert.match(sqnrCell(0).getAttribute('title')!, /^INT4: Measured output SQNR \(dB\) \(ONNX Runtime node 1\.30\.0 \(CPU\)\) 28\.0 dB · Predicted output SQNR \(dB\) \(static score \(additive output noise-to-signal ratio\)\) 30\.0 dB$/);
  assert.doesNotMatch(sqnrCell(0).getAttribute('title')! + table.element.querySelector('[data-testid="measured-header"]')!.getAttribute('title')!, /KL/);
  table.element.remove();

  // The chart panel: without static scores it says so and still lists the source (hostile text stays text).
  const chartsMod = await import('../../webview/views/charts');
  const charts = new chartsMod.Charts(() => undefined);
  win.document.body.appendChild(charts.element as never);
  const base = { estimate: undefined, sensitivity: undefined, sensitivityFormat: undefined, frontier: undefined, frontierError: undefined, comparison: undefined, layerCount: rows.length, layerNames: rows };
  charts.update({ ...base, measured: null });
  const panel = () => charts.element.querySelector('[data-testid="chart-measured"]')!;
  assert.match(panel().querySelector('.chart-empty')!.textContent!, /Nothing measured yet/);
  charts.update({ ...base, measured: { unit: 'kl', source: `p.precision.json · llama.cpp · ${XSS}`, runtime: 'llama.cpp', predictedFrom: 'static score × median measured/static over 0 layer(s)', points: [{ index: 2, format: 'q8_0', predicted: null, measured: 0.00078 }], plan: { predicted: 0.02, predictedFrom: 'layers measured alone, added', measured: 0.019, stdErr: 0.001, perplexity: 6.1, referencePerplexity: 6 }, spearman: null } });
  assert.match(panel().querySelector('.chart-empty')!.textContent!, /needs the static sensitivity/);
  const notes = [...panel().querySelectorAll('.chart-note')].map((n) => n.textContent);
  assert.ok(notes[0]!.endsWith(XSS), 'the source is shown literally');
  assert.equal(notes[1], 'Predicted: static score × median measured/static over 0 layer(s)');
  assert.match(notes[2]!, /predicted KL 0\.0200 \(layers measured alone, added\) · measured 0\.0190 ± 0\.0010 · perplexity 6\.100 \(original 6\.000\)/);
  assert.equal(panel().querySelector('h3')!.textContent, 'Predicted vs measured KL, per layer alone');
  assert.equal(allImgs(), 0);
  // ONNX: the panel names output SQNR (dB), the whole plan's figures in dB, and counts the points drawn.
  charts.update({ ...base, measured: { ...sqnrRecord, plan: { predicted: 24.1, predictedFrom: 'static scores, added', measured: 22.75, stdErr: null, perplexity: null, referencePerplexity: null }, spearman: null } });
  assert.equal(panel().querySelector('h3')!.textContent, 'Predicted vs measured output SQNR (dB), per layer alone');
  assert.equal(panel().getAttribute('data-unit'), 'output-sqnr-db');
  assert.equal(panel().getAttribute('data-points'), '2');
  const sqnrNotes = [...panel().querySelectorAll('.chart-note')].map((n) => n.textContent).join('\n');
  assert.match(sqnrNotes, /^Measured: m\.onnx\.precision\.json · ONNX Runtime node 1\.30\.0 \(CPU\) · 4 generated samples/);
  assert.match(sqnrNotes, /Whole plan: predicted output SQNR 24\.1 dB \(static scores, added\) · measured 22\.8 dB/);
  assert.doesNotMatch(sqnrNotes + panel().querySelector('h3')!.textContent, /KL|perplexity/);
  // Only the whole plan measured (editor's Verify with ONNX Runtime): the panel says how to measure layers.
  charts.update({ ...base, measured: { ...sqnrRecord, points: [], plan: { predicted: 24.1, predictedFrom: 'static scores, added', measured: 22.75, stdErr: null, perplexity: null, referencePerplexity: null } } });
  assert.match(panel().querySelector('.chart-empty')!.textContent!, /No layer was measured alone/);
  assert.equal(panel().getAttribute('data-points'), '0');
  charts.element.remove();
});
