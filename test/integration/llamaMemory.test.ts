/**
 * Ground truth for the llama.cpp memory model (issue 9): real GGUFs loaded by llama.cpp (node-llama-cpp 3.21.1,
 * CPU prebuilt), at several contexts with flash attention on and off, against `estimate(…, { runtime: 'llama.cpp' })`.
 *
 * Models: ../shared/models/gguf/stories260K.gguf, plus GGUFs generated here into a temporary folder (random
 * data, finite scales; test/fixtures/buildGguf.ts `llmGguf`): llama-shaped (Q8_0; F16; Q4_K with Q6_K
 * embeddings), qwen2-shaped (Q8_0, Q/K/V biases, tied embeddings, 152K vocabulary) and qwen3moe-shaped (Q4_0,
 * 16 experts, 4 used, Q/K norms), all with GQA, 100–300 MB each; gemma3-shaped (sliding window 512 on 5 of 6
 * layers: llama.cpp's iswa cache), deepseek2-shaped (MLA with split attn_k_b/attn_v_b, MoE with a shared expert)
 * and Mamba-1 (recurrent state only), 100–500 MB.
 *
 * llama.cpp's figures: the model and context byte totals from the binding (`getMemoryBreakdown()`: model buffers;
 * KV + compute), the per-buffer sizes from its log lines ("… model buffer size = X MiB", "KV buffer size",
 * "compute buffer size", "output buffer size"). Goal: every total within 5 %, every component within 5 % or
 * 16 MiB. node-llama-cpp's own estimator (GgufInsights: estimateModelResourceRequirements +
 * estimateContextResourceRequirements, its formula path) is printed beside ours for the record.
 *
 * The CPU class (AMX / AVX-512 / AVX2 …) decides which weights llama.cpp repacks; it is read from the CPU
 * backend variant node-llama-cpp loads ("libggml-cpu-<variant>.so").
 */
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { estimate, getTarget, openModel, type LlamaCpuKind, type Model } from '../../src/core';
import { openModelFile } from '../../src/node/fileByteSource';
import { GGML_BLOCKS, fillTensorBytes, llmGguf, type LlmGgufSpec } from '../fixtures/buildGguf';
import { SHARED_MODELS } from './sharedModels';

const MiB = 2 ** 20;
const STORIES = path.join(SHARED_MODELS, 'gguf/stories260K.gguf');

interface Config {
  readonly context: number;
  readonly flash: boolean;
  readonly ubatch: number;
  readonly sequences?: number;
  readonly kvType?: 'f16' | 'q8_0' | 'q4_0';
}

interface Case {
  readonly name: string;
  readonly quant: string;
  readonly spec?: LlmGgufSpec;
  readonly configs: readonly Config[];
}

const STANDARD: readonly Config[] = [
  { context: 512, flash: false, ubatch: 512 },
  { context: 2048, flash: false, ubatch: 512 },
  { context: 2048, flash: true, ubatch: 512 },
  { context: 4096, flash: false, ubatch: 512 },
  { context: 4096, flash: true, ubatch: 512 },
];

