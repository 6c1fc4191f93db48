import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { assignmentWeightBytes, estimate, formatBytes, parseByteSize, type Estimate } from '../../core';
import { applyPlanToOnnx, compareWithReference, referenceRun, type OutputSqnr } from '../../node/applyOnnx';
import { OutputError } from '../../node/safeOutput';
import { CliError, renderTable, type CliOutput } from '../io';
import { loadCheckedPlan } from './plan';

export const applyUsage = 'precision-lens apply FILE PLAN -o OUT.onnx [--external-data-threshold SIZE] [--no-measure] [--json]';

/** `precision-lens apply`: write a new ONNX file with the plan's formats, then measure it against the original. */
export async function applyCommand(argv: readonly string[], io: CliOutput): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      output: { type: 'string', short: 'o' },
      'external-data-threshold': { type: 'string' },
      'no-measure': { type: 'boolean' },
      'targets-file': { type: 'string' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  if (positionals.length !== 2 || !values.output) throw new CliError(`Usage: ${applyUsage}`);
  const [modelPath, planPath] = positionals as [string, string];
  let threshold: number | undefined;
  if (values['external-data-threshold'] !== undefined) {
    try {
      threshold = parseByteSize(values['external-data-threshold']);
    } catch (e) {
      throw new CliError(`--external-data-threshold: ${(e as Error).message}`);
    }
  }
  const checked = await loadCheckedPlan(planPath, modelPath, io, values['targets-file']);
  const { model } = checked;
  if (model.format !== 'onnx') throw new CliError(`${model.fileName}: apply writes ONNX models; use 'precision-lens export ${path.basename(planPath)} --to llama.cpp' for ${model.format}.`);
  const plan = checked.parsed.plan!;
  const { assignment } = checked;
  let result;
  try {
    result = await applyPlanToOnnx(modelPath, model, assignment, values.output, threshold !== undefined ? { externalDataThresholdBytes: threshold } : {});
  } catch (e) {
    const msg = (e as Error).message;
    if (e instanceof OutputError || /cannot convert|writes ONNX/.test(msg)) throw new CliError(msg);
    throw e;
  }
  const predictedLayerBytes = assignmentWeightBytes(model, assignment);
  let est: Estimate | undefined;
  if (checked.target) {
    try {
      est = estimate(model, checked.target, { batch: plan.batch, context: plan.context, kvFormat: plan.kvFormat, assignment });
    } catch {
      est = undefined;
    }
  }
  let measured: OutputSqnr | undefined;
  let measureError: string | undefined;
  if (!values['no-measure']) {
    try {
      const ref = await referenceRun(modelPath, model);
      measured = await compareWithReference(ref, values.output);
    } catch (e) {
      measureError = (e as Error).message.split('\n')[0];
    }
  }
  const simulated = result.layers.filter((l) => l.storage === 'simulated').length;
  if (values.json) {
    io.out(JSON.stringify({ ...result, estimateWeightBytes: est?.weightBytes ?? null, predictedLayerWeightBytes: predictedLayerBytes, measured: measured ?? null, measureError: measureError ?? null }, null, 2));
    return 0;
  }
  io.out(`wrote ${result.outputPath}${result.externalDataPath ? ` + ${path.basename(result.externalDataPath)} (${formatBytes(result.externalDataBytes)})` : ''}`);
  io.out(renderTable(
    ['', 'bytes'],
    [
      ['file', formatBytes(result.fileBytes + result.externalDataBytes)],
      ['stored tensors', formatBytes(result.tensorBytes)],
      ['estimated weights', est ? formatBytes(est.weightBytes) : 'n/a'],
      ['original file', formatBytes(model.totalFileBytes)],
    ],
    [1],
  ));
  io.out(`opset ${result.opsetBefore} → ${result.opsetAfter}, IR ${result.irVersion}; ${result.layers.length} layer(s) rewritten${simulated ? `, ${simulated} simulated (original size)` : ''}.`);
  if (measured) io.out(`measured output SQNR vs the original: ${measured.sqnrDb.toFixed(2)} dB (cosine ${measured.cosine.toFixed(5)}, output '${measured.output}', ${measured.samples} samples).`);
  else if (measureError) io.out(`not measured: ${measureError}`);
  for (const w of result.warnings) io.out(`note: ${w}`);
  return 0;
}
