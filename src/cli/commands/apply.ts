import * as path from 'node:path';
import { CancelledError, GgufApplyError, assignmentWeightBytes, dtypeInfo, estimate, formatBytes, parseByteSize, type Estimate, type Model } from '../../core';
import { applyPlanToOnnx, compareWithReference, referenceRun, type OutputSqnr } from '../../node/applyOnnx';
import { applyPlanToGguf } from '../../node/applyGguf';
import { OutputError } from '../../node/safeOutput';
import { CliError, renderTable, type CliOutput } from '../io';
import { JSON_OPTION, PROGRESS_OPTION, flag, str, type CommandSpec, type OptionValues } from '../options';
import { createProgress, type Progress } from '../progress';
import { loadCheckedPlan } from './plan';

/** Option table of `apply`. */
export const applySpec: CommandSpec = {
  name: 'apply',
  summary: "Write a new ONNX or GGUF model with a plan's per-layer formats (ONNX: then measure its output against the original).",
  positionals: [
    { name: 'FILE', description: 'The ONNX or GGUF model the plan was made for.' },
    { name: 'PLAN', description: 'The precision plan (*.precision.json).' },
  ],
  options: [
    { name: 'output', short: 'o', type: 'string', value: 'OUT.onnx|OUT.gguf', description: 'The model to write; never the input (nor a file sharing its data).' },
    { name: 'external-data-threshold', type: 'string', value: 'SIZE', description: 'ONNX: write the weights to OUT.onnx.data when the model would be larger than SIZE (e.g. 1.5GB); default 2 GiB − 16 MiB (under the 2 GiB protobuf limit).' },
    { name: 'no-measure', type: 'boolean', description: 'ONNX: skip running the original and the new model with onnxruntime-node to measure output SQNR.' },
    { name: 'force', type: 'boolean', description: 'GGUF: re-quantize tensors already stored in a low-precision type (refused otherwise: the two errors add up).' },
    { name: 'targets-file', type: 'string', value: 'FILE', description: "A JSON file of extra targets, needed when the plan's target is a user target." },
    PROGRESS_OPTION,
    JSON_OPTION,
  ],
  required: ['output'],
  examples: ['precision-lens apply model.onnx model.onnx.precision.json -o model.int8.onnx', 'precision-lens apply model.gguf model.gguf.precision.json -o model.mixed.gguf'],
};

/** `precision-lens apply`: write a new ONNX file with the plan's formats, then measure it against the original. */
export async function applyCommand(values: OptionValues, positionals: readonly string[], io: CliOutput): Promise<number> {
  const [modelPath, planPath] = positionals as [string, string];
  const output = str(values, 'output')!;
  const thresholdText = str(values, 'external-data-threshold');
  let threshold: number | undefined;
  if (thresholdText !== undefined) {
    try {
      threshold = parseByteSize(thresholdText);
    } catch (e) {
      throw new CliError(`--external-data-threshold: ${(e as Error).message}`);
    }
  }
  // An ONNX model is read once: the plan check, the rewrite and the reference run share these bytes.
  const checked = await loadCheckedPlan(planPath, modelPath, io, str(values, 'targets-file'), { wholeOnnx: true });
  const { model } = checked;
  const progress = createProgress(io, flag(values, 'progress') || io.errIsTTY === true);
  if (model.format === 'gguf') return applyGgufCommand(modelPath, model, checked.assignment, output, { force: flag(values, 'force'), json: flag(values, 'json') }, io, progress);
  if (model.format !== 'onnx') throw new CliError(`${model.fileName}: apply writes ONNX models; use 'precision-lens export ${path.basename(planPath)} --to llama.cpp' for ${model.format}.`);
  const plan = checked.parsed.plan!;
  const { assignment } = checked;
  // An ApplyError ('cannot-convert', 'not-onnx') or OutputError reaches main.ts, which sets the exit status from its code.
  // Progress: the rewrite counts tensors; writing the file is one step (elapsed time only).
  const result = await applyPlanToOnnx(modelPath, model, assignment, output, {
    ...(threshold !== undefined ? { externalDataThresholdBytes: threshold } : {}),
    ...(checked.bytes ? { bytes: checked.bytes } : {}),
    onProgress: (done, total, phase) => {
      if (phase === 'rewrite') progress.update('rewriting', done, total, `${done}/${total} tensors`);
      else if (phase === 'write' && done < total) progress.begin('writing', path.basename(output));
      else if (phase === 'write') progress.end('writing');
    },
  });
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
  if (!flag(values, 'no-measure')) {
    try {
      const ref = await referenceRun({ path: modelPath, ...(checked.bytes ? { bytes: checked.bytes } : {}) }, model, undefined, (done, total) => progress.update('reference run (original model)', done, total, `${done}/${total} samples`));
      measured = await compareWithReference(ref, output, (done, total) => progress.update('measuring the new model', done, total, `${done}/${total} samples`));
    } catch (e) {
      measureError = (e as Error).message.split('\n')[0];
    }
  }
  const simulated = result.layers.filter((l) => l.storage === 'simulated').length;
  if (flag(values, 'json')) {
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
async function applyGgufCommand(modelPath: string, model: Model, assignment: Readonly<Record<string, string>>, output: string, flags: { force: boolean; json: boolean }, io: CliOutput, progress: Progress): Promise<number> {
  let result;
  try {
    result = await applyPlanToGguf(modelPath, assignment, output, {
      force: flags.force,
      onProgress: (done, total) => progress.update('writing', done, Math.max(1, total), `${Math.round((100 * done) / Math.max(1, total))}% of ${path.basename(output)} (${formatBytes(done)} of ${formatBytes(total)})`),
    });
  } catch (e) {
    if (e instanceof GgufApplyError || e instanceof OutputError || e instanceof CancelledError) throw new CliError(e.message);
    throw e;
  }
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