const CASES: readonly Case[] = [
  { name: 'stories260K', quant: 'F32', configs: [{ context: 256, flash: false, ubatch: 256 }, { context: 256, flash: true, ubatch: 256 }, { context: 2048, flash: false, ubatch: 512 }] },
  {
    name: 'llama-q8_0', quant: 'Q8_0',
    spec: { architecture: 'llama', blocks: 8, embd: 1024, heads: 16, kvHeads: 4, ffn: 2816, vocab: 32000, type: 8 },
    configs: [...STANDARD, { context: 1024, flash: false, ubatch: 512, sequences: 2 }, { context: 2048, flash: true, ubatch: 256, kvType: 'q8_0' }],
  },
  { name: 'llama-f16', quant: 'F16', spec: { architecture: 'llama', blocks: 6, embd: 1024, heads: 16, kvHeads: 4, ffn: 2816, vocab: 32000, type: 1 }, configs: [STANDARD[1]!, STANDARD[2]!, { context: 4096, flash: true, ubatch: 512, kvType: 'q4_0' }] },
  {
    name: 'llama-q4_k', quant: 'Q4_K (+Q6_K embd)',
    spec: { architecture: 'llama', blocks: 12, embd: 1536, heads: 12, kvHeads: 4, ffn: 4096, vocab: 32000, type: 12, embdType: 14 },
    configs: STANDARD,
  },
  {
    name: 'qwen2-q8_0', quant: 'Q8_0 (tied)',
    spec: { architecture: 'qwen2', blocks: 8, embd: 896, heads: 14, kvHeads: 2, ffn: 4864, vocab: 151936, type: 8, tiedEmbeddings: true },
    configs: [STANDARD[0]!, STANDARD[3]!, STANDARD[4]!],
  },
  {
    name: 'qwen3moe-q4_0', quant: 'Q4_0 (MoE 16/4)',
    spec: { architecture: 'qwen3moe', blocks: 6, embd: 1024, heads: 16, kvHeads: 4, headDim: 128, ffn: 768, vocab: 32000, type: 2, experts: 16, expertsUsed: 4 },
    configs: STANDARD,
  },
  {
    name: 'gemma3-q8_0', quant: 'Q8_0 (tied, SWA 512)',
    spec: { architecture: 'gemma3', blocks: 12, embd: 1024, heads: 8, kvHeads: 4, headDim: 128, ffn: 4096, vocab: 32000, type: 8, tiedEmbeddings: true, slidingWindow: 512 },
    configs: [STANDARD[0]!, STANDARD[1]!, STANDARD[2]!, STANDARD[3]!, STANDARD[4]!, { context: 4096, flash: true, ubatch: 512, sequences: 2 }],
  },
  {
    name: 'deepseek2-q8_0', quant: 'Q8_0 (MLA, MoE 8/2 + shared)',
    spec: {
      architecture: 'deepseek2', blocks: 4, embd: 1024, heads: 16, kvHeads: 1, ffn: 512, vocab: 32000, type: 8, experts: 8, expertsUsed: 2,
      mla: { qLora: 384, kvLora: 512, rope: 64, nope: 128, v: 128, denseLead: 1, sharedExperts: 1, denseFfn: 2048 },
    },
    configs: [STANDARD[0]!, STANDARD[1]!, STANDARD[2]!, STANDARD[3]!, STANDARD[4]!],
  },
  {
    name: 'mamba-q8_0', quant: 'Q8_0 (Mamba-1)',
    spec: { architecture: 'mamba', blocks: 8, embd: 768, heads: 0, kvHeads: 0, ffn: 0, vocab: 32000, type: 8, ssm: { state: 16, conv: 4, dtRank: 48 } },
    configs: [STANDARD[0]!, STANDARD[3]!, { context: 2048, flash: false, ubatch: 512, sequences: 2 }],
  },
];

/** Writes a generated GGUF: header, then every tensor's random bytes made valid per type, in 4 MiB chunks. */
function writeGguf(file: string, spec: LlmGgufSpec): void {
  const g = llmGguf(spec);
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, g.bytes, 0, g.bytes.length, 0);
    const chunk = new Uint8Array(4 * MiB);
    g.tensors.forEach((t, i) => {
      const type = g.types[i]!;
      const blockBytes = type <= 1 ? [4, 2][type]! : GGML_BLOCKS[type]![2];
      const step = Math.floor(chunk.length / blockBytes) * blockBytes;
      for (let off = 0; off < t.byteLength; off += step) {
        const part = chunk.subarray(0, Math.min(step, t.byteLength - off));
        randomFillSync(part);
        fillTensorBytes(type, part);
        writeSync(fd, part, 0, part.length, g.dataOffset + t.offset + off);
      }
    });
  } finally {
    closeSync(fd);
  }
}

/** CPU backend variant (node-llama-cpp's libggml-cpu-<variant>.so) → the CPU class llama.cpp's repacking depends on. */
function cpuKind(variant: string): LlamaCpuKind {
  if (variant === 'sapphirerapids') return 'x86-amx';
  if (/^(skylakex|cannonlake|cascadelake|cooperlake|icelake|zen4)$/.test(variant)) return 'x86-avx512';
  if (/^(haswell|alderlake)$/.test(variant)) return 'x86-avx2';
  return 'generic';
}

const lastMiB = (lines: readonly string[], re: RegExp): number | undefined => {
  let v: number | undefined;
  for (const l of lines) {
    const m = re.exec(l);
    if (m) v = Number(m[1]) * MiB;
  }
  return v;
};

