import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { exportLlamaCpp, exportOrt, serializePlan } from '../../core';
import { modelDataFiles, writeOutputFile } from '../../node/safeOutput';
import { CliError, type CliOutput } from '../io';
import { loadCheckedPlan } from './plan';

export const exportUsage = 'precision-lens export PLAN --to ort|llama.cpp|json [--model FILE] [-o OUT] [--json]';

/** `precision-lens export`: turn a plan into ONNX Runtime quantization settings, a llama-quantize command, or the plan JSON. */
export async function exportCommand(argv: readonly string[], io: CliOutput): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      to: { type: 'string' },
      model: { type: 'string' },
      output: { type: 'string', short: 'o' },
      'targets-file': { type: 'string' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  const to = values.to?.toLowerCase();
  if (positionals.length !== 1 || !to) throw new CliError(`Usage: ${exportUsage}`);
  if (!['ort', 'onnxruntime', 'llama.cpp', 'llamacpp', 'gguf', 'json'].includes(to)) throw new CliError(`--to must be ort, llama.cpp or json, got '${values.to!.slice(0, 40)}'.`);
  const checked = await loadCheckedPlan(positionals[0]!, values.model, io, values['targets-file']);
  const plan = checked.parsed.plan!;
  const { assignment } = checked;
  const modelFile = path.basename(checked.modelPath);
  let text: string;
  if (to === 'ort' || to === 'onnxruntime') {
    const e = exportOrt(checked.model, assignment, { input: modelFile });
    for (const w of e.warnings) io.err(`warning: ${w}`);
    text = values.json ? JSON.stringify({ nodes_to_exclude: e.nodes_to_exclude, op_types_to_quantize: e.op_types_to_quantize, TensorQuantOverrides: e.TensorQuantOverrides, warnings: e.warnings }, null, 2) : e.python;
  } else if (to === 'json') {
    text = values.json ? JSON.stringify({ plan, assignment }, null, 2) : serializePlan(plan);
  } else {
    const e = exportLlamaCpp(checked.model, assignment, checked.model.format === 'gguf' ? { input: modelFile } : {});
    for (const w of e.warnings) io.err(`warning: ${w}`);
    text = values.json ? JSON.stringify({ argv: e.argv, command: e.command, baseType: e.baseType, warnings: e.warnings }, null, 2) : e.command;
  }
  if (values.output) {
    // Never over the plan, the model or its data (by inode); written to a temporary and renamed into place.
    await writeOutputFile(values.output, text.endsWith('\n') ? text : `${text}\n`, { inputs: [positionals[0]!, checked.modelPath, ...modelDataFiles(checked.modelPath, checked.model)] });
    io.out(`wrote ${values.output}`);
  } else io.out(text.replace(/\n$/, ''));
  return 0;
}
