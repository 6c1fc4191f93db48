import type { SensitivityReport } from '../../core';
import { klPerStaticScore, measureGgufSensitivity } from '../../node/ggufMeasure';
import { measureSensitivity } from '../../node/measure';
import { NodeError } from '../../node/errors';
import { analyzeModelSensitivity, analyzeModelSensitivityRows, resolveFormats } from '../../node/sensitivityRunner';
import { formatIds, isFormat } from '../choices';
import { CliError, type CliOutput } from '../io';
import { JSON_OPTION, PROGRESS_OPTION, flag, str, type CommandSpec, type OptionValues } from '../options';
import { createProgress } from '../progress';
import { writeJson } from '../jsonOut';
import { arrayLayers, writeSensitivityRows, writeSensitivityTable, type LayerSource } from '../sensitivityOut';

/** Option table of `sensitivity`. */
export const sensitivitySpec: CommandSpec = {
  name: 'sensitivity',
  summary: 'Score how much each layer suffers in each number format (static from the weights; measured with onnxruntime or llama.cpp on request).',
  positionals: [{ name: 'FILE', description: 'The model: .onnx, .safetensors (or its .index.json), .gguf or .tflite.' }],
  options: [
    { name: 'formats', type: 'string', value: 'F[,F...]', description: 'Number formats to score; default fp16, bf16, fp8_e4m3, int8, int4 (GGUF with --measure: its ggml types).', choices: formatIds, accepts: isFormat, list: true },
    { name: 'measure', type: 'boolean', description: 'Also measure each layer × format: ONNX with onnxruntime-node (output SQNR), GGUF with llama.cpp on a calibration text (KL).' },
    { name: 'inputs', type: 'string', value: 'FILE', description: 'ONNX calibration inputs for --measure (.npz, .npy or .json); default random inputs from the declared shapes.' },
    { name: 'text', type: 'string', value: 'FILE', description: 'GGUF calibration text for --measure; default the bundled one.' },
    { name: 'context', type: 'string', value: 'N', description: 'GGUF context length in tokens for --measure (16 to 8192).' },
    { name: 'sample', type: 'string', value: 'F', description: 'Read only this fraction (0.0001 to 1) of each tensor for the static scores; faster, approximate.' },
    { name: 'budget', type: 'string', value: 'N', description: 'With --measure, measure at most N layer × format pairs (the most sensitive first by static score); default 1000.' },
    { name: 'workers', type: 'string', value: 'N', description: 'Worker threads for the static analysis; default one fewer than the available cores, the main thread analyzing too; 0 runs on the main thread.' },
    PROGRESS_OPTION,
    JSON_OPTION,
  ],
  examples: ['precision-lens sensitivity model.safetensors --formats fp16,fp8,int8,int4 --json', 'precision-lens sensitivity model.onnx --measure --inputs calib.npz'],
};

/**
 * `precision-lens sensitivity FILE`: static sensitivity per layer × format (default formats fp16, bf16,
 * fp8_e4m3, int8, int4; GGUF: its ggml types), optionally measured (`--measure`): ONNX with onnxruntime (output
 * SQNR), GGUF with llama.cpp on a calibration text (`--text`, default the bundled one: KL per layer). Table by default;
 * `--json` prints the SensitivityReport.
 */