const sumMiB = (lines: readonly string[], re: RegExp): number => {
  let v = 0;
  for (const l of lines) {
    const m = re.exec(l);
    if (m) v += Number(m[1]) * MiB;
  }
  return v;
};

interface Row {
  readonly model: string;
  readonly quant: string;
  readonly config: Config;
  readonly component: string;
  readonly llama: number;
  readonly ours: number;
  readonly nodeLlamaCpp: number | undefined;
}

const rows: Row[] = [];
let dir = '';

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pl-llama-memory-'));
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  printTable();
});

const fmt = (b: number | undefined): string => (b === undefined ? '–' : (b / MiB).toFixed(2));
const ratio = (ours: number, ref: number): string => (ref === 0 ? (ours === 0 ? '1.000' : '∞') : (ours / ref).toFixed(3));

function printTable(): void {
  const lines = [
    '| model | quant | ctx | FA | ubatch | seqs | KV type | component | llama.cpp MiB | ours MiB | ours/llama | node-llama-cpp MiB | nlc/llama |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const c = r.config;
    lines.push(`| ${r.model} | ${r.quant} | ${c.context} | ${c.flash ? 'on' : 'off'} | ${c.ubatch} | ${c.sequences ?? 1} | ${c.kvType ?? 'f16'} | ${r.component} | ${fmt(r.llama)} | ${fmt(r.ours)} | ${ratio(r.ours, r.llama)} | ${fmt(r.nodeLlamaCpp)} | ${r.nodeLlamaCpp === undefined ? '–' : ratio(r.nodeLlamaCpp, r.llama)} |`);
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

/** Checks one figure: totals within 5 %; components within 5 % or 16 MiB. */
function check(failures: string[], what: string, ours: number, llama: number, total: boolean): void {
  const ok = total ? Math.abs(ours - llama) <= 0.05 * llama : Math.abs(ours - llama) <= Math.max(0.05 * llama, 16 * MiB);
  if (!ok) failures.push(`${what}: ours ${fmt(ours)} MiB vs llama.cpp ${fmt(llama)} MiB`);
}

test('llama.cpp buffers vs the llama.cpp memory model (every total within 5 %, every component within 5 % or 16 MiB)', { timeout: 15 * 60_000 }, async () => {
  const { getLlama, GgmlType } = await import('node-llama-cpp');
  let log: string[] = [];
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'debug' as never, logger: (_level, message) => void log.push(message) });
  await new Promise((r) => setTimeout(r, 100));
  const variant = log.map((l) => /libggml-cpu-([\w-]+)\.so/.exec(l)?.[1]).find((v) => v !== undefined) ?? 'unknown';
  const cpu = cpuKind(variant);
  process.stdout.write(`# llama.cpp CPU backend: ${variant} → ${cpu}\n`);
  const failures: string[] = [];
  const only = process.env['PL_LLAMA_CASES']?.split(',');
  for (const c of CASES.filter((x) => !only || only.includes(x.name))) {
    const file = c.spec ? path.join(dir, `${c.name}.gguf`) : STORIES;
    if (c.spec) writeGguf(file, c.spec);
    const opened = await openModelFile(file);
    let model: Model;
    try {
      model = await openModel(opened.source, { siblings: opened.siblings });
    } finally {
      await opened.close();
    }
    log = [];
    const loaded = await llama.loadModel({ modelPath: file, useMmap: true });
    await new Promise((r) => setTimeout(r, 100));
    const modelBuffers = new Map<string, number>();
    for (const l of log) {
      const m = /load_tensors:\s+(\S+) model buffer size =\s+([\d.]+) MiB/.exec(l);
      if (m) modelBuffers.set(m[1]!, Number(m[2]) * MiB);
    }
    const modelBytes = (loaded as unknown as { _model: { getMemoryBreakdown(): { cpuRam: number } } })._model.getMemoryBreakdown().cpuRam;
    const insights = loaded.fileInsights;
    const nlcModel = insights.estimateModelResourceRequirements({ gpuLayers: 0 }).cpuRam;
    try {
      for (const cfg of c.configs) {
        const sequences = cfg.sequences ?? 1;
        log = [];
        const kvType = cfg.kvType ?? 'f16';
        const ggmlKv = { f16: GgmlType.F16, q8_0: GgmlType.Q8_0, q4_0: GgmlType.Q4_0 }[kvType];
        const ctx = await loaded.createContext({
          contextSize: cfg.context,
          batchSize: cfg.ubatch,
          sequences,
          flashAttention: cfg.flash,
          experimentalKvCacheKeyType: ggmlKv,
          experimentalKvCacheValueType: ggmlKv,
          ignoreMemorySafetyChecks: true,
        });
        await new Promise((r) => setTimeout(r, 100));
        const ctxBytes = (ctx as unknown as { _ctx: { getMemoryBreakdown(): { cpuRam: number } } })._ctx.getMemoryBreakdown().cpuRam;
        await ctx.dispose();
        // An iswa cache logs two KV buffers (non-SWA, then SWA); recurrent state is the RS buffer.
        const kv = sumMiB(log, /KV buffer size =\s+([\d.]+) MiB/) + sumMiB(log, /RS buffer size =\s+([\d.]+) MiB/);
        const output = lastMiB(log, /output buffer size =\s+([\d.]+) MiB/) ?? 0;
        const compute = lastMiB(log, /compute buffer size =\s+([\d.]+) MiB/) ?? 0;
        const nlcCtx = insights.estimateContextResourceRequirements({ contextSize: cfg.context, modelGpuLayers: 0, batchSize: cfg.ubatch, sequences, flashAttention: cfg.flash, kvCacheKeyType: ggmlKv, kvCacheValueType: ggmlKv }).cpuRam;

        // node-llama-cpp passes batchSize + 1 as n_batch = n_ubatch when the model has a sliding window (LlamaContext.js).
        const ubatch = cfg.ubatch + (c.spec?.slidingWindow ? 1 : 0);
        const e = estimate(model, getTarget('cpu')!, {
          runtime: 'llama.cpp', context: cfg.context, batch: sequences, ubatch, batchTokens: ubatch, flashAttention: cfg.flash, cpu, kvFormat: kvType === 'f16' ? 'fp16' : kvType,
        });
        const part = (id: string): number => e.runtime.components.filter((x) => x.id === id).reduce((s, x) => s + x.bytes, 0);
        const ours = { weights: e.runtime.components.filter((x) => x.kind === 'weights').reduce((s, x) => s + x.bytes, 0), kv: part('kv') + part('recurrent'), compute: part('compute'), output: part('output') };
        const label = `${c.name} ctx ${cfg.context} FA ${cfg.flash ? 'on' : 'off'} ub ${cfg.ubatch} seqs ${sequences} KV ${kvType}`;
        const add = (component: string, l: number, o: number, n: number | undefined): void => void rows.push({ model: c.name, quant: c.quant, config: cfg, component, llama: l, ours: o, nodeLlamaCpp: n });
        for (const [buffer, bytes] of modelBuffers) {
          const o = part(`model:${buffer}`);
          add(`model ${buffer}`, bytes, o, undefined);
          check(failures, `${label} model ${buffer}`, o, bytes, false);
        }
        add('model (total)', modelBytes, ours.weights, nlcModel);
        add('KV', kv, ours.kv, undefined);
        add('compute', compute, ours.compute, undefined);
        add('output', output, ours.output, undefined);
        add('context (KV+compute+output)', ctxBytes + output, ours.kv + ours.compute + ours.output, nlcCtx);
        add('total', modelBytes + ctxBytes + output, e.runtime.totalBytes, nlcModel + nlcCtx);
        check(failures, `${label} model total`, ours.weights, modelBytes, true);
        check(failures, `${label} KV`, ours.kv, kv, false);
        check(failures, `${label} compute`, ours.compute, compute, false);
        check(failures, `${label} output`, ours.output, output, false);
        check(failures, `${label} context (KV + compute + output)`, ours.kv + ours.compute + ours.output, ctxBytes + output, false);
        check(failures, `${label} total`, e.runtime.totalBytes, modelBytes + ctxBytes + output, true);
        assert.equal(e.runtime.runtime, 'llama.cpp');
      }
    } finally {
      await loaded.dispose();
      if (c.spec) rmSync(file, { force: true });
    }
  }
  assert.deepEqual(failures, [], failures.join('\n'));
});
