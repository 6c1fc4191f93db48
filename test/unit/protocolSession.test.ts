/**
 * The host side of the inspector contract, without VS Code: a real model (tiny-random-gpt2-fp32.onnx from the
 * shared corpus), the real ModelDocument and InspectorSession, and a fake webview speaking through the same
 * RpcEndpoint the webview bundle uses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { CancelledError, TARGETS, estimate, getTarget, harmFromSensitivity, solveModel, type SensitivityReport } from '../../src/core';
import { InspectorSession, PROGRESS_INTERVAL_MS, type InspectorHost, type PlanAssignmentInfo } from '../../src/host/inspectorSession';
import { ModelDocument, type SensitivityAnalyzer } from '../../src/host/modelDocument';
import { openModelFile } from '../../src/node/fileByteSource';
import { decodeLayers, decodeSensitivity } from '../../src/protocol/codec';
import {
  AnalysisProgress,
  AnalysisState,
  CancelAnalysis,
  CompareTargets,
  GetEstimate,
  GetFrontier,
  GetMeasured,
  PROTOCOL_VERSION,
  Ready,
  RunAction,
  SensitivityUpdateNotification,
  StartSensitivity,
  type AnalysisProgressParams,
  type AnalysisStateParams,
} from '../../src/protocol/messages';
import { RpcEndpoint, RpcError } from '../../src/protocol/rpc';
import type { SensitivityBatch } from '../../src/protocol/codec';

const MODEL = path.resolve(__dirname, '../fixtures/models/tiny-random-gpt2-fp32.onnx');

interface Harness {
  readonly view: RpcEndpoint;
  readonly session: InspectorSession;
  readonly doc: ModelDocument;
  readonly states: AnalysisStateParams[];
  readonly progress: AnalysisProgressParams[];
  readonly batches: SensitivityBatch[];
  readonly actions: string[];
  readonly logs: string[];
  close(): void;
}

async function open(opts: { analyzer?: SensitivityAnalyzer; now?: () => number; solveFrontier?: InspectorHost['solveFrontier']; plan?: (model: ModelDocument['model']) => PlanAssignmentInfo } = {}): Promise<Harness> {
  const doc = await ModelDocument.open({ fsPath: MODEL } as never, await openModelFile(MODEL), undefined, opts.analyzer);
  const states: AnalysisStateParams[] = [];
  const progress: AnalysisProgressParams[] = [];
  const batches: SensitivityBatch[] = [];
  const actions: string[] = [];
  const logs: string[] = [];
  const peer: { session?: InspectorSession } = {};
  // Messages are structured-cloned and delivered asynchronously, like postMessage.
  const view = new RpcEndpoint((m) => {
    const c = structuredClone(m);
    setImmediate(() => peer.session!.handleMessage(c));
  });
  const host: InspectorHost = {
    model: doc.model,
    settings: () => ({ targetId: 'h100', batch: 1, contextTokens: null, kvFormat: 'fp16', autoSensitivity: false }),
    strings: () => ({ loading: 'Lädt…' }),
    targets: async () => ({ targets: TARGETS, userIds: new Set() }),
    canMeasure: () => false,
    planAssignment: async () => opts.plan?.(doc.model),
    sensitivity: (token, onProgress) => doc.sensitivity(token, onProgress),
    cachedSensitivity: () => doc.cachedSensitivity(),
    runAction: async (action, targetId) => {
      actions.push(`${action}:${targetId}`);
      return { ok: true, message: '' };
    },
    log: (m) => logs.push(m),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.solveFrontier ? { solveFrontier: opts.solveFrontier } : {}),
  };
  const session = new InspectorSession(host, (m) => {
    // Everything the host posts must survive structured clone (no Map, class or bigint).
    const c = structuredClone(m);
    assert.deepEqual(c, m);
    setImmediate(() => view.handleMessage(c));
  });
  peer.session = session;
  view.onNotification(AnalysisState, (p) => states.push(p));
  view.onNotification(AnalysisProgress, (p) => progress.push(p));
  view.onNotification(SensitivityUpdateNotification, (b) => batches.push(b));
  return {
    view,
    session,
    doc,
    states,
    progress,
    batches,
    actions,
    logs,
    close: () => {
      view.dispose();
      session.dispose();
      doc.dispose();
    },
  };
}

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('ready returns the structure of the real model, with strings and targets', async () => {
  const h = await open();
  try {
    const r = await h.view.sendRequest(Ready, { protocolVersion: PROTOCOL_VERSION });
    const rows = decodeLayers(r.layers);
    assert.equal(rows.length, h.doc.model.layers.length);
    assert.ok(rows.length > 0);
    rows.forEach((row, i) => {
      const l = h.doc.model.layers[i]!;
      assert.equal(row.name, l.name);
      assert.equal(row.op, l.op);
      assert.equal(row.role, l.role);
      assert.equal(row.parameterCount, l.parameterCount);
      assert.deepEqual(row.shape, l.shape);
    });
    assert.equal(r.summary.parameterCount, h.doc.model.parameterCount);
    assert.equal(r.summary.layerCount, rows.length);
    assert.equal(r.summary.format, 'onnx');
    assert.equal(r.summary.dtypeMix.reduce((a, d) => a + d.bytes, 0), h.doc.model.tensors.reduce((a, t) => a + t.byteLength, 0));
    assert.equal(r.summary.activeParameterCount, null);
    assert.equal(r.strings.loading, 'Lädt…');
    assert.equal(r.targets.length, TARGETS.length);
    assert.equal(r.canMeasure, false);
  } finally {
    h.close();
  }
});

test('a stale webview protocol version is refused with a clear error', async () => {
  const h = await open();
  try {
    await assert.rejects(h.view.sendRequest(Ready, { protocolVersion: PROTOCOL_VERSION + 1 }), (e: unknown) => e instanceof RpcError && e.code === 'protocol-mismatch');
  } finally {
    h.close();
  }
});

test('estimate matches core estimate() for the same target and settings', async () => {
  const h = await open();
  try {
    for (const id of ['h100', 'rtx-4090', 'cpu']) {
      const dto = await h.view.sendRequest(GetEstimate, { targetId: id });
      const core = estimate(h.doc.model, getTarget(id)!, { batch: 1, kvFormat: 'fp16' });
      assert.equal(dto.targetId, id);
      assert.equal(dto.fits, core.fits);
      assert.equal(dto.memory.totalBytes, core.totalBytes);
      assert.equal(dto.memory.weightBytes, core.weightBytes);
      assert.equal(dto.memory.capacityBytes, core.capacityBytes);
      // The runtime behind the figures travels with them: its id and components (the banner and memory chart show them).
      assert.equal(dto.memory.runtime.id, core.runtime.runtime);
      assert.deepEqual(dto.memory.runtime.components.map((c) => [c.id, c.bytes]), core.runtime.components.map((c) => [c.id, c.bytes]));
      assert.equal(dto.memory.runtime.kvBytesPerToken, core.kvBytesPerToken);
      assert.equal(dto.devicesNeeded, core.devicesNeeded);
      assert.equal(dto.layerBytes.length, h.doc.model.layers.length);
      assert.equal(dto.layerFormats.length, h.doc.model.layers.length);
      assert.equal(dto.bytesByFormat.reduce((a, f) => a + f.bytes, 0), core.perLayer.reduce((a, l) => a + l.bytes, 0));
      assert.equal(dto.assignmentSource, 'stored');
    }
  } finally {
    h.close();
  }
});

test('invalid and hostile params are refused before any work', async () => {
  const h = await open();
  try {
    const bad: [unknown, string][] = [
      [{ targetId: 42 }, 'invalid-params'],
      [{ targetId: '' }, 'invalid-params'],
      [{ targetId: 'x'.repeat(10_000) }, 'invalid-params'],
      [null, 'invalid-params'],
      [{ targetId: '<img src=x onerror=alert(1)>' }, 'unknown-target'],
    ];
    for (const [params, code] of bad) {
      await assert.rejects(h.view.sendRequest(GetEstimate, params as never), (e: unknown) => e instanceof RpcError && e.code === code, JSON.stringify(params)?.slice(0, 40));
    }
    await assert.rejects(h.view.sendRequest(RunAction, { action: 'deleteEverything', targetId: 'h100' } as never), (e: unknown) => e instanceof RpcError && e.code === 'invalid-params');
    await assert.rejects(h.view.sendRequest(CompareTargets, { targetIds: Array.from({ length: 17 }, () => 'h100') }), (e: unknown) => e instanceof RpcError && e.code === 'invalid-params');
    assert.deepEqual(h.actions, []);
    assert.equal(h.logs.filter((l) => /Invalid params/.test(l)).length, 6, h.logs.join('\n'));
  } finally {
    h.close();
  }
});

test('compare de-duplicates targets; actions reach the host with the target', async () => {
  const h = await open();
  try {
    const rows = await h.view.sendRequest(CompareTargets, { targetIds: ['h100', 'rtx-4090', 'h100'] });
    assert.deepEqual(rows.map((r) => r.targetId), ['h100', 'rtx-4090']);
    assert.ok(rows.every((r) => !('layerBytes' in r)));
    const res = await h.view.sendRequest(RunAction, { action: 'generatePlan', targetId: 'rtx-4090' });
    assert.equal(res.ok, true);
    assert.deepEqual(h.actions, ['generatePlan:rtx-4090']);
  } finally {
    h.close();
  }
});

test('sensitivity streams rows for every analysed layer, then the frontier is available', async () => {
  const h = await open();
  try {
    await assert.rejects(h.view.sendRequest(GetFrontier, { targetId: 'h100' }), (e: unknown) => e instanceof RpcError && e.code === 'needs-sensitivity');
    assert.deepEqual(await h.view.sendRequest(StartSensitivity, { method: 'weights' }), { started: true });
    await until(() => h.states.some((s) => s.state === 'done' || s.state === 'error'));
    assert.deepEqual(h.states.map((s) => s.state), ['running', 'done'], JSON.stringify(h.states));
    const report = h.doc.cachedSensitivity()!;
    const decoded = h.batches.map(decodeSensitivity);
    const rows = decoded.flatMap((u) => u.rows);
    assert.equal(rows.length, report.layers.length);
    assert.deepEqual(decoded[0]!.formats.map((f) => f.id), [...report.formats]);
    for (const r of rows) {
      assert.equal(h.doc.model.layers[r.index]!.name !== undefined, true);
      for (const c of r.cells) if (c) assert.ok(c.heat >= 0 && c.heat <= 1 && c.reason.length > 0);
    }
    const f = await h.view.sendRequest(GetFrontier, { targetId: 'h100' });
    assert.ok(f.points.length >= 2);
    for (let i = 1; i < f.points.length; i++) {
      assert.ok(f.points[i]!.memoryBytes > f.points[i - 1]!.memoryBytes, 'bytes increase along the frontier');
      assert.ok(f.points[i]!.harm <= f.points[i - 1]!.harm, 'harm decreases along the frontier');
    }
    assert.ok(f.current !== null);
    // A second start uses the cache and replays the rows.
    const before = h.batches.length;
    assert.deepEqual(await h.view.sendRequest(StartSensitivity, { method: 'weights' }), { started: false });
    await until(() => h.batches.length > before);
  } finally {
    h.close();
  }
});

/** An analyzer that reports progress on a fake clock and runs until cancelled. */
function slowAnalyzer(clock: { t: number }, events = 100): SensitivityAnalyzer {
  return async (_input, options) => {
    for (let i = 0; ; i++) {
      if (options.token?.isCancellationRequested) throw new CancelledError();
      if (i < events) {
        clock.t += 100;
        options.onProgress?.({ bytesDone: i, bytesTotal: events, tensorsDone: i, tensorsTotal: events, message: `tensor ${i}` });
      }
      await new Promise((r) => setTimeout(r, 1));
    }
  };
}

