/**
 * llama.cpp evaluation (node-llama-cpp, CPU) of GGUF models against an original: stories260K against itself
 * (KL exactly 0, same perplexity), against copies with one tensor perturbed in place (KL > 0, grows with the
 * perturbation), and the errors for a truncated file and for NaN weights (named with the tensor types).
 * Run: node --import tsx --test test/integration/llamaEval.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openModel } from '../../src/core';
import { openModelFile } from '../../src/node/fileByteSource';
import { LlamaEvalError, LlamaEvaluator, loadCalibrationText } from '../../src/node/llamaEval';
import { SHARED_MODELS } from './sharedModels';

const STORIES = path.join(SHARED_MODELS, 'gguf/stories260K.gguf');

/** A copy of stories260K with `tensor`'s F32 values changed by `f` in place (same layout, different bytes). */
async function perturbedCopy(dir: string, name: string, tensor: string, f: (v: number, i: number) => number): Promise<string> {
  const opened = await openModelFile(STORIES);
  const model = await openModel(opened.source, {});
  await opened.close();
  const t = model.tensors.find((x) => x.name === tensor)!;
  assert.equal(t.dtype, 'float32');
  const bytes = new Uint8Array(await fs.readFile(STORIES));
  const values = new Float32Array(bytes.buffer, bytes.byteOffset + t.byteOffset, t.byteLength / 4);
  for (let i = 0; i < values.length; i++) values[i] = f(values[i]!, i);
  const out = path.join(dir, name);
  await fs.writeFile(out, bytes);
  return out;
}

test('stories260K: KL against itself is 0, perturbations raise KL and perplexity, failures name tensor types', { timeout: 240_000 }, async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'llamaeval-test-'));
  const ev = LlamaEvaluator.start();
  try {
    const text = await loadCalibrationText();
    assert.equal(text.origin, 'bundled');
    const ref = await ev.reference(STORIES, text);
    assert.equal(ref.vocabularySize, 512);
    assert.equal(ref.stored, 'full');
    assert.ok(ref.positions > 300, `${ref.positions} positions`);
    // A model trained on TinyStories predicts the bundled tales far better than chance (512 tokens).
    assert.ok(ref.perplexity > 1 && ref.perplexity < 30, `perplexity ${ref.perplexity}`);

    const self = await ev.compare(STORIES);
    assert.equal(self.klDivergence, 0);
    assert.equal(self.top1Agreement, 1);
    assert.equal(self.perplexity, ref.perplexity);
    assert.equal(self.klBound, 'exact');

    const small = await ev.compare(await perturbedCopy(dir, 'small.gguf', 'blk.2.ffn_down.weight', (v, i) => v * (1 + 0.05 * Math.sin(i))));
    const large = await ev.compare(await perturbedCopy(dir, 'large.gguf', 'blk.2.ffn_down.weight', (v, i) => v * (1 + 0.3 * Math.sin(i))));
    assert.ok(small.klDivergence > 0 && small.klDivergence < large.klDivergence, `${small.klDivergence} vs ${large.klDivergence}`);
    assert.ok(large.top1Agreement < 1);
    assert.ok(large.perplexity > ref.perplexity);

    // Bounded reference memory: top-k distributions give a lower bound of the exact KL.
    const evTop = LlamaEvaluator.start();
    try {
      await evTop.reference(STORIES, text, { maxReferenceBytes: 1024, topK: 8 });
      const bounded = await evTop.compare(path.join(dir, 'large.gguf'));
      assert.equal(bounded.klBound, 'lower-bound');
      assert.equal(bounded.topK, 8);
      assert.ok(bounded.klDivergence <= large.klDivergence + 1e-9 && bounded.klDivergence > 0);
    } finally {
      evTop.dispose();
    }

    const nan = await perturbedCopy(dir, 'nan.gguf', 'blk.1.attn_q.weight', () => NaN);
    await assert.rejects(ev.compare(nan), (e: unknown) => e instanceof LlamaEvalError && e.code === 'non-finite' && /F32 ×48/.test(e.message));
    const truncated = path.join(dir, 'truncated.gguf');
    await fs.writeFile(truncated, (await fs.readFile(STORIES)).subarray(0, 700_000));
    await assert.rejects(ev.compare(truncated), (e: unknown) => e instanceof LlamaEvalError && (e.code === 'load-failed' || e.code === 'process-exit') && /Tensor types/.test(e.message));
  } finally {
    ev.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  }
});
