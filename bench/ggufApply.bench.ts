/**
 * GGUF apply benchmark: a generated llama-shaped F16 GGUF (2 blocks, embedding 1024, FFN 2816, vocabulary 8192:
 * ~39 M parameters, ~79 MB; random weights, norms 1) written tensor by tensor into a temp folder, then
 * `applyPlanToGguf` in a fresh process per plan, so each reports its own peak RSS:
 * - uniform Q8_0 and uniform Q4_0 (fast block formats),
 * - a Q4_K_M-like mix (Q4_K; Q6_K for attn_v, ffn_down and the head), the k-quant search being the slow part,
 *   once on one thread (`q4_k_m@1`) and once on the default worker threads (one per core): the speed-up and a
 *   check that both outputs are bit-identical (sha256; the run fails otherwise).
 * - the same Q4_K_M-like plan on one thread with the plain JavaScript K-quant scale search (`q4_k_m@1js`, what
 *   apply ran before the WebAssembly search, kept as the reference): before/after in the same run, and a check
 *   that both write the same bytes; the run fails unless the WebAssembly search is ≥ 3× faster and bit-identical.
 * Reports seconds, MB/s of input, output size, the process's RSS before apply and its peak during apply. Streaming
 * (chunks of MAX_APPLY_CHUNK_ELEMENTS = 4 Mi elements: F16 source 8 MiB, float32 16 MiB, output, one copy chunk
 * 16 MiB; with worker threads ~16 MiB / workers per chunk, as many in flight as workers) bounds the growth by a
 * constant, not by the model: the run fails if peak − baseline exceeds 128 MB + 64 MB per worker thread.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeGgufU32, GGUF_VALUE_TYPE, layoutGguf, quantizeGgml, seededRandom, setKquantSearchBackend, type GgufKvOut, type GgufTensorOut } from '../src/core';
import { applyPlanToGguf } from '../src/node/applyGguf';

const EMBD = 1024, FFN = 2816, VOCAB = 8192, BLOCKS = 2;

/** Writes the model tensor by tensor (never the whole file in memory). */
async function generate(file: string): Promise<{ bytes: number; params: number }> {
  const text = new TextEncoder();
  const str = (s: string): Uint8Array => {
    const b = text.encode(s);
    const out = new Uint8Array(8 + b.length);
    new DataView(out.buffer).setUint32(0, b.length, true);
    out.set(b, 8);
    return out;
  };
  const kvs: GgufKvOut[] = [
    { key: 'general.architecture', valueType: GGUF_VALUE_TYPE.STRING, value: str('llama') },
    { key: 'llama.block_count', valueType: GGUF_VALUE_TYPE.UINT32, value: encodeGgufU32(BLOCKS) },
    { key: 'llama.embedding_length', valueType: GGUF_VALUE_TYPE.UINT32, value: encodeGgufU32(EMBD) },
    { key: 'llama.feed_forward_length', valueType: GGUF_VALUE_TYPE.UINT32, value: encodeGgufU32(FFN) },
    { key: 'llama.attention.head_count', valueType: GGUF_VALUE_TYPE.UINT32, value: encodeGgufU32(16) },
    { key: 'llama.attention.head_count_kv', valueType: GGUF_VALUE_TYPE.UINT32, value: encodeGgufU32(4) },
  ];
  const t: GgufTensorOut[] = [{ name: 'token_embd.weight', ne: [EMBD, VOCAB], dtype: 'float16' }];
  for (let b = 0; b < BLOCKS; b++) {
    t.push(
      { name: `blk.${b}.attn_norm.weight`, ne: [EMBD], dtype: 'float32' },
      { name: `blk.${b}.attn_q.weight`, ne: [EMBD, EMBD], dtype: 'float16' },
      { name: `blk.${b}.attn_k.weight`, ne: [EMBD, 256], dtype: 'float16' },
      { name: `blk.${b}.attn_v.weight`, ne: [EMBD, 256], dtype: 'float16' },
      { name: `blk.${b}.attn_output.weight`, ne: [EMBD, EMBD], dtype: 'float16' },
      { name: `blk.${b}.ffn_norm.weight`, ne: [EMBD], dtype: 'float32' },
      { name: `blk.${b}.ffn_gate.weight`, ne: [EMBD, FFN], dtype: 'float16' },
      { name: `blk.${b}.ffn_up.weight`, ne: [EMBD, FFN], dtype: 'float16' },
      { name: `blk.${b}.ffn_down.weight`, ne: [FFN, EMBD], dtype: 'float16' },
    );
  }
  t.push({ name: 'output_norm.weight', ne: [EMBD], dtype: 'float32' }, { name: 'output.weight', ne: [EMBD, VOCAB], dtype: 'float16' });
  const layout = layoutGguf(3, kvs, t, 32);
  const h = await fs.open(file, 'w');
  const rnd = seededRandom(5);
  let params = 0;
  try {
    await h.write(layout.header, 0, layout.header.length, 0);
    for (let i = 0; i < t.length; i++) {
      const n = t[i]!.ne.reduce((a, b) => a * b, 1);
      params += n;
      const v = new Float32Array(n);
      for (let k = 0; k < n; k++) v[k] = t[i]!.ne.length === 1 ? 1 : 0.04 * (rnd() + rnd() + rnd() - 1.5);
      const bytes = quantizeGgml(t[i]!.dtype, v);
      await h.write(bytes, 0, bytes.length, layout.dataOffset + layout.tensorOffsets[i]!);
    }
    await h.truncate(layout.fileBytes);
  } finally {
    await h.close();
  }
  return { bytes: layout.fileBytes, params };
}