test('progress is throttled to about one per second and cancel stops the run', async () => {
  const clock = { t: 0 };
  const h = await open({ analyzer: slowAnalyzer(clock), now: () => clock.t });
  try {
    await h.view.sendRequest(StartSensitivity, { method: 'weights' });
    await until(() => clock.t >= 100 * 100);
    await new Promise((r) => setTimeout(r, 20));
    // 100 events 100 ms apart = 10 s of fake time → at most 1 + 10000/1000 notifications.
    assert.ok(h.progress.length >= 5 && h.progress.length <= 11, `${h.progress.length} progress notifications`);
    for (let i = 1; i < h.progress.length; i++) assert.ok(h.progress[i]!.done > h.progress[i - 1]!.done);
    h.view.sendNotification(CancelAnalysis, { task: 'sensitivity' });
    await until(() => h.states.some((s) => s.state !== 'running'));
    assert.deepEqual(h.states.map((s) => s.state), ['running', 'cancelled']);
    assert.equal(h.doc.cachedSensitivity(), undefined, 'a cancelled run is not cached');
    assert.ok(PROGRESS_INTERVAL_MS >= 900);
  } finally {
    h.close();
  }
});

test('disposing the editor cancels running work and settles the webview side', async () => {
  const clock = { t: 0 };
  let sawCancel = false;
  const analyzer: SensitivityAnalyzer = async (input, options) => {
    try {
      return await slowAnalyzer(clock, 0)(input, options);
    } catch (e) {
      sawCancel = e instanceof CancelledError;
      throw e;
    }
  };
  const h = await open({ analyzer });
  await h.view.sendRequest(StartSensitivity, { method: 'weights' });
  // A request still in flight when the page goes away settles instead of hanging.
  const pending = h.view.sendRequest(GetEstimate, { targetId: 'h100' });
  h.session.dispose();
  h.doc.dispose();
  h.view.dispose();
  await assert.rejects(pending, (e: unknown) => e instanceof RpcError && e.code === 'disposed');
  await until(() => sawCancel);
  assert.equal(h.doc.isDisposed, true);
});

