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
  writeShardedCopy(path.join(MODELS, 'safetensors/silero_vad_16k.safetensors'), path.join(dir, 'models/sharded'), 'model');
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

/**
 * Splits a real safetensors file into two shards plus a Hugging Face `<base>.safetensors.index.json`
 * (tensors and bytes unchanged, only the headers' offsets rebased): a sharded model built from a real one.
 */
export function writeShardedCopy(source: string, folder: string, base: string): void {
  const bytes = fs.readFileSync(source);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const half = Math.ceil(names.length / 2);
  const shards = [names.slice(0, half), names.slice(half)];
  fs.mkdirSync(folder, { recursive: true });
  const weightMap: Record<string, string> = {};
  let total = 0;
  shards.forEach((group, i) => {
    const file = `${base}-0000${i + 1}-of-00002.safetensors`;
    const out: Record<string, unknown> = {};
    const parts: Buffer[] = [];
    let offset = 0;
    for (const name of group) {
      const t = header[name]!;
      const data = bytes.subarray(8 + headerLength + t.data_offsets[0], 8 + headerLength + t.data_offsets[1]);
      out[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + data.length] };
      parts.push(data);
      offset += data.length;
      weightMap[name] = file;
    }
    total += offset;
    let json = JSON.stringify(out);
    json += ' '.repeat((8 - (json.length % 8)) % 8);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    fs.writeFileSync(path.join(folder, file), Buffer.concat([len, Buffer.from(json), ...parts]));
  });
  fs.writeFileSync(path.join(folder, `${base}.safetensors.index.json`), `${JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2)}\n`);
}
