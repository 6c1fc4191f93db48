/**
 * The extension host's task process (src/worker/hostTasks.ts via src/node/taskClient.ts): real Apply Plan,
 * Measure Sensitivity and plan verification on mnist-12 in a forked child, progress, cancellation (cooperative
 * and by kill), a dying child and dispose. No VS Code: the client is plain Node, as the host uses it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CancelledError, assignmentWeightBytes, buildPlan, getTarget, harmFromSensitivity, planAssignment, planForTarget, solveModel, uniformBaseline, type Model } from '../../src/core';
import { RpcError } from '../../src/protocol/rpc';
import { applyPlanToOnnx } from '../../src/node/applyOnnx';
import { openModelFile } from '../../src/node/fileByteSource';
import { progressThrottle, type TaskProgress } from '../../src/node/hostTaskProtocol';
import { measureSensitivity } from '../../src/node/measure';
import { createSession, releaseSession } from '../../src/node/ortRunner';
import { analyzeModelSensitivity } from '../../src/node/sensitivityRunner';
import { TaskClient, TaskProcessExitError, type TaskToken } from '../../src/node/taskClient';
import { loadModel } from './helpers/run';
import { SHARED_MODELS } from './sharedModels';

const ONNX = path.join(SHARED_MODELS, 'onnx');
const MNIST = path.join(ONNX, 'mnist-12.onnx');
const GPT2 = path.join(ONNX, 'tiny-random-gpt2-fp32.onnx');
const H100 = getTarget('h100')!;

const load = loadModel;

/** A cancellation source shaped like VS Code's (event + flag). */
function tokenSource(): { token: TaskToken; cancel(): void } {
  const listeners: (() => unknown)[] = [];
  let fired = false;
  return {
    token: {
      get isCancellationRequested() {
        return fired;
      },
      onCancellationRequested: (l) => {
        listeners.push(l);
        return { dispose: () => void listeners.splice(listeners.indexOf(l), 1) };
      },
    },
    cancel() {
      fired = true;
      for (const l of [...listeners]) l();
    },
  };
}