test('ModelDocument joins concurrent sensitivity requests into one run', async () => {
  let runs = 0;
  const analyzer: SensitivityAnalyzer = async () => {
    runs++;
    await new Promise((r) => setTimeout(r, 10));
    return { model: 'm', formats: ['int8'], layers: [], sampled: undefined, warnings: [], elapsedMs: 1 } as SensitivityReport;
  };
  const doc = await ModelDocument.open({ fsPath: MODEL } as never, await openModelFile(MODEL), undefined, analyzer);
  try {
    const token = { isCancellationRequested: false };
    const [a, b] = await Promise.all([doc.sensitivity(token, () => undefined), doc.sensitivity(token, () => undefined)]);
    assert.equal(a, b);
    assert.equal(runs, 1);
    assert.equal(await doc.sensitivity(token, () => undefined), a);
    assert.equal(runs, 1);
  } finally {
    doc.dispose();
  }
});

test("the frontier chart's solve goes to the host's solveFrontier (the task process) when it has one, with the same chart", async () => {
  const inProcess = await open();
  const calls: number[] = [];
  const delegated = await open({
    solveFrontier: async (p) => {
      calls.push(p.weightBudgetBytes);
      const { report, ...rest } = structuredClone(p); // what crosses the process boundary
      return solveModel(delegatedDoc(), { ...rest, harm: harmFromSensitivity(report) });
    },
  });
  const delegatedDoc = () => delegated.doc.model;
  try {
    for (const h of [inProcess, delegated]) {
      await h.view.sendRequest(StartSensitivity, { method: 'weights' });
      await until(() => h.states.some((s) => s.state === 'done' || s.state === 'error'));
    }
    const a = await inProcess.view.sendRequest(GetFrontier, { targetId: 'h100' });
    const b = await delegated.view.sendRequest(GetFrontier, { targetId: 'h100' });
    assert.equal(calls.length, 1);
    assert.deepEqual(b, a);
  } finally {
    inProcess.close();
    delegated.close();
  }
});

