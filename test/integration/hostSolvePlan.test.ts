/**
 * The editor's Generate / Re-solve Plan solves in the task process (src/node/taskClient.ts `solvePlan`), never on the
 * extension host's main thread: the task writes the same plan text as the CLI and as core's workflow in-process, for
 * the solver's assignment and for a verified one, and planCommands.ts calls no solver itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../src/cli/main';
import { getTarget, harmFromSensitivity, replacePlanAssignment, seededRandom, serializePlan, solveModel, solvePlan } from '../../src/core';
import { editorPlanInput, requestFormats, type PlanRequest } from '../../src/host/editorPlan';
import { loadModel } from '../../src/host/modelCache';
import { analyzeModelSensitivity } from '../../src/node/sensitivityRunner';
import { TaskClient } from '../../src/node/taskClient';
import { llamaGguf } from '../fixtures/buildGguf';

async function writeModel(dir: string): Promise<string> {
  const built = llamaGguf({ blocks: 2, embd: 64, ffn: 128, vocab: 64 });
  const bytes = built.bytes.slice();
  const random = seededRandom(7);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let o = built.dataOffset; o + 4 <= bytes.length; o += 4) view.setFloat32(o, (random() + random() + random() - 1.5) * 0.05 * (o % 4096 === 0 ? 40 : 1), true);
  const file = path.join(dir, 'tiny-llama.gguf');
  await fs.writeFile(file, bytes);
  return file;
}

test('the task process solves the editor plan: same text as the CLI and as core in-process, also for a verified assignment', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-host-solve-'));
  const client = new TaskClient();
  try {
    const modelPath = await writeModel(dir);
    const loaded = await loadModel(modelPath);
    const request: PlanRequest = { target: getTarget('h100')!, budget: { avgBits: 6 }, batch: 1, kvFormat: 'fp16', allowEmulated: false, previous: [] };
    const formats = requestFormats(loaded.model, request);
    const report = await analyzeModelSensitivity(modelPath, { formats, workers: 0 });
    const full = editorPlanInput(loaded, request, report, formats);
    const { harm: _harm, ...input } = full;
    const seen: number[] = [];
    const r = await client.solvePlan({ modelPath, input, report }, { onProgress: (p) => seen.push(p.done) });
    const local = solvePlan(loaded.model, full);
    assert.ok(r.text && local.plan);
    assert.equal(r.text, serializePlan(local.plan));
    assert.deepEqual(r.assignment, local.assignment);
    assert.equal(r.weightBudgetBytes, local.budget.weightBudgetBytes);
    const cli = await runCli(['plan', modelPath, '--target', 'h100', '--avg-bits', '6', '--formats', formats.join(','), '--no-verify', '--json'], { out: () => undefined, err: () => undefined });
    assert.equal(cli, 0);
    assert.equal(await fs.readFile(`${modelPath}.precision.json`, 'utf8'), r.text);
    // A verified candidate: the solver's plan with its first layer in another format.
    const [first, firstFormat] = Object.entries(local.assignment)[0]!;
    const other = { ...local.assignment, [first]: firstFormat === 'q8_0' ? 'q6_k' : 'q8_0' };
    const again = await client.solvePlan({ modelPath, input, report, assignment: other });
    assert.equal(again.text, serializePlan(replacePlanAssignment(loaded.model, full, local, other).plan!));
    assert.notEqual(again.text, r.text);
    // A llama.cpp-verified candidate: the task process writes the plan with its measurement record.
    const measurement = { runtime: 'llama.cpp (test)', text: 'test text', measuredAt: '2026-12-03T00:00:00.000Z', delivered: 'solver', plan: { klDivergence: 0.02, klStdErr: 0.001, perplexity: 5.5, referencePerplexity: 5.4, top1Agreement: 0.9 } };
    const measured = await client.solvePlan({ modelPath, input, report, assignment: other, measurement });
    assert.equal(measured.text, serializePlan({ ...replacePlanAssignment(loaded.model, full, local, other).plan!, measurement }));
    // The inspector's frontier chart, solved in the task process: what core's solver gives in-process.
    const fp = { report, weightBudgetBytes: r.weightBudgetBytes, formats, native: request.target.native, frontierPoints: 120 };
    const remote = await client.planFrontier({ modelPath, ...fp });
    const near = solveModel(loaded.model, { ...fp, harm: harmFromSensitivity(report) });
    assert.deepEqual(remote, { frontier: near.frontier, weightBytes: near.weightBytes, harm: near.harm, weightBudgetBytes: near.weightBudgetBytes });
    assert.ok(remote.frontier.length >= 2);
  } finally {
    client.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('planCommands.ts (the extension host) calls no solver: the plan workflow runs in the task process', async () => {
  const src = await fs.readFile(path.resolve(__dirname, '../../src/host/planCommands.ts'), 'utf8');
  for (const name of ['solvePlan(', 'replacePlanAssignment(', 'solveModel(', 'planForTarget(', 'serializePlan(']) {
    assert.ok(!src.includes(name) || src.includes(`tasks.${name}`), `planCommands.ts calls ${name} on the extension host's thread`);
  }
  assert.match(src, /services\.tasks\.solvePlan\(/);
  // The inspector solves in-process only without a task client (tests, virtual files); the extension passes one.
  const ext = await fs.readFile(path.resolve(__dirname, '../../src/host/extension.ts'), 'utf8');
  assert.match(ext, /tasks: services\.tasks/);
});
