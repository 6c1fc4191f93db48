import * as path from 'node:path';
import { exportGptqModel, exportLlamaCpp, exportLlmCompressor, exportOrt, serializePlan } from '../../core';
import { modelDataFiles, writeOutputFile } from '../../node/safeOutput';
import { CliError, type CliOutput } from '../io';
import { JSON_OPTION, flag, str, type CommandSpec, type OptionValues } from '../options';
import { loadCheckedPlan } from './plan';

/** Export destinations (the first spelling of each is the one help lists). */
const EXPORT_TARGETS = ['ort', 'llama.cpp', 'gptqmodel', 'llm-compressor', 'json'] as const;
const EXPORT_ALIASES: ReadonlyMap<string, (typeof EXPORT_TARGETS)[number]> = new Map([
  ['ort', 'ort'], ['onnxruntime', 'ort'], ['llama.cpp', 'llama.cpp'], ['llamacpp', 'llama.cpp'], ['gguf', 'llama.cpp'],
  ['gptqmodel', 'gptqmodel'], ['gptq', 'gptqmodel'], ['llm-compressor', 'llm-compressor'], ['llmcompressor', 'llm-compressor'], ['json', 'json'],
]);

/** Option table of `export`. */
export const exportSpec: CommandSpec = {
  name: 'export',
  summary: 'Turn a plan into ONNX Runtime quantization settings, a llama-quantize command, a GPTQModel config, an llm-compressor recipe, or the plan as JSON.',
  positionals: [{ name: 'PLAN', description: "The precision plan (*.precision.json); its model is found beside it unless --model is given." }],
  options: [
    { name: 'to', type: 'string', value: 'ort|llama.cpp|gptqmodel|llm-compressor|json', description: 'What to produce: a Python script for onnxruntime.quantization (ONNX models), a llama-quantize command (GGUF or convertible models), a GPTQModel QuantizeConfig with per-module dynamic rules or an llm-compressor recipe (safetensors models; --json: the config / recipe as data), or the plan JSON.', choices: () => EXPORT_TARGETS, accepts: (v) => EXPORT_ALIASES.has(v.toLowerCase()) },
    { name: 'model', type: 'string', value: 'FILE', description: "The plan's model, when it is not beside the plan under the name the plan records." },
    { name: 'output', short: 'o', type: 'string', value: 'OUT', description: 'Write to this file instead of stdout.' },
    { name: 'targets-file', type: 'string', value: 'FILE', description: "A JSON file of extra targets, needed when the plan's target is a user target." },
    JSON_OPTION,
  ],
  required: ['to'],
  examples: ['precision-lens export model.onnx.precision.json --to ort -o quantize.py', 'precision-lens export model.gguf.precision.json --to llama.cpp'],
};

/** `precision-lens export`: turn a plan into ONNX Runtime quantization settings, a llama-quantize command, or the plan JSON. */
export async function exportCommand(values: OptionValues, positionals: readonly string[], io: CliOutput): Promise<number> {
  const to = EXPORT_ALIASES.get(str(values, 'to')!.toLowerCase())!;
  const json = flag(values, 'json');
  const output = str(values, 'output');
  const checked = await loadCheckedPlan(positionals[0]!, str(values, 'model'), io, str(values, 'targets-file'));
  const plan = checked.parsed.plan!;
  if (to === 'ort' && checked.model.format !== 'onnx') {
    throw new CliError(`${checked.model.fileName}: --to ort writes ONNX Runtime quantization settings, which need an ONNX model; this plan is for a ${checked.model.format} model: use --to llama.cpp${checked.model.format === 'gguf' ? '' : ' (after converting it to GGUF)'} or --to json.`);
  }
  const { assignment } = checked;
  const modelFile = path.basename(checked.modelPath);
  let text: string;
  if (to === 'ort') {
    const e = exportOrt(checked.model, assignment, { input: modelFile });
    for (const w of e.warnings) io.err(`warning: ${w}`);
    text = json ? JSON.stringify({ nodes_to_exclude: e.nodes_to_exclude, op_types_to_quantize: e.op_types_to_quantize, TensorQuantOverrides: e.TensorQuantOverrides, warnings: e.warnings }, null, 2) : e.python;
  } else if (to === 'gptqmodel') {
    const e = exportGptqModel(checked.model, assignment, { input: path.dirname(checked.modelPath) });
    for (const w of e.warnings) io.err(`warning: ${w}`);
    text = json ? JSON.stringify({ quantize_config: e.quantize_config, warnings: e.warnings }, null, 2) : e.python;
  } else if (to === 'llm-compressor') {
    const e = exportLlmCompressor(checked.model, assignment, { input: path.dirname(checked.modelPath) });
    for (const w of e.warnings) io.err(`warning: ${w}`);
    text = json ? JSON.stringify({ recipe: e.recipe, python: e.python, warnings: e.warnings }, null, 2) : e.yaml;
  } else if (to === 'json') {
    text = json ? JSON.stringify({ plan, assignment }, null, 2) : serializePlan(plan);
  } else {
    const e = exportLlamaCpp(checked.model, assignment, checked.model.format === 'gguf' ? { input: modelFile } : {});
    for (const w of e.warnings) io.err(`warning: ${w}`);
    text = json ? JSON.stringify({ argv: e.argv, command: e.command, baseType: e.baseType, warnings: e.warnings }, null, 2) : e.command;
  }
  if (output) {
    // Never over the plan, the model or its data (by inode); written to a temporary and renamed into place.
    await writeOutputFile(output, text.endsWith('\n') ? text : `${text}\n`, { inputs: [positionals[0]!, checked.modelPath, ...modelDataFiles(checked.modelPath, checked.model)] });
    io.out(`wrote ${output}`);
  } else io.out(text.replace(/\n$/, ''));
  return 0;
}
