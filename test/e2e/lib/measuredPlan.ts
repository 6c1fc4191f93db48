/**
 * A plan with a real measurement record, made in the test workspace before VS Code starts: a copy of mnist-12.onnx
 * (`models/mnist-measured.onnx`) planned by the CLI with `--measure`, so onnxruntime-node measures each layer alone
 * and verifies the delivered plan (output SQNR in dB). The record is read back so the UI checks compare what the
 * inspector and the lenses show with what was measured. Nothing is committed: every figure comes from this run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../../../src/cli/main';
import { parsePlan, type PlanKlMeasurement, type PlanSqnrMeasurement } from '../../../src/core/plan/planFile';

/** The measured model's file name in `<workspace>/models/`. */
export const MEASURED_MODEL = 'mnist-measured.onnx';

/** The written plan's path and its record. */
export interface MeasuredPlan {
  readonly planPath: string;
  readonly measurement: PlanSqnrMeasurement & { readonly layers: NonNullable<PlanSqnrMeasurement['layers']>; readonly plan: NonNullable<PlanSqnrMeasurement['plan']> };
}

/** Plans `models/mnist-measured.onnx` with `--measure` (measurement cache under `cacheDir`) and returns its record. */
export async function writeMeasuredPlan(workspace: string, cacheDir: string): Promise<MeasuredPlan> {
  const models = path.join(workspace, 'models');
  const model = path.join(models, MEASURED_MODEL);
  fs.copyFileSync(path.join(models, 'mnist-12.onnx'), model);
  const saved = process.env['XDG_CACHE_HOME'];
  process.env['XDG_CACHE_HOME'] = cacheDir;
  let err = '';
  let code: number;
  try {
    code = await runCli(['plan', model, '--target', 'h100', '--avg-bits', '5', '--measure'], { out: () => undefined, err: (t) => (err += `${t}\n`) });
  } finally {
    if (saved === undefined) delete process.env['XDG_CACHE_HOME'];
    else process.env['XDG_CACHE_HOME'] = saved;
  }
  if (code !== 0) throw new Error(`precision-lens plan --measure failed (${code}): ${err}`);
  const planPath = `${model}.precision.json`;
  const m = parsePlan(fs.readFileSync(planPath, 'utf8'), path.basename(planPath)).plan?.measurement;
  if (!m || m.metric !== 'output-sqnr-db' || !m.plan || !m.layers?.length) throw new Error(`${planPath}: no ONNX measurement record with plan and layer figures: ${JSON.stringify(m)}`);
  return { planPath, measurement: { ...m, layers: m.layers, plan: m.plan } };
}

/** Folder (in `<workspace>/models/`) of the GGUF model whose plan records a llama.cpp measurement. */
export const MEASURED_GGUF_DIR = 'measured';

/**
 * `models/measured/stories260K.gguf` with the plan `test/e2e/fixtures/stories260K.measured.precision.json`: written by
 * a real run, `precision-lens plan stories260K.gguf --target h100 --avg-bits 8 --measure --max-candidates 4`
 * (node-llama-cpp 3.21.1, CPU; 2026-12-03), committed because measuring each layer in llama.cpp takes ~5 minutes
 * on the CI machine. Its fingerprint is stories260K.gguf's, so the editor checks it against the real model.
 */
export function writeMeasuredGgufPlan(workspace: string): { readonly planPath: string; readonly measurement: PlanKlMeasurement & { readonly layers: NonNullable<PlanKlMeasurement['layers']> } } {
  const folder = path.join(workspace, 'models', MEASURED_GGUF_DIR);
  fs.mkdirSync(folder, { recursive: true });
  fs.copyFileSync(path.join(workspace, 'models', 'stories260K.gguf'), path.join(folder, 'stories260K.gguf'));
  const planPath = path.join(folder, 'stories260K.gguf.precision.json');
  fs.copyFileSync(path.resolve(__dirname, '../fixtures/stories260K.measured.precision.json'), planPath);
  const m = parsePlan(fs.readFileSync(planPath, 'utf8'), path.basename(planPath)).plan?.measurement;
  if (!m || m.metric === 'output-sqnr-db' || !m.layers?.length) throw new Error(`${planPath}: no llama.cpp measurement record with layer figures`);
  return { planPath, measurement: { ...m, layers: m.layers } };
}
