import { parseArgs } from 'node:util';
import { getNumberFormat, type SensitivityReport } from '../../core';
import { klPerStaticScore, measureGgufSensitivity } from '../../node/ggufMeasure';
import { measureSensitivity } from '../../node/measure';
import { analyzeModelSensitivity, resolveFormats } from '../../node/sensitivityRunner';
import { CliError, renderTable, type CliOutput } from '../io';

export const sensitivityUsage = 'precision-lens sensitivity FILE [--formats fp16,bf16,fp8,int8,int4,...] [--measure] [--inputs FILE] [--text FILE] [--context N] [--sample F] [--budget N] [--workers N] [--json]';

/**
 * `precision-lens sensitivity FILE`: static sensitivity per layer × format (default formats fp16, bf16,
 * fp8_e4m3, int8, int4; GGUF: its ggml types), optionally measured (`--measure`): ONNX with onnxruntime (output
 * SQNR), GGUF with llama.cpp on a calibration text (`--text`, default the bundled one: KL per layer). Table by default;
 * `--json` prints the SensitivityReport.
 */
export async function sensitivityCommand(argv: readonly string[], io: CliOutput): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      formats: { type: 'string' },
      measure: { type: 'boolean' },
      inputs: { type: 'string' },
      text: { type: 'string' },
      context: { type: 'string' },
      sample: { type: 'string' },
      budget: { type: 'string' },
      workers: { type: 'string' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw new CliError(`Usage: ${sensitivityUsage}`);
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
  const progress = (text: string): void => {
    if (!values.json) io.err(text);
  };
  const base = {
    ...(formats ? { formats } : {}),
    ...(workers !== undefined ? { workers } : {}),
  };
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
        onProgress: (p) => progress(`measuring in llama.cpp: ${p.pairsDone}/${p.pairsTotal} ${p.message}`),
      });
    } catch (e) {
      if (e instanceof Error && !(e.name === 'ModelFormatError')) throw new CliError(e.message.endsWith('.') ? e.message : `${e.message}.`);
      throw e;
    }
  } else if (values.measure) {
    let staticReport: SensitivityReport | undefined;
    if (sample !== undefined) staticReport = await analyzeModelSensitivity(file, { ...base, sample });
    try {
      report = await measureSensitivity(file, {
        ...base,
        ...(values.inputs ? { inputsFile: values.inputs } : {}),
        ...(budget !== undefined ? { layerBudget: budget } : {}),
        ...(staticReport ? { staticReport } : {}),
        onProgress: (p) => progress(`measuring: ${p.pairsDone}/${p.pairsTotal} ${p.message}`),
      });
    } catch (e) {
      if (e instanceof Error && !(e.name === 'ModelFormatError')) throw new CliError(e.message.endsWith('.') ? e.message : `${e.message}.`);
      throw e;
    }
  } else {
    report = await analyzeModelSensitivity(file, {
      ...base,
      ...(sample !== undefined ? { sample } : {}),
      onProgress: (p) => progress(`analyzing: ${Math.round((100 * p.bytesDone) / Math.max(1, p.bytesTotal))}% (${p.tensorsDone}/${p.tensorsTotal} tensors)`),
    });
  }
  if (values.json) {
    io.out(JSON.stringify(report, null, 2));
    return 0;
  }
  io.out(`${report.model}: ${report.layers.length} layers × ${report.formats.length} formats in ${(report.elapsedMs / 1000).toFixed(1)} s`);
  // GGUF measured: KL predicted from the static score (scaled by the median measured KL per unit of score) beside the measured KL.
  const klScale = klPerStaticScore(report);
  io.out('score = predicted output noise-to-signal ratio from lowering only that layer (higher = more sensitive); shown as predicted output SQNR in dB, weight SQNR in brackets' + (klScale !== undefined ? `, then KL in nats predicted · measured (predicted = score × ${klScale.toPrecision(3)}, the median measured KL per unit of score)` : report.measured ? ', then measured output SQNR' : '') + '.');
  io.out('');
  const header = ['layer', 'role', 'params', ...report.formats.map((f) => getNumberFormat(f)?.label.split(' (')[0] ?? f), 'reason (worst format)'];
  const cell = (s: SensitivityReport['layers'][number]['formats'][string] | undefined): string => {
    if (!s) return '-';
    const db = (v: number): string => (v >= 300 ? '∞' : v.toFixed(1));
    const kl = klScale !== undefined ? ` ${(s.staticScore * klScale).toPrecision(2)} · ${s.klDivergence !== undefined ? s.klDivergence.toPrecision(2) : '-'}` : '';
    return `${db(s.predictedOutputSqnrDb)} [${db(s.sqnrDb)}]${s.measuredOutputSqnrDb !== undefined ? ` ${db(s.measuredOutputSqnrDb)}` : ''}${kl}`;
  };
  const rows = report.layers.map((l) => {
    const worst = Object.values(l.formats).reduce((a, b) => (b.staticScore > a.staticScore ? b : a), Object.values(l.formats)[0]!);
    return [l.layer, l.role, l.parameterCount, ...report.formats.map((f) => cell(l.formats[f])), worst?.reason ?? ''];
  });
  io.out(renderTable(header, rows, report.formats.map((_, i) => i + 3)));
  if (report.sampled) io.out(`sampling: ${report.sampled.note}`);
  if (report.measured) {
    const m = report.measured;
    io.out(`measured: ${m.layersMeasured} layer×format pairs, ${m.runs} runs${m.cached ? ' (from cache)' : ''}; outputs compared: ${m.outputs.join(', ')}; inputs: ${m.inputs}`);
    for (const n of m.notes) io.out(`note: ${n}`);
  }
  for (const w of report.warnings) io.out(`warning: ${w}`);
  return 0;
}