/** Waits until every task process of `client` has exited (a leaked process fails the test). */
async function noProcessesLeft(client: TaskClient): Promise<void> {
  for (let i = 0; i < 100 && client.pids.length; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(client.pids, [], 'every task process exited');
}

/** mnist-12 planned for the H100 at 5 bits per weight with core's solver, as the host's Generate Plan does. */
async function mnistPlan(): Promise<{ model: Model; assignment: Record<string, string>; report: Awaited<ReturnType<typeof analyzeModelSensitivity>>; weightBudgetBytes: number; solver: Record<string, string> }> {
  const model = await load(MNIST);
  const opened = await openModelFile(MNIST);
  const formats = ['fp16', 'int8', 'int4_g32', 'int4'];
  const report = await analyzeModelSensitivity({ model, source: opened.source, siblings: opened.siblings }, { formats, workers: 0 }).finally(() => opened.close());
  const r = planForTarget(model, { target: H100, budget: { avgBits: 5 }, harm: harmFromSensitivity(report), formats });
  assert.notEqual(r.status, 'infeasible');
  const plan = buildPlan({ model, fingerprint: 'test', target: 'h100', budget: { avgBits: 5 }, context: r.estimate.context, batch: 1, kvFormat: 'fp16', assignment: r.assignment });
  return { model, assignment: planAssignment(plan, model), report, weightBudgetBytes: r.budget.weightBudgetBytes, solver: r.assignment };
}

test('progressThrottle: at most one report per interval, the first at once, flush sends the latest dropped one', () => {
  let now = 0;
  const seen: number[] = [];
  const t = progressThrottle<number>((p) => seen.push(p), 1000, () => now);
  for (let i = 0; i < 50; i++) {
    t.report(i);
    now += 100; // 10 reports per second for 5 s
  }
  assert.deepEqual(seen, [0, 10, 20, 30, 40]);
  t.flush();
  assert.deepEqual(seen, [0, 10, 20, 30, 40, 49]);
  t.flush();
  assert.equal(seen.length, 6, 'nothing pending after a flush');
});

test('applyPlan in the task process writes the same ONNX file as in-process apply, reports progress, leaves no staging folder', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-hosttasks-'));
  const client = new TaskClient();
  try {
    const { model, assignment } = await mnistPlan();
    assert.ok(Object.values(assignment).some((f) => f.startsWith('int4')), `the plan lowers some layer: ${JSON.stringify(assignment)}`);
    const progress: TaskProgress[] = [];
    const out = path.join(dir, 'mnist-12.h100.onnx');
    const r = await client.applyPlan({ modelPath: MNIST, assignment, outputPath: out }, { onProgress: (p) => progress.push(p) });
    assert.equal(r.outputPath, out);
    assert.ok(progress.length >= 1 && progress.every((p) => p.total === 3 && p.done < 3), JSON.stringify(progress));
    assert.ok(r.layers.some((l) => l.storage === 'int4'), JSON.stringify(r.layers.map((l) => l.storage)));
    assert.equal(r.fileBytes, (await fs.stat(out)).size);
    assert.deepEqual(await fs.readdir(dir), ['mnist-12.h100.onnx'], 'only the model: the staging folder is gone');
    // Same bytes as applying on this thread.
    const direct = path.join(dir, 'direct.onnx');
    await applyPlanToOnnx(MNIST, model, assignment, direct);
    assert.ok(Buffer.compare(await fs.readFile(out), await fs.readFile(direct)) === 0, 'identical to in-process apply');
    // ONNX Runtime loads and runs it.
    const s = await createSession(out);
    await releaseSession(s);
    await noProcessesLeft(client);
  } finally {
    client.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('applyPlan cancelled while running: CancelledError, no output file, no staging folder, process ended', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-hosttasks-'));
  const client = new TaskClient();
  try {
    const { assignment } = await mnistPlan();
    const source = tokenSource();
    const p = client.applyPlan({ modelPath: MNIST, assignment, outputPath: path.join(dir, 'out.onnx') }, { token: source.token });
    // Cancel once the process exists: the cancel then reaches the task itself (request and cancel queue in order).
    while (client.pids.length === 0) await new Promise((r) => setImmediate(r));
    source.cancel();
    await assert.rejects(p, CancelledError);
    assert.deepEqual(await fs.readdir(dir), []);
    await noProcessesLeft(client);
  } finally {
    client.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('applyPlan refuses to replace its input model, also through a symlink, and leaves it unchanged', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-hosttasks-'));
  const client = new TaskClient();
  try {
    const input = path.join(dir, 'mnist-12.onnx');
    await fs.copyFile(MNIST, input);
    await fs.symlink(input, path.join(dir, 'link.onnx'));
    const { assignment } = await mnistPlan();
    for (const out of [input, path.join(dir, 'link.onnx')]) {
      await assert.rejects(client.applyPlan({ modelPath: input, assignment, outputPath: out }), /refusing to overwrite the input model/);
    }
    assert.ok(Buffer.compare(await fs.readFile(input), await fs.readFile(MNIST)) === 0, 'input unchanged');
    assert.deepEqual((await fs.readdir(dir)).sort(), ['link.onnx', 'mnist-12.onnx']);
  } finally {
    client.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('measureSensitivity in the task process equals the in-process measurement on mnist-12', async () => {
  const client = new TaskClient();
  try {
    const viaTask = await client.measureSensitivity({ modelPath: MNIST, samples: 4, cacheDir: false, formats: ['fp16', 'int8', 'int4'] });
    const direct = await measureSensitivity(MNIST, { samples: 4, cacheDir: false, formats: ['fp16', 'int8', 'int4'], workers: 0 });
    const db = (r: typeof direct): (number | undefined)[] => r.layers.flatMap((l) => Object.values(l.formats).map((f) => f.measuredOutputSqnrDb));
    assert.equal(viaTask.layers.length, 6);
    assert.ok(db(viaTask).filter((v) => v !== undefined).length >= 12, JSON.stringify(db(viaTask)));
    assert.deepEqual(db(viaTask), db(direct));
    await noProcessesLeft(client);
  } finally {
    client.dispose();
  }
});

test('measureSensitivity cancelled through a VS Code-style token after its first progress report', async () => {
  const client = new TaskClient();
  try {
    const source = tokenSource();
    const progress: TaskProgress[] = [];
    const started = performance.now();
    const p = client.measureSensitivity({ modelPath: GPT2, samples: 16, cacheDir: false }, {
      token: source.token,
      onProgress: (x) => {
        progress.push(x);
        source.cancel();
      },
    });
    await assert.rejects(p, CancelledError);
    assert.ok(progress.length >= 1, 'progress arrived before the cancel');
    assert.ok(progress.every((x) => x.done < x.total), `cancelled mid-way: ${JSON.stringify(progress)}`);
    await noProcessesLeft(client);
    console.log(`# cancelled after ${(performance.now() - started).toFixed(0)} ms, ${progress.length} progress report(s)`);
  } finally {
    client.dispose();
  }
});

test('a task whose process dies rejects with TaskProcessExitError naming the signal; the next task starts a fresh process', async () => {
  const client = new TaskClient();
  try {
    const p = client.measureSensitivity({ modelPath: GPT2, samples: 16, cacheDir: false });
    const [pid] = client.pids;
    assert.ok(pid !== undefined);
    process.kill(pid, 'SIGKILL');
    await assert.rejects(p, (e: unknown) => e instanceof TaskProcessExitError && e.signal === 'SIGKILL' && /signal SIGKILL/.test(e.message));
    await noProcessesLeft(client);
    const r = await client.measureSensitivity({ modelPath: MNIST, samples: 4, cacheDir: false, formats: ['int8'] });
    assert.equal(r.layers.length, 6);
  } finally {
    client.dispose();
  }
});

test('a cancelled task that does not stop within the grace period is killed; dispose rejects pending tasks and ends their processes', async () => {
  const client = new TaskClient({ cancelGraceMs: 0 });
  const token = { isCancellationRequested: false }; // polled: no event, like a deadline-based token
  const p = client.measureSensitivity({ modelPath: GPT2, samples: 16, cacheDir: false }, { token });
  token.isCancellationRequested = true;
  await assert.rejects(p, CancelledError);
  await noProcessesLeft(client);

  const pending = [client.measureSensitivity({ modelPath: GPT2, samples: 16, cacheDir: false }), client.measureSensitivity({ modelPath: GPT2, samples: 16, cacheDir: false })];
  assert.equal(client.pids.length, 2);
  client.dispose();
  const settled = await Promise.allSettled(pending);
  for (const q of settled) assert.ok(q.status === 'rejected' && q.reason instanceof RpcError && q.reason.code === 'disposed', String(q.status === 'rejected' ? q.reason : q.status));
  await noProcessesLeft(client);
  await assert.rejects(client.measureSensitivity({ modelPath: MNIST }), (e: unknown) => e instanceof RpcError && e.code === 'disposed');
});

test('a task error becomes a rejection with the task\'s message (apply refuses a GGUF model)', async () => {
  const client = new TaskClient();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-hosttasks-'));
  try {
    const gguf = path.join(SHARED_MODELS, 'gguf/stories260K.gguf');
    await assert.rejects(client.applyPlan({ modelPath: gguf, assignment: {}, outputPath: path.join(dir, 'x.onnx') }), /apply writes ONNX models only; this model is gguf\./);
    assert.deepEqual(await fs.readdir(dir), []);
    await noProcessesLeft(client);
  } finally {
    client.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('verifyPlan in the task process measures the solver\'s plan and candidates on mnist-12', async () => {
  const client = new TaskClient();
  try {
    const { report, weightBudgetBytes, solver, model } = await mnistPlan();
    const progress: TaskProgress[] = [];
    const r = await client.verifyPlan(
      { modelPath: MNIST, report, weightBudgetBytes, formats: ['fp16', 'int8', 'int4_g32', 'int4'], native: H100.native, allowEmulated: false, pinned: {}, solverAssignment: solver, maxCandidates: 6 },
      { onProgress: (p) => progress.push(p) },
    );
    assert.deepEqual(r.solver.assignment, solver);
    assert.ok(r.solver.measuredSqnrDb !== undefined && Number.isFinite(r.solver.measuredSqnrDb), String(r.solver.measuredSqnrDb));
    assert.ok(r.candidates.length >= 2 && r.candidates.length <= 6, String(r.candidates.length));
    assert.ok((r.best.measuredSqnrDb ?? -Infinity) >= r.solver.measuredSqnrDb, 'the best measures at least as well as the solver');
    assert.ok(r.best.weightBytes <= weightBudgetBytes);
    assert.equal(model.layers.length, 6);
    // The plan file's record of it (Verify with ONNX Runtime writes it): output SQNR in dB, never KL.
    assert.ok(r.measurement && r.measurement.metric === 'output-sqnr-db', JSON.stringify(r.measurement));
    assert.equal(r.measurement.plan?.measuredSqnrDb, r.best.measuredSqnrDb);
    assert.equal(r.measurement.plan?.predictor, 'static');
    assert.equal(r.measurement.delivered, r.best.id);
    assert.match(r.measurement.runtime, /^onnxruntime-node \d+\.\d+\.\d+ \(CPU\)$/);
    assert.ok(progress.length >= 1);
    await noProcessesLeft(client);
  } finally {
    client.dispose();
  }
});

test('GGUF in the task process: measure per-layer KL and verify a plan in llama.cpp, with the plan file record', { timeout: 300_000 }, async () => {
  const STORIES = path.join(SHARED_MODELS, 'gguf/stories260K.gguf');
  const client = new TaskClient();
  try {
    const progress: TaskProgress[] = [];
    const measured = await client.measureGgufSensitivity({ modelPath: STORIES, formats: ['q8_0'], layerBudget: 3, cacheDir: false, contextSize: 64 }, { onProgress: (p) => progress.push(p) });
    const kl = measured.layers.flatMap((l) => Object.values(l.formats).map((f) => f.klDivergence).filter((v): v is number => v !== undefined));
    assert.equal(kl.length, 3, 'three sampled layers measured in q8_0');
    for (const v of kl) assert.ok(v > 0 && v < 0.1, `q8_0 KL ${v}`);
    assert.match(measured.measured!.inputs, /context 64;/);
    assert.ok(progress.length > 0);

    const model = await load(STORIES);
    const formats = ['fp16', 'q8_0', 'q6_k', 'q5_k', 'q4_k', 'q5_0', 'q5_1', 'q4_0'];
    const report = await analyzeModelSensitivity(STORIES, { formats, workers: 0 });
    const budget = assignmentWeightBytes(model, uniformBaseline(model, 'q6_k')!.assignment);
    const solver = solveModel(model, { formats, harm: harmFromSensitivity(report), weightBudgetBytes: budget }).assignment;
    const r = await client.verifyGgufPlan({ modelPath: STORIES, report, weightBudgetBytes: budget, formats, native: [], allowEmulated: true, pinned: {}, solverAssignment: solver, maxCandidates: 6 });
    assert.ok(r.best.klDivergence !== undefined && r.best.klDivergence >= 0);
    assert.ok(r.best.weightBytes <= budget);
    assert.equal(r.storage, 'ggml', 'fallback-aware plans are real ggml files');
    assert.match(r.measurement.runtime, /llama\.cpp/);
    assert.equal(r.measurement.plan.klDivergence, r.best.klDivergence);
    assert.ok(r.candidates.length >= 2 && r.candidates.some((c) => c.id === 'q4_k_m'), r.candidates.map((c) => c.id).join(','));
    await noProcessesLeft(client);
  } finally {
    client.dispose();
  }
});