export async function sensitivityCommand(options: OptionValues, positionals: readonly string[], io: CliOutput): Promise<number> {
  const values = {
    formats: str(options, 'formats'), measure: flag(options, 'measure'), inputs: str(options, 'inputs'), text: str(options, 'text'), context: str(options, 'context'),
    sample: str(options, 'sample'), budget: str(options, 'budget'), workers: str(options, 'workers'), json: flag(options, 'json'),
  };
  const file = positionals[0]!;
  let formats: string[] | undefined;
  const gguf = file.toLowerCase().endsWith('.gguf');
  try {
    // GGUF measurement defaults to the ggml types the planner chooses from (measureGgufSensitivity's default).
    formats = values.formats === undefined && gguf && values.measure ? undefined : resolveFormats(values.formats?.split(',').map((s) => s.trim()).filter(Boolean));
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const num = (name: string, v: string | undefined, min: number, max: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new CliError(`--${name} must be a number in [${min}, ${max}], got '${v}'.`);
    return n;
  };
  const sample = num('sample', values.sample, 0.0001, 1);
  const budget = num('budget', values.budget, 0, 1e9);
  const workers = num('workers', values.workers, 0, 1024);
  const context = num('context', values.context, 16, 8192);
  if (values.inputs && !values.measure) throw new CliError('--inputs needs --measure.');
  if ((values.text !== undefined || context !== undefined) && !(values.measure && gguf)) throw new CliError('--text and --context need --measure and a GGUF model.');
  const progress = createProgress(io, flag(options, 'progress') || io.errIsTTY === true);
  const base = {
    ...(formats ? { formats } : {}),
    ...(workers !== undefined ? { workers } : {}),
  };
  if (!values.measure) {
    const report = await analyzeModelSensitivityRows(file, {
      ...base,
      ...(sample !== undefined ? { sample } : {}),
      // This thread only waits for the analysis: it takes a share of the chunks, with one worker fewer (the
      // launcher starts that many early, prestartedWorkers.ts).
      mainThreadShare: true,
      onProgress: (p) => progress.update('analyzing', p.bytesDone, Math.max(1, p.bytesTotal), `${Math.round((100 * p.bytesDone) / Math.max(1, p.bytesTotal))}% of the weights (${p.tensorsDone}/${p.tensorsTotal} tensors)`),
    });
    // The layers are made one at a time as they are written (sensitivityOut.ts): a static record has no measured figure.
    if (values.json) writeJson(io, report, writeSensitivityRows);
    else writeText(io, report, report.layers, undefined, false);
    return 0;
  }
  let report: SensitivityReport;
  if (values.measure && gguf) {
    const staticReport = sample !== undefined ? await analyzeModelSensitivity(file, { ...base, sample }) : undefined;
    try {
      report = await measureGgufSensitivity(file, {
        ...base,
        ...(values.text !== undefined ? { textFile: values.text } : {}),
        ...(context !== undefined ? { contextSize: context } : {}),
        ...(budget !== undefined ? { layerBudget: budget } : {}),
        ...(staticReport ? { staticReport } : {}),
        onProgress: (p) => progress.update('measuring in llama.cpp', p.pairsDone, p.pairsTotal, `${p.pairsDone}/${p.pairsTotal} layer × format pairs, ${p.message}`),
      });
    } catch (e) {
      if (e instanceof NodeError) throw new CliError(e.message.endsWith('.') ? e.message : `${e.message}.`);
      throw e;
    }
  } else {
    let staticReport: SensitivityReport | undefined;
    if (sample !== undefined) staticReport = await analyzeModelSensitivity(file, { ...base, sample });
    try {
      report = await measureSensitivity(file, {
        ...base,
        ...(values.inputs ? { inputsFile: values.inputs } : {}),
        ...(budget !== undefined ? { layerBudget: budget } : {}),
        ...(staticReport ? { staticReport } : {}),
        onProgress: (p) => progress.update('measuring', p.pairsDone, p.pairsTotal, `${p.pairsDone}/${p.pairsTotal} layer × format pairs, ${p.message}`),
      });
    } catch (e) {
      if (e instanceof NodeError) throw new CliError(e.message.endsWith('.') ? e.message : `${e.message}.`);
      throw e;
    }
  }
  if (values.json) {
    writeJson(io, report);
    return 0;
  }
  // GGUF measured: KL predicted from the static score (scaled by the median measured KL per unit of score) beside the measured KL.
  const klScale = klPerStaticScore(report);
  // Every figure in a cell is named here, in order (ONNX measured: output SQNR, and KL where the outputs are logits-like).
  const measuredSqnr = report.layers.some((l) => Object.values(l.formats).some((f) => f.measuredOutputSqnrDb !== undefined));
  writeText(io, report, arrayLayers(report.layers), klScale, measuredSqnr);
  return 0;
}

/** The text report: heading, table, sampling and measuring notes, warnings. */
function writeText(io: CliOutput, report: Omit<SensitivityReport, 'layers'>, layers: LayerSource, klScale: number | undefined, measuredSqnr: boolean): void {
  io.out(`${report.model}: ${layers.length} layers × ${report.formats.length} formats in ${(report.elapsedMs / 1000).toFixed(1)} s`);
  io.out('score = predicted output noise-to-signal ratio from lowering only that layer (higher = more sensitive); shown as predicted output SQNR in dB, weight SQNR in brackets' + (measuredSqnr ? ', then measured output SQNR' : '') + (klScale !== undefined ? `, then KL in nats predicted · measured (predicted = score × ${klScale.toPrecision(3)}, the median measured KL per unit of score)` : '') + '.');
  io.out('');
  writeSensitivityTable(io, report.formats, layers, klScale);
  if (report.sampled) io.out(`sampling: ${report.sampled.note}`);
  if (report.measured) {
    const m = report.measured;
    io.out(`measured: ${m.layersMeasured} layer×format pairs, ${m.runs} runs${m.cached ? ' (from cache)' : ''}; outputs compared: ${m.outputs.join(', ')}; inputs: ${m.inputs}`);
    for (const n of m.notes) io.out(`note: ${n}`);
  }
  for (const w of report.warnings) io.out(`warning: ${w}`);
}