test('measured: the plan file record becomes rows, predicted after static sensitivity, model names never as plain-object keys', async () => {
  const none = await open();
  try {
    assert.equal(await none.view.sendRequest(GetMeasured, {}), null, 'no plan: nothing measured');
  } finally {
    none.close();
  }
  const picked: string[] = [];
  const h = await open({
    plan: (model) => {
      const ls = model.layers.filter((l) => l.quantizable).slice(0, 4).map((l) => l.name);
      picked.splice(0, picked.length, ...ls);
      return {
        assignment: {},
        defaultFormat: undefined,
        fileName: 'tiny.precision.json',
        measurement: {
          runtime: 'llama.cpp (test)',
          text: 'tinyTales.txt <img src=x onerror=alert(1)>',
          measuredAt: '2026-12-03T16:00:00.000Z',
          delivered: 'solver',
          plan: { predictedKl: 0.02, klDivergence: 0.019, klStdErr: 0.001, perplexity: 6.1, referencePerplexity: 6.0, top1Agreement: 0.9 },
          layers: [...ls.map((layer, i) => ({ layer, format: 'int8', measuredKl: 0.001 * (i + 1) })), { layer: '__proto__', format: 'int8', measuredKl: 1 }, { layer: 'not-a-layer', format: 'int8', measuredKl: 1 }],
        },
      };
    },
  });
  try {
    const before = (await h.view.sendRequest(GetMeasured, {}))!;
    assert.equal(before.unit, 'kl');
    assert.equal(before.points.length, picked.length, 'unknown layer names are dropped');
    assert.deepEqual(before.points.map((p) => h.doc.model.layers[p.index]!.name), picked);
    assert.ok(before.points.every((p) => p.predicted === null), 'no static scores yet');
    assert.match(before.source, /tiny\.precision\.json · llama\.cpp \(test\) · tinyTales/);
    assert.deepEqual(before.plan, { predicted: 0.02, predictedFrom: 'layers measured alone, added', measured: 0.019, stdErr: 0.001, perplexity: 6.1, referencePerplexity: 6.0 });
    assert.equal(before.runtime, 'llama.cpp (test)');
    assert.match(before.predictedFrom, /^static score × median measured\/static over 0 layer\(s\)$/);
    await h.view.sendRequest(StartSensitivity, { method: 'weights' });
    await until(() => h.states.some((s) => s.state === 'done' || s.state === 'error'));
    const after = (await h.view.sendRequest(GetMeasured, {}))!;
    const report = h.doc.cachedSensitivity()!;
    const scored = after.points.filter((p) => p.predicted !== null);
    assert.ok(scored.length >= 3, JSON.stringify(after.points));
    // predicted = static score × the median measured/static ratio: the ratio predicted/static is one constant.
    const ratio = scored.map((p) => p.predicted! / report.layers.find((l) => l.layer === h.doc.model.layers[p.index]!.name)!.formats['int8']!.staticScore);
    for (const r of ratio) assert.ok(Math.abs(r / ratio[0]! - 1) < 1e-9, `${ratio}`);
    assert.ok(after.spearman !== null && after.spearman >= -1 && after.spearman <= 1);
  } finally {
    h.close();
  }
});

