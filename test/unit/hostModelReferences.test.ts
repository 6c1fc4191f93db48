import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findModelReferences, isModelFileName, pickModelInFolder } from '../../src/core/editor/modelReferences';

test('finds model files named in Python loader calls, with exact columns', () => {
  const src = [
    'import onnxruntime as ort',
    'sess = ort.InferenceSession("models/mnist-12.onnx")',
    "tok = AutoTokenizer.from_pretrained('./llama')",
    'llm = Llama(model_path=r"C:\\models\\x.gguf")',
    'print("hello world")',
    '# InferenceSession("commented.onnx")',
    'weights = load_file("w.safetensors")  # "ignored.onnx"',
  ].join('\n');
  const refs = findModelReferences(src, 'python');
  assert.deepEqual(refs.map((r) => [r.line, r.value, r.kind]), [
    [1, 'models/mnist-12.onnx', 'file'],
    [2, './llama', 'folder'],
    [3, 'C:\\models\\x.gguf', 'file'],
    [6, 'w.safetensors', 'file'],
  ]);
  const line1 = src.split('\n')[1]!;
  assert.equal(line1.slice(refs[0]!.startColumn, refs[0]!.endColumn), '"models/mnist-12.onnx"');
});

test('JavaScript: escapes resolved, template literals with ${} skipped, // comments end the scan', () => {
  const src = [
    "const s = await ort.InferenceSession.create('a\\'b.onnx');",
    'const t = await InferenceSession.create(`${dir}/model.onnx`);',
    "const u = load('model.tflite'); // 'x.gguf'",
    'const hub = AutoModel.from_pretrained("https://huggingface.co/x/model.onnx");',
  ].join('\n');
  const refs = findModelReferences(src, 'javascript');
  assert.deepEqual(refs.map((r) => r.value), ["a'b.onnx", 'model.tflite']);
});

test('path-like strings count as folders only on loader lines; Hub ids are left to the caller', () => {
  const refs = findModelReferences('x = "./not-a-loader"\nm = AutoModelForCausalLM.from_pretrained("org/model", revision="main")\n');
  assert.deepEqual(refs.map((r) => [r.line, r.value, r.kind]), [[1, 'org/model', 'folder']]);
});

test('bounded on hostile input: very long lines are skipped, unterminated strings stop the line', () => {
  const long = `x = "${'a'.repeat(10000)}.onnx"`;
  assert.deepEqual(findModelReferences(`${long}\ny = InferenceSession("ok.onnx`), []);
  const many = Array.from({ length: 1000 }, (_, i) => `InferenceSession("m${i}.onnx")`).join('\n');
  assert.equal(findModelReferences(many).length, 200);
});

test('model file names and folder picks', () => {
  assert.ok(isModelFileName('Model.ONNX'));
  assert.ok(isModelFileName('model.safetensors.index.json'));
  assert.ok(!isModelFileName('.onnx'));
  assert.ok(!isModelFileName('config.json'));
  assert.equal(pickModelInFolder(['config.json', 'model-00001-of-00002.safetensors', 'model.safetensors.index.json']), 'model.safetensors.index.json');
  assert.equal(pickModelInFolder(['tokenizer.json', 'b.gguf', 'a.onnx']), 'b.gguf');
  assert.equal(pickModelInFolder(['README.md']), undefined);
});