function planFor(kind: string): Record<string, string> {
  const a: Record<string, string> = { 'token_embd.weight': kind === 'q4_k_m' ? 'q4_k' : kind, 'output.weight': kind === 'q4_k_m' ? 'q6_k' : kind };
  for (let b = 0; b < BLOCKS; b++) {
    for (const n of ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down']) {
      a[`blk.${b}.${n}.weight`] = kind !== 'q4_k_m' ? kind : n === 'attn_v' || n === 'ffn_down' ? 'q6_k' : 'q4_k';
    }
  }
  return a;
}

async function child(input: string, kind: string, out: string): Promise<void> {
  const baselineRssMb = process.memoryUsage().rss / 2 ** 20;
  // 'q4_k_m@1': the same plan on this thread only (workers: 0), to compare with the default worker threads;
  // 'q4_k_m@1js': on this thread with the reference JavaScript K-quant search (the implementation before WebAssembly).
  const [plan, threads] = kind.split('@');
  if (threads === '1js') setKquantSearchBackend('js');
  const r = await applyPlanToGguf(input, planFor(plan!), out, threads === '1' || threads === '1js' ? { workers: 0 } : {});
  const sha = createHash('sha256').update(await fs.readFile(out)).digest('hex');
  console.log(JSON.stringify({ seconds: r.seconds, outBytes: r.fileBytes, baselineRssMb, peakRssMb: process.resourceUsage().maxRSS / 1024, workers: r.workers, sha }));
}

/** Most RSS growth allowed during apply (MB): a few chunk buffers, independent of the model's size. */
const MAX_GROWTH_MB = 128;
/**
 * Plus, per worker thread, its own V8 isolate and loaded code (from sources each worker also loads tsx; ~40–50 MB
 * measured): a fixed cost per thread, not per model byte.
 */
const WORKER_GROWTH_MB = 64;

async function main(): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-bench-gguf-apply-'));
  try {
    const input = path.join(dir, 'model-f16.gguf');
    const g = await generate(input);
    const mb = g.bytes / 1e6;
    console.log(`input: generated llama-shaped F16 GGUF, ${(g.params / 1e6).toFixed(1)} M params, ${mb.toFixed(1)} MB (${BLOCKS} blocks, embedding ${EMBD}, FFN ${FFN}, vocab ${VOCAB})`);
    let failed = false;
    const seconds = new Map<string, number>();
    const shas = new Map<string, string>();
    for (const kind of ['q8_0', 'q4_0', 'q4_k_m@1js', 'q4_k_m@1', 'q4_k_m']) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--child', input, kind, path.join(dir, `out-${kind}.gguf`)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`apply ${kind} failed: ${r.stderr}`);
      const m = JSON.parse(r.stdout.trim().split('\n').pop()!) as { seconds: number; outBytes: number; baselineRssMb: number; peakRssMb: number; workers: number; sha: string };
      const growth = m.peakRssMb - m.baselineRssMb;
      seconds.set(kind, m.seconds);
      shas.set(kind, m.sha);
      console.log(`apply ${kind.padEnd(10)}: ${m.workers} worker thread(s), ${m.seconds.toFixed(2)} s (${(mb / m.seconds).toFixed(1)} MB/s of input, ${(g.params / 1e6 / m.seconds).toFixed(2)} M params/s), output ${(m.outBytes / 1e6).toFixed(1)} MB, RSS ${m.baselineRssMb.toFixed(0)} MB before → peak ${m.peakRssMb.toFixed(0)} MB (+${growth.toFixed(0)} MB; input ${mb.toFixed(0)} MB)`);
      if (growth > MAX_GROWTH_MB + WORKER_GROWTH_MB * m.workers) failed = true;
      await fs.rm(path.join(dir, `out-${kind}.gguf`), { force: true });
    }
    const one = seconds.get('q4_k_m@1')!, many = seconds.get('q4_k_m')!;
    console.log(`q4_k_m on worker threads vs one thread: ${(one / many).toFixed(2)}× faster (${(g.params / 1e6 / one).toFixed(2)} → ${(g.params / 1e6 / many).toFixed(2)} M params/s); output ${shas.get('q4_k_m') === shas.get('q4_k_m@1') ? 'bit-identical' : 'DIFFERENT'} (sha256 ${shas.get('q4_k_m')!.slice(0, 12)})`);
    if (shas.get('q4_k_m') !== shas.get('q4_k_m@1')) failed = true;
    const js = seconds.get('q4_k_m@1js')!;
    const searchOk = js / one >= 3 && shas.get('q4_k_m@1js') === shas.get('q4_k_m@1');
    console.log(`q4_k_m on one thread, WebAssembly K-quant search vs the reference JavaScript search (before): ${(js / one).toFixed(2)}× faster (${js.toFixed(2)} → ${one.toFixed(2)} s); output ${shas.get('q4_k_m@1js') === shas.get('q4_k_m@1') ? 'bit-identical' : 'DIFFERENT'}; goal ≥ 3× and identical: ${searchOk ? 'PASS' : 'MISS'}`);
    if (!searchOk) failed = true;
    if (failed) {
      console.error(`RSS grew by more than ${MAX_GROWTH_MB} MB (+${WORKER_GROWTH_MB} MB per worker thread) during apply, the threaded or reference-search output differs, or the WebAssembly search is under 3× the reference: not streaming, not bit-identical, or slow.`);
      process.exitCode = 1;
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') void child(process.argv[3]!, process.argv[4]!, process.argv[5]!);
else void main();
