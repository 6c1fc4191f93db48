/**
 * GGUF apply: quantizers, writer and the streamed node writer, hermetically (generated models in a temp dir).
 * The central check: dequantizing what apply writes equals the sensitivity code's simulation (`fakeQuantize`)
 * of that format, bit for bit (Object.is per element, so −0 and NaN count).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DEFAULT_LIMITS, GgufApplyError, MemoryByteSource, NO_SIBLINGS, decodeElements, dtypeInfo, fakeQuantize, getNumberFormat, ggmlDtypeForFormat, quantizeGgml,
  readGgufHeader, seededRandom, GGML_WRITABLE_DTYPES, type GgufHeader,
} from '../../src/core';
import { applyPlanToGguf } from '../../src/node/applyGguf';
import { OutputError } from '../../src/node/safeOutput';
import { GGUF, kv, buildGguf, llamaGguf, type BuiltGguf } from '../fixtures/buildGguf';

/** Weights with the shapes quantizers meet: Gaussian bulk, a few outliers, an all-zero block, a constant block. */
function weights(n: number, seed: number): Float32Array {
  const rnd = seededRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rnd(), 1e-12), v = rnd();
    out[i] = 0.02 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    if (rnd() < 0.002) out[i] = out[i]! * 40;
  }
  if (n >= 1024) {
    out.fill(0, 256, 512);
    out.fill(0.0123, 512, 768);
  }
  return out;
}

function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.fail(`${what}: element ${i} is ${a[i]} written, ${b[i]} simulated`);
}

const PLAN_FORMATS = ['fp32', 'fp16', 'bf16', 'q8_0', 'q6_k', 'q5_k', 'q5_0', 'q4_k', 'q4_0', 'q3_k', 'q2_k', 'iq4_nl', 'tq2_0', 'tq1_0', 'q1_0', 'q4_1', 'q5_1', 'q2_0', 'binary'];

test('every required type is writable, and dequantize(what we write) equals the simulation bit for bit', () => {
  for (const id of ['float32', 'float16', 'bfloat16', 'q8_0', 'q6_k', 'q5_k', 'q5_0', 'q4_k', 'q4_0', 'q3_k', 'q2_k', 'iq4_nl', 'tq2_0', 'tq1_0', 'q1_0']) {
    assert.ok(GGML_WRITABLE_DTYPES.includes(id), id);
  }
  const x = weights(256 * 12, 7);
  for (const id of PLAN_FORMATS) {
    const dtype = ggmlDtypeForFormat(id)!;
    assert.ok(dtype, id);
    const bytes = quantizeGgml(dtype, x);
    const info = dtypeInfo(dtype)!;
    assert.equal(bytes.length, (x.length / info.blockSize) * info.bytesPerBlock, `${id} size`);
    const written = decodeElements(dtype, bytes, x.length);
    const simulated = fakeQuantize(x, [12, 256], getNumberFormat(id)!);
    sameBits(written, simulated, id);
  }
});

test('reference rounding details: q8_0 and q4_0 codes, an all-zero block, and q4_0 ties', () => {
  // q8_0: d = fp16(amax/127) = fp16(1/127), codes roundf(x·127) (half away from zero).
  const x = new Float32Array(32);
  x[0] = 1;
  x[1] = -0.5;
  x[2] = 0.5 / 127 + 1e-9;
  const b = quantizeGgml('q8_0', x);
  assert.equal(b[2], 127);
  assert.equal((b[3]! << 24) >> 24, -64); // −63.5 → −64 (away from zero)
  assert.equal(b[4], 1);
  // q4_0: d = max/−8 with the signed max; the max element maps to code 0 (−8·d).
  const y = new Float32Array(32);
  y[0] = -2;
  y[1] = 1;
  const q = quantizeGgml('q4_0', y);
  assert.equal(q[2]! & 0xf, 0);
  assert.equal(q[3]! & 0xf, 12); // d = −2/−8 = 0.25: 1/0.25 = 4 → trunc(4 + 8.5) = 12 → (12 − 8)·d = 1
  // All-zero blocks decode to zeros for every type.
  for (const id of GGML_WRITABLE_DTYPES) {
    const bs = dtypeInfo(id)!.blockSize;
    const z = decodeElements(id, quantizeGgml(id, new Float32Array(Math.max(bs, 256))), Math.max(bs, 256));
    assert.ok(z.every((v) => v === 0), id);
  }
});

//#region generated GGUF files

/** A llama-shaped F32 GGUF (rows of 256, so K-quants apply) filled with weights(). */
function llamaFile(type = 0): { built: BuiltGguf; values: Map<string, Float32Array> } {
  const built = llamaGguf({ blocks: 2, embd: 256, ffn: 512, vocab: 64, type });
  const header = readGgufHeaderSync(built.bytes);
  const values = new Map<string, Float32Array>();
  header.forEach((t, i) => {
    const n = t.ne.reduce((a, b) => a * b, 1);
    const v = weights(n, 100 + i);
    values.set(t.name, v);
    const at = built.dataOffset + t.offset;
    if (t.type === 0) new Uint8Array(built.bytes.buffer, built.bytes.byteOffset + at, n * 4).set(new Uint8Array(v.buffer));
    else if (t.type === GGUF_Q4_0) built.bytes.set(quantizeGgml('q4_0', v), at);
  });
  return { built, values };
}
const GGUF_Q4_0 = 2;

