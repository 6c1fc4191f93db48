/**
 * ONNX plans record what onnxruntime-node measured (issue 10, item 5): `plan --measure` / `--verify` on a real model
 * (mnist-12 from ../shared/models) writes a `measurement` record in output SQNR (dB, never KL), and every figure in it
 * is checked against running the model again: the whole plan applied and run, each layer alone measured again. The
 * plan's lenses then show predicted beside measured from the file alone.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TARGETS } from '../../src/core/estimate/hardware/catalog';
import { analyzePlan } from '../../src/core/editor/planLenses';
import { parsePlan, type PlanSqnrMeasurement, type PrecisionPlan } from '../../src/core/plan/planFile';
import { loadModel } from '../../src/host/modelCache';
import { measureSensitivity } from '../../src/node/measure';
import { measureAssignment, planReference } from '../../src/node/planVerify';
import { analyzeModelSensitivity } from '../../src/node/sensitivityRunner';
import { cli } from './helpers/run';
import { SHARED_MODELS } from './sharedModels';

const MNIST = path.join(SHARED_MODELS, 'onnx/mnist-12.onnx');
let dir = '';
let model = '';
const savedCache = process.env['XDG_CACHE_HOME'];

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-onnx-record-'));
  model = path.join(dir, 'mnist-12.onnx');
  await fs.copyFile(MNIST, model);
  // A private measurement cache: the figures below come from runs made here.
  process.env['XDG_CACHE_HOME'] = path.join(dir, 'cache');
});

after(async () => {
  if (savedCache === undefined) delete process.env['XDG_CACHE_HOME'];
  else process.env['XDG_CACHE_HOME'] = savedCache;
  await fs.rm(dir, { recursive: true, force: true });
});

async function writtenPlan(file: string): Promise<PrecisionPlan & { measurement: PlanSqnrMeasurement }> {
  const parsed = parsePlan(await fs.readFile(file, 'utf8'), path.basename(file));
  assert.deepEqual(parsed.diagnostics, []);
  const m = parsed.plan?.measurement;
  assert.ok(m && m.metric === 'output-sqnr-db', JSON.stringify(m));
  return parsed.plan as PrecisionPlan & { measurement: PlanSqnrMeasurement };
}

test('plan --measure records output SQNR per layer and for the plan; each figure matches running the model again', { timeout: 300_000 }, async () => {
  const planFile = path.join(dir, 'measured.precision.json');
  const r = await cli('plan', model, '--target', 'h100', '--avg-bits', '5', '--measure', '-o', planFile);
  assert.equal(r.code, 0, r.err);
  // CLI: predicted beside measured for the delivered plan, the baselines and each layer alone.
  assert.match(r.out, /verified with onnxruntime-node .*: output SQNR predicted -?[\d.]+ dB · measured -?[\d.]+ dB/);
  assert.match(r.out, /baseline +weights +pred\. SQNR +meas\. SQNR +solver at same memory/);
  assert.match(r.out, /layers alone in their planned format, output SQNR measured with onnxruntime-node \d+\.\d+\.\d+ \(CPU\) \(\d+ layers?/);
  assert.match(r.out, /layer +format +predicted +measured/);

  const plan = await writtenPlan(planFile);
  const m = plan.measurement;
  assert.match(m.runtime, /^onnxruntime-node \d+\.\d+\.\d+ \(CPU\)$/);
  assert.match(m.text, /^generated \(\d+ samples, seed 1\).*; compared output Plus214_Output_0; layers alone from measured sensitivity$/);
  assert.doesNotMatch(JSON.stringify(m), /kl|perplexity/i, 'an ONNX record has no KL figures');
  assert.ok(m.plan && m.plan.predictor === 'measured-layers' && m.plan.predictedSqnrDb !== undefined);
  const lowered = plan.layers.filter((e) => e.format !== 'keep');
  assert.ok(lowered.length >= 2, JSON.stringify(plan.layers));
  assert.deepEqual(m.layers?.map((l) => [l.layer, l.format]), lowered.map((e) => [e.layer, e.format]), 'every lowered layer is recorded, in its planned format');

  // The whole plan: apply the delivered assignment again and run it on the same generated inputs.
  const loaded = await loadModel(model);
  const assignment = Object.fromEntries(plan.layers.map((e) => [e.layer, e.format]));
  const reference = await planReference(model, loaded.model);
  const again = await measureAssignment(model, loaded.model, reference, assignment, dir, 'again');
  assert.ok(Math.abs(again.sqnrDb - m.plan.measuredSqnrDb) < 1e-6, `${again.sqnrDb} vs recorded ${m.plan.measuredSqnrDb}`);
  // Each layer alone, measured again without the cache; the predicted side is the static score's output SQNR.
  const formats = [...new Set(lowered.map((e) => e.format))];
  const measured = await measureSensitivity(model, { formats, samples: reference.samples.length, cacheDir: false });
  const stat = await analyzeModelSensitivity(model, { formats, workers: 0 });
  for (const l of m.layers!) {
    const now = measured.layers.find((x) => x.layer === l.layer)!.formats[l.format]!.measuredOutputSqnrDb!;
    assert.ok(Math.abs(now - l.measuredSqnrDb) < 1e-6, `${l.layer} ${l.format}: ${now} vs recorded ${l.measuredSqnrDb}`);
    // Static scores are sums over chunks (worker threads in the CLI, one thread here): equal up to rounding.
    const predicted = stat.layers.find((x) => x.layer === l.layer)!.formats[l.format]!.predictedOutputSqnrDb;
    assert.ok(l.predictedSqnrDb !== undefined && Math.abs(l.predictedSqnrDb - predicted) < 1e-9, `${l.layer}: ${l.predictedSqnrDb} vs ${predicted}`);
  }

  // Reopening: the lenses show predicted beside measured from the file, nothing rerun (no sensitivity given).
  const view = analyzePlan({ parsed: parsePlan(await fs.readFile(planFile, 'utf8'), 'measured.precision.json'), fileName: 'measured.precision.json', model: loaded.model, fingerprint: loaded.fingerprint, targets: TARGETS, minOutputSqnrDb: 20 });
  assert.match(view.header!.title, / · predicted output SQNR -?[\d.]+ dB \(layers measured alone, added\) · measured -?[\d.]+ dB$/);
  const entry = view.entries.find((e) => plan.layers[e.entry]!.layer === m.layers![0]!.layer)!;
  assert.match(entry.title, /predicted -?[\d.]+ dB · measured alone -?[\d.]+ dB/);
  assert.doesNotMatch(`${view.header!.title} ${view.entries.map((e) => e.title).join(' ')}`, /KL/);
});

test('plan --verify alone records the whole plan beside the static prediction; --measure --no-verify only the layers', { timeout: 300_000 }, async () => {
  const verified = path.join(dir, 'verified.precision.json');
  const v = await cli('plan', model, '--target', 'h100', '--avg-bits', '6', '--verify', '--json', '-o', verified);
  assert.equal(v.code, 0, v.err);
  const doc = JSON.parse(v.out);
  const m = (await writtenPlan(verified)).measurement;
  assert.equal(m.layers, undefined);
  assert.ok(m.plan && m.plan.predictor === 'static');
  assert.equal(m.plan.measuredSqnrDb, doc.delivered.measuredOutputSqnrDb, 'the record is the verification the CLI reported');
  assert.equal(m.delivered, doc.delivered.source);
  assert.ok(Math.abs(m.plan.predictedSqnrDb! - doc.delivered.predictedOutputSqnrDb) < 1e-9, `${m.plan.predictedSqnrDb} vs ${doc.delivered.predictedOutputSqnrDb}`);
  const measuredBaselines = doc.verification.candidates.filter((c: { origin: string; measuredOutputSqnrDb: number | null }) => c.origin === 'baseline' && c.measuredOutputSqnrDb !== null);
  assert.deepEqual(m.baselines?.map((b) => [b.id, b.measuredSqnrDb]) ?? [], measuredBaselines.map((c: { id: string; measuredOutputSqnrDb: number }) => [c.id, c.measuredOutputSqnrDb]));

  const layersOnly = path.join(dir, 'layers.precision.json');
  const l = await cli('plan', model, '--target', 'h100', '--avg-bits', '5', '--measure', '--no-verify', '-o', layersOnly);
  assert.equal(l.code, 0, l.err);
  const lm = (await writtenPlan(layersOnly)).measurement;
  assert.equal(lm.plan, undefined);
  assert.ok((lm.layers?.length ?? 0) >= 2);
  assert.match(lm.text, /layers only \(the plan was not verified\)$/);

  const unverified = path.join(dir, 'none.precision.json');
  assert.equal((await cli('plan', model, '--target', 'h100', '--avg-bits', '5', '--no-verify', '-o', unverified)).code, 0);
  assert.equal(parsePlan(await fs.readFile(unverified, 'utf8'), 'x').plan?.measurement, undefined, 'nothing measured, nothing recorded');
});

test('sensitivity --measure names every figure of its cells: predicted, weight and measured output SQNR, then KL', { timeout: 300_000 }, async () => {
  const r = await cli('sensitivity', model, '--measure', '--formats', 'int8,int4');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /shown as predicted output SQNR in dB, weight SQNR in brackets, then measured output SQNR, then KL in nats predicted · measured/);
  // A cell: predicted [weight] measured, then KL predicted · measured (Convolution110 is measured in every format).
  assert.match(r.out, /Convolution110 .* -?[\d.]+ \[-?[\d.]+\] -?[\d.]+ [\d.e-]+ · [\d.e-]+/);
});