test('measured (ONNX record): output SQNR in dB, predicted from the record or the static scores, never KL', async () => {
  const picked: string[] = [];
  const h = await open({
    plan: (model) => {
      const ls = model.layers.filter((l) => l.quantizable).slice(0, 3).map((l) => l.name);
      picked.splice(0, picked.length, ...ls);
      return {
        assignment: {},
        defaultFormat: undefined,
        fileName: 'tiny.onnx.precision.json',
        measurement: {
          metric: 'output-sqnr-db',
          runtime: 'ONNX Runtime node 1.30.0 (CPU)',
          text: '4 generated samples; compared output logits',
          measuredAt: '2026-12-03T16:00:00.000Z',
          delivered: 'solver',
          plan: { predictedSqnrDb: 30.5, measuredSqnrDb: 28.25 },
          // The last picked layer has no recorded prediction: it comes from the static scores once they exist.
          layers: [...ls.map((layer, i) => ({ layer, format: 'int8', measuredSqnrDb: 40 + i, ...(i < ls.length - 1 ? { predictedSqnrDb: 41 + i } : {}) })), { layer: '__proto__', format: 'int8', measuredSqnrDb: 1 }],
        },
      };
    },
  });
  try {
    const before = (await h.view.sendRequest(GetMeasured, {}))!;
    assert.equal(before.unit, 'output-sqnr-db');
    assert.equal(before.runtime, 'ONNX Runtime node 1.30.0 (CPU)');
    assert.match(before.source, /^tiny\.onnx\.precision\.json · ONNX Runtime node 1\.30\.0 \(CPU\) · 4 generated samples; compared output logits · 2026-12-03 16:00$/);
    assert.deepEqual(before.plan, { predicted: 30.5, predictedFrom: 'static scores, added', measured: 28.25, stdErr: null, perplexity: null, referencePerplexity: null });
    assert.deepEqual(before.points.map((p) => [h.doc.model.layers[p.index]!.name, p.measured, p.predicted]), picked.map((n, i) => [n, 40 + i, i < picked.length - 1 ? 41 + i : null]));
    assert.doesNotMatch(`${before.predictedFrom} ${before.source}`, /KL/);
    await h.view.sendRequest(StartSensitivity, { method: 'weights' });
    await until(() => h.states.some((s) => s.state === 'done' || s.state === 'error'));
    const after = (await h.view.sendRequest(GetMeasured, {}))!;
    const last = after.points[after.points.length - 1]!;
    const fromStatic = h.doc.cachedSensitivity()!.layers.find((l) => l.layer === picked[picked.length - 1])!.formats['int8']!.predictedOutputSqnrDb;
    assert.equal(last.predicted, fromStatic, 'a layer without a recorded prediction takes the static score\'s');
    assert.equal(after.points[0]!.predicted, 41, 'the recorded prediction wins');
    assert.ok(after.spearman !== null);
  } finally {
    h.close();
  }
});