/** Tensor infos straight from the fixture's bytes (what buildGguf placed). */
function readGgufHeaderSync(bytes: Uint8Array): { name: string; ne: number[]; type: number; offset: number }[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 8;
  const u64 = (): number => {
    const v = dv.getUint32(p, true) + dv.getUint32(p + 4, true) * 2 ** 32;
    p += 8;
    return v;
  };
  const nT = u64(), nKv = u64();
  const str = (): string => {
    const n = u64();
    const s = new TextDecoder().decode(bytes.subarray(p, p + n));
    p += n;
    return s;
  };
  const skipValue = (type: number): void => {
    const sizes: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
    if (type === 8) str();
    else if (type === 9) {
      const it = dv.getUint32(p, true);
      p += 4;
      const n = u64();
      for (let i = 0; i < n; i++) skipValue(it);
    } else p += sizes[type]!;
  };
  for (let i = 0; i < nKv; i++) {
    str();
    const t = dv.getUint32(p, true);
    p += 4;
    skipValue(t);
  }
  const out = [];
  for (let i = 0; i < nT; i++) {
    const name = str();
    const nd = dv.getUint32(p, true);
    p += 4;
    const ne: number[] = [];
    for (let d = 0; d < nd; d++) ne.push(u64());
    const type = dv.getUint32(p, true);
    p += 4;
    out.push({ name, ne, type, offset: u64() });
  }
  return out;
}

async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'pl-gguf-apply-'));
}

async function header(file: string): Promise<{ h: GgufHeader; bytes: Uint8Array }> {
  const bytes = new Uint8Array(await fs.readFile(file));
  const h = await readGgufHeader(new MemoryByteSource(path.basename(file), bytes), { limits: DEFAULT_LIMITS, token: undefined, siblings: NO_SIBLINGS });
  return { h, bytes };
}

const ASSIGN: Readonly<Record<string, string>> = {
  'token_embd.weight': 'q4_k',
  'blk.0.attn_q.weight': 'q6_k',
  'blk.0.attn_k.weight': 'q5_k',
  'blk.0.attn_v.weight': 'q5_0',
  'blk.0.attn_output.weight': 'q3_k',
  'blk.0.ffn_gate.weight': 'q2_k',
  'blk.0.ffn_up.weight': 'iq4_nl',
  'blk.0.ffn_down.weight': 'tq2_0',
  'blk.1.attn_q.weight': 'tq1_0',
  'blk.1.attn_k.weight': 'q1_0',
  'blk.1.attn_v.weight': 'q8_0',
  'blk.1.attn_output.weight': 'q4_0',
  'blk.1.ffn_gate.weight': 'bf16',
  'blk.1.ffn_up.weight': 'fp16',
  'blk.1.ffn_down.weight': 'keep',
  'output.weight': 'q6_k',
};
//#endregion

