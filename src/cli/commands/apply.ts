import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { CancelledError, GgufApplyError, assignmentWeightBytes, dtypeInfo, estimate, formatBytes, parseByteSize, type Estimate, type Model } from '../../core';
import { applyPlanToOnnx, compareWithReference, referenceRun, type OutputSqnr } from '../../node/applyOnnx';
import { applyPlanToGguf } from '../../node/applyGguf';
import { OutputError } from '../../node/safeOutput';
import { CliError, renderTable, type CliOutput } from '../io';
import { loadCheckedPlan } from './plan';

export const applyUsage = 'precision-lens apply FILE PLAN -o OUT.onnx|OUT.gguf [--external-data-threshold SIZE] [--no-measure] [--force] [--json]';

/** `precision-lens apply`: write a new ONNX file with the plan's formats, then measure it against the original. */
export async function applyCommand(argv: readonly string[], io: CliOutput): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      output: { type: 'string', short: 'o' },
      'external-data-threshold': { type: 'string' },
      'no-measure': { type: 'boolean' },
      force: { type: 'boolean' },
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
  if (model.format === 'gguf') return applyGgufCommand(modelPath, model, checked.assignment, values.output, { force: values.force === true, json: values.json === true }, io);
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

/** The GGUF half of `apply`: stream a new GGUF with the plan's ggml types, report per-type counts and sizes. */
async function applyGgufCommand(modelPath: string, model: Model, assignment: Readonly<Record<string, string>>, output: string, flags: { force: boolean; json: boolean }, io: CliOutput): Promise<number> {
  let lastShown = 0;
  let result;
  try {
    result = await applyPlanToGguf(modelPath, assignment, output, {
      force: flags.force,
      onProgress: (done, total) => {
        const now = performance.now();
        if (!flags.json && process.stderr.isTTY && now - lastShown > 1000) {
          lastShown = now;
          process.stderr.write(`\rwriting ${output}: ${Math.round((100 * done) / Math.max(1, total))}%`);
        }
      },
    });
  } catch (e) {
    if (e instanceof GgufApplyError || e instanceof OutputError || e instanceof CancelledError) throw new CliError(e.message);
    throw e;
  }
  if (lastShown > 0) process.stderr.write('\n');
  if (flags.json) {
    io.out(JSON.stringify(result, null, 2));
    return 0;
  }
  const byType = new Map<string, { n: number; bytes: number }>();
  for (const t of result.tensors) {
    const key = `${dtypeInfo(t.from)?.label ?? t.from} → ${dtypeInfo(t.to)?.label ?? t.to}${t.action === 'copy' ? ' (copied)' : ''}`;
    const c = byType.get(key) ?? { n: 0, bytes: 0 };
    byType.set(key, { n: c.n + 1, bytes: c.bytes + t.bytes });
  }
  io.out(`wrote ${result.outputPath} (${formatBytes(result.fileBytes)}; input ${model.fileName} ${formatBytes(result.inputBytes)}) in ${result.seconds.toFixed(2)} s`);
  io.out(renderTable(['tensors', 'count', 'bytes'], [...byType].map(([k, v]) => [k, String(v.n), formatBytes(v.bytes)]), [1, 2]));
  io.out(`general.file_type = ${result.fileType} (${result.fileTypeName}).`);
  for (const w of result.warnings) io.out(`note: ${w}`);
  return 0;
}
