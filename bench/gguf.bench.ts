/**
 * GGUF benchmark: a ~2 GB llama-style GGUF (32 blocks, hidden 2560, FFN 6912; ~290 tensors of mixed ggml types:
 * Q4_K / Q5_K / Q6_K matrices, Q8_0 embeddings and head, F32 norms) with a 128256-token vocabulary (tokens, scores,
 * token types, merges), written sparsely in a temp folder (header, then ftruncate). Compares our parse time with
 * `@huggingface/gguf`'s `gguf(path, { allowLocalFile: true })` on the same file, alternating runs, and reports the
 * ratio (target: ours at least as fast), bytes read / file size and peak RSS.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gguf } from '@huggingface/gguf';
import { openModel, type Model } from '../src/core';
import { openModelFile } from '../src/node/fileByteSource';
import { GGUF, buildGguf, kv, type GgufTensorSpec } from '../test/fixtures/buildGguf';

const RUNS = 7;
const T = { F32: 0, Q8_0: 8, Q4_K: 12, Q5_K: 13, Q6_K: 14 } as const;

function spec(): { tensors: GgufTensorSpec[]; kvs: ReturnType<typeof kv.u32>[] } {
  const blocks = 32;
  const embd = 2560;
  const ffn = 6912;
  const kvDim = 640;
  const vocab = 128256;
  const tensors: GgufTensorSpec[] = [{ name: 'token_embd.weight', dims: [embd, vocab], type: T.Q8_0 }];
  for (let b = 0; b < blocks; b++) {
    tensors.push(
      { name: `blk.${b}.attn_norm.weight`, dims: [embd], type: T.F32 },
      { name: `blk.${b}.attn_q.weight`, dims: [embd, embd], type: T.Q5_K },
      { name: `blk.${b}.attn_k.weight`, dims: [embd, kvDim], type: T.Q5_K },
      { name: `blk.${b}.attn_v.weight`, dims: [embd, kvDim], type: T.Q6_K },
      { name: `blk.${b}.attn_output.weight`, dims: [embd, embd], type: T.Q5_K },
      { name: `blk.${b}.ffn_norm.weight`, dims: [embd], type: T.F32 },
      { name: `blk.${b}.ffn_gate.weight`, dims: [embd, ffn], type: T.Q4_K },
      { name: `blk.${b}.ffn_up.weight`, dims: [embd, ffn], type: T.Q4_K },
      { name: `blk.${b}.ffn_down.weight`, dims: [ffn, embd], type: T.Q6_K },
    );
  }
  tensors.push({ name: 'output_norm.weight', dims: [embd], type: T.F32 }, { name: 'output.weight', dims: [embd, vocab], type: T.Q8_0 });
  // A BPE-like vocabulary: short ASCII and multi-byte tokens, and "a b" merges.
  const tokens = Array.from({ length: vocab }, (_, i) => (i % 7 === 0 ? `▁tok${i}` : `t${i.toString(36)}`));
  const merges = Array.from({ length: vocab }, (_, i) => `${(i % 977).toString(36)} ${(i >> 3).toString(36)}`);
  const kvs = [
    kv.str('general.architecture', 'llama'),
    kv.str('general.name', 'Bench 2B'),
    kv.u32('general.file_type', 15),
    kv.u32('general.quantization_version', 2),
    kv.u32('llama.block_count', blocks),
    kv.u32('llama.context_length', 131072),
    kv.u32('llama.embedding_length', embd),
    kv.u32('llama.feed_forward_length', ffn),
    kv.u32('llama.attention.head_count', 20),
    kv.u32('llama.attention.head_count_kv', 5),
    kv.f32('llama.rope.freq_base', 500000),
    kv.f32('llama.attention.layer_norm_rms_epsilon', 1e-5),
    kv.u32('llama.vocab_size', vocab),
    kv.str('tokenizer.ggml.model', 'gpt2'),
    kv.str('tokenizer.ggml.pre', 'llama-bpe'),
    kv.arr('tokenizer.ggml.tokens', GGUF.STRING, tokens),
    kv.arr('tokenizer.ggml.scores', GGUF.FLOAT32, Array.from({ length: vocab }, (_, i) => -i / vocab)),
    kv.arr('tokenizer.ggml.token_type', GGUF.INT32, Array.from({ length: vocab }, (_, i) => (i < 256 ? 3 : 1))),
    kv.arr('tokenizer.ggml.merges', GGUF.STRING, merges),
    kv.u32('tokenizer.ggml.bos_token_id', 128000),
    kv.u32('tokenizer.ggml.eos_token_id', 128009),
    kv.str('tokenizer.chat_template', '{% for message in messages %}{{ message.content }}{% endfor %}'.repeat(20)),
  ];
  return { tensors, kvs };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function ours(file: string): Promise<{ model: Model; ms: number; bytesRead: number }> {
  const t0 = performance.now();
  const { source, siblings, close } = await openModelFile(file);
  try {
    const model = await openModel(source, { siblings });
    return { model, ms: performance.now() - t0, bytesRead: source.bytesRead };
  } finally {
    await close();
  }
}

async function theirs(file: string): Promise<{ tensorCount: number; ms: number }> {
  const t0 = performance.now();
  const r = await gguf(file, { allowLocalFile: true });
  return { tensorCount: r.tensorInfos.length, ms: performance.now() - t0 };
}

/** Child-process mode: parse `file` RUNS times with one reader and print timings and this process's peak RSS as JSON. */
async function measure(which: 'ours' | 'theirs', file: string): Promise<void> {
  const ms: number[] = [];
  let bytesRead = 0;
  for (let i = 0; i < RUNS; i++) {
    if (which === 'ours') {
      const a = await ours(file);
      ms.push(a.ms);
      bytesRead = a.bytesRead;
    } else {
      ms.push((await theirs(file)).ms);
    }
  }
  console.log(JSON.stringify({ medianMs: median(ms), firstMs: ms[0], bytesRead, peakRssMb: process.resourceUsage().maxRSS / 1024 }));
}