test('apply writes a GGUF whose tensors decode to the simulation; metadata, alignment and file_type are right', async () => {
  const dir = await tempDir();
  try {
    const { built, values } = llamaFile();
    const input = path.join(dir, 'in.gguf');
    await fs.writeFile(input, built.bytes);
    const progress: number[] = [];
    const result = await applyPlanToGguf(input, ASSIGN, path.join(dir, 'out.gguf'), { onProgress: (done) => progress.push(done) });
    const src = await header(input);
    const out = await header(path.join(dir, 'out.gguf'));
    assert.equal(out.bytes.length, result.fileBytes);
    assert.equal(out.h.alignment, 32);
    assert.equal(out.h.dataOffset % 32, 0);
    // Metadata copied verbatim (same keys, same value bytes), plus general.file_type and general.quantization_version.
    for (const kvIn of src.h.kvs) {
      const o = out.h.kvs.find((k) => k.key === kvIn.key)!;
      assert.deepEqual(out.bytes.subarray(o.valueOffset, o.valueEnd), src.bytes.subarray(kvIn.valueOffset, kvIn.valueEnd), kvIn.key);
    }
    assert.equal(out.h.model.metadata['general.quantization_version'], 2);
    // Most common written matrix type: two Q6_K → LLAMA_FTYPE_MOSTLY_Q6_K = 18.
    assert.equal(out.h.model.metadata['general.file_type'], 18);
    for (const t of out.h.model.tensors) {
      const v = values.get(t.name)!;
      const id = ASSIGN[t.name];
      const decoded = decodeElements(t.dtype, out.bytes.subarray(t.byteOffset, t.byteOffset + t.byteLength), t.elementCount);
      if (id === undefined || id === 'keep' || t.shape.length < 2) {
        assert.equal(t.dtype, 'float32', t.name);
        sameBits(decoded, v, t.name);
        continue;
      }
      assert.equal(t.dtype, ggmlDtypeForFormat(id), t.name);
      sameBits(decoded, fakeQuantize(v, t.shape, getNumberFormat(id)!), t.name);
    }
    assert.ok(progress.length > 0 && progress.at(-1)! === result.tensors.reduce((a, t) => a + t.bytes, 0));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('rows that are not whole blocks fall back like llama-quantize; a plan format GGUF cannot store is refused', async () => {
  const dir = await tempDir();
  try {
    const built = llamaGguf({ blocks: 1, embd: 64, ffn: 96, vocab: 32 });
    const input = path.join(dir, 'small.gguf');
    await fs.writeFile(input, built.bytes);
    const r = await applyPlanToGguf(input, { 'blk.0.attn_q.weight': 'q4_k', 'blk.0.attn_k.weight': 'q6_k', 'blk.0.ffn_down.weight': 'q4_0', 'blk.0.ffn_up.weight': 'tq1_0' }, path.join(dir, 'o.gguf'));
    const to = new Map(r.tensors.map((t) => [t.name, t.to]));
    assert.equal(to.get('blk.0.attn_q.weight'), 'q5_0');
    assert.equal(to.get('blk.0.attn_k.weight'), 'q8_0');
    assert.equal(to.get('blk.0.ffn_down.weight'), 'q4_0'); // rows of 96
    assert.equal(to.get('blk.0.ffn_up.weight'), 'q4_0');
    assert.ok(r.warnings.some((w) => /Q4_K's block of 256; stored as Q5_0/.test(w)));
    await assert.rejects(applyPlanToGguf(input, { 'blk.0.attn_q.weight': 'int8' }, path.join(dir, 'o2.gguf')), (e: unknown) => e instanceof GgufApplyError && e.code === 'unsupported-format');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('re-quantizing a low-precision source is refused with the reason unless forced; same type is copied', async () => {
  const dir = await tempDir();
  try {
    const { built } = llamaFile(GGUF_Q4_0);
    const input = path.join(dir, 'q4.gguf');
    await fs.writeFile(input, built.bytes);
    await assert.rejects(applyPlanToGguf(input, { 'blk.0.attn_q.weight': 'q8_0' }, path.join(dir, 'o.gguf')), (e: unknown) => {
      assert.ok(e instanceof GgufApplyError && e.code === 'requantize');
      assert.match((e as Error).message, /blk\.0\.attn_q\.weight \(Q4_0 → Q8_0\).*compounds both errors.*--force/);
      return true;
    });
    await assert.rejects(fs.stat(path.join(dir, 'o.gguf')));
    const forced = await applyPlanToGguf(input, { 'blk.0.attn_q.weight': 'q8_0', 'blk.0.attn_k.weight': 'q4_0' }, path.join(dir, 'o.gguf'), { force: true });
    const byName = new Map(forced.tensors.map((t) => [t.name, t]));
    assert.equal(byName.get('blk.0.attn_q.weight')!.to, 'q8_0');
    assert.equal(byName.get('blk.0.attn_k.weight')!.action, 'copy');
    assert.ok(forced.warnings.some((w) => /re-quantized/.test(w)));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('never writes over its input (same path, symlink, hard link); cancel leaves no file behind', async () => {
  const dir = await tempDir();
  try {
    const built = buildGguf({ kvs: [kv.str('general.architecture', 'llama')], tensors: [{ name: 'w', dims: [32, 4], type: 0 }] });
    const input = path.join(dir, 'm.gguf');
    await fs.writeFile(input, built.bytes);
    await fs.symlink(input, path.join(dir, 'sym.gguf'));
    await fs.link(input, path.join(dir, 'hard.gguf'));
    for (const target of ['m.gguf', 'sym.gguf', 'hard.gguf']) {
      await assert.rejects(applyPlanToGguf(input, { w: 'q8_0' }, path.join(dir, target)), (e: unknown) => e instanceof OutputError && e.code === 'output-is-input', target);
    }
    assert.deepEqual(new Uint8Array(await fs.readFile(input)), built.bytes);
    const token = { isCancellationRequested: true };
    await assert.rejects(applyPlanToGguf(input, { w: 'q8_0' }, path.join(dir, 'c.gguf'), { token }), /cancelled/);
    assert.deepEqual((await fs.readdir(dir)).sort(), ['hard.gguf', 'm.gguf', 'sym.gguf']);
    void GGUF;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('apply on worker threads writes the same bytes as on one thread, across many chunk boundaries', async () => {
  const dir = await tempDir();
  try {
    const { built } = llamaFile();
    const input = path.join(dir, 'in.gguf');
    await fs.writeFile(input, built.bytes);
    const inline = await applyPlanToGguf(input, ASSIGN, path.join(dir, 'one.gguf'), { workers: 0, maxChunkElements: 1024 });
    const threaded = await applyPlanToGguf(input, ASSIGN, path.join(dir, 'two.gguf'), { workers: 2, maxChunkElements: 1024 });
    assert.equal(threaded.workers, 2, 'the worker pool ran');
    assert.equal(inline.workers, 0);
    assert.equal(threaded.fileBytes, inline.fileBytes);
    assert.ok(Buffer.from(await fs.readFile(path.join(dir, 'two.gguf'))).equals(await fs.readFile(path.join(dir, 'one.gguf'))), 'bit-identical output');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
