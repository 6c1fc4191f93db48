/**
 * Builds the workspace a test opens: real models copied from ../shared/models into a fresh temp folder, plus the
 * source files and plan files a user would have beside them. Nothing is written into the repository.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MODELS } from './codeServer';

/** Models copied into `<workspace>/models/` (relative to ../shared/models). */
export const WORKSPACE_MODELS = [
  'onnx/mnist-12.onnx',
  'onnx/tiny-random-gpt2-fp32.onnx',
  'gguf/stories260K.gguf',
  'safetensors/silero_vad_16k.safetensors',
  'tflite/person_detect.tflite',
] as const;

/** Creates the workspace folder `dir` and returns it. */
export function makeWorkspace(dir: string, extraFiles: Record<string, string> = {}): string {
  if (!fs.existsSync(MODELS)) throw new Error(`${MODELS} is missing: the real model corpus must sit beside the repository (../shared/models).`);
  fs.mkdirSync(path.join(dir, 'models'), { recursive: true });
  for (const rel of WORKSPACE_MODELS) fs.copyFileSync(path.join(MODELS, rel), path.join(dir, 'models', path.basename(rel)));
  const files: Record<string, string> = {
    'infer.py': [
      'import onnxruntime as ort',
      'from llama_cpp import Llama',
      '',
      '# Precision Lens shows a lens above each line naming a model file in this workspace.',
      'session = ort.InferenceSession("models/mnist-12.onnx")',
      'llm = Llama(model_path="models/stories260K.gguf")',
      'missing = ort.InferenceSession("models/not-here.onnx")',
      '',
    ].join('\n'),
    'load.ts': [
      "import * as ort from 'onnxruntime-node';",
      '',
      "export const session = ort.InferenceSession.create('./models/tiny-random-gpt2-fp32.onnx');",
      '',
    ].join('\n'),
    ...extraFiles,
  };
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}