function inChild(which: 'ours' | 'theirs', file: string): { medianMs: number; firstMs: number; bytesRead: number; peakRssMb: number } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, `--measure-${which}`, file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${which} child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { medianMs: number; firstMs: number; bytesRead: number; peakRssMb: number };
}

async function main(): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'plens-gguf-bench-'));
  try {
    const { tensors, kvs } = spec();
    const built = buildGguf({ kvs, tensors, omitData: true });
    const file = path.join(dir, 'bench-2b.gguf');
    await fs.writeFile(file, built.bytes);
    await fs.truncate(file, built.totalByteLength);

    // Each reader alone in a fresh process: clean peak RSS (the file builder above is not counted).
    const o = inChild('ours', file);
    const t = inChild('theirs', file);
    // Then both in this process, alternating, for a same-conditions ratio.
    const alternating: { o: number[]; t: number[] } = { o: [], t: [] };
    let m: Model | undefined;
    for (let i = 0; i < RUNS; i++) {
      const b = await theirs(file);
      if (b.tensorCount !== tensors.length) throw new Error(`@huggingface/gguf: ${b.tensorCount} tensors`);
      alternating.t.push(b.ms);
      const a = await ours(file);
      if (a.model.tensorCount !== tensors.length) throw new Error(`ours: ${a.model.tensorCount} tensors, expected ${tensors.length}`);
      alternating.o.push(a.ms);
      m = a.model;
    }
    const oMed = median(alternating.o);
    const tMed = median(alternating.t);
    console.log(`file: ${(built.totalByteLength / 2 ** 30).toFixed(2)} GiB (sparse), header ${(built.dataOffset / 2 ** 20).toFixed(2)} MiB, ${m!.tensorCount} tensors, ${Object.keys(m!.metadata).length} KVs, ${(m!.parameterCount / 1e9).toFixed(2)} B params`);
    console.log(`dtype mix: ${JSON.stringify(Object.fromEntries([...new Set(m!.tensors.map((x) => x.dtype))].map((d) => [d, m!.tensors.filter((x) => x.dtype === d).length])))}`);
    console.log(`separate processes (${RUNS} runs each): ours median ${o.medianMs.toFixed(1)} ms (first ${o.firstMs.toFixed(1)} ms), @huggingface/gguf median ${t.medianMs.toFixed(1)} ms (first ${t.firstMs.toFixed(1)} ms): ratio ${(t.medianMs / o.medianMs).toFixed(2)}x`);
    console.log(`same process, alternating: ours median ${oMed.toFixed(1)} ms, @huggingface/gguf median ${tMed.toFixed(1)} ms: ratio ${(tMed / oMed).toFixed(2)}x ${tMed >= oMed ? '(ours at least as fast: OK)' : '(ours slower: BELOW TARGET)'}`);
    console.log(`bytes read (ours): ${o.bytesRead} of ${built.totalByteLength} (${((o.bytesRead / built.totalByteLength) * 100).toFixed(3)} %; the header is ${built.dataOffset} bytes, fixed-size arrays are skipped unread)`);
    console.log(`peak RSS: ours ${o.peakRssMb.toFixed(0)} MB, @huggingface/gguf ${t.peakRssMb.toFixed(0)} MB (each in a fresh process incl. ~90 MB Node+tsx baseline)`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const modeIndex = process.argv.findIndex((a) => a.startsWith('--measure-'));
const run = modeIndex >= 0 ? measure(process.argv[modeIndex]!.slice('--measure-'.length) as 'ours' | 'theirs', process.argv[modeIndex + 1]!) : main();
run.catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
