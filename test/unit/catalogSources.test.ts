/**
 * Every catalog figure pinned to what its source states, in the unit the source states it (issue #9 item 6).
 * Memory: GPU/accelerator datasheets write JEDEC "GB", which is binary (an "80 GB" H100 has 81,559 MiB), so those
 * read as GiB; Google's TPU tables write "GiB" when they mean binary and "GB" otherwise, and Groq's "230 MB" and
 * Cerebras's "44 GB" of SRAM are decimal. Bandwidth and interconnect are decimal GB/s everywhere. Throughput is
 * dense TFLOPS/TOPS (NVIDIA/AMD sparse headlines ÷ 2). Sources and confidence as in the catalog and the shared
 * hardware reference; a figure changed in the catalog without its source here fails.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { TARGETS, getTarget } from '../../src/core';

type MemoryUnit = 'JEDEC GB' | 'GiB' | 'GB' | 'MB';
const UNIT_BYTES: Readonly<Record<MemoryUnit, number>> = { 'JEDEC GB': 2 ** 30, GiB: 2 ** 30, GB: 1e9, MB: 1e6 };

interface Stated {
  readonly memory: readonly [number, MemoryUnit];
  readonly bandwidthGBps: number;
  readonly interconnectGBps: number | null;
  /** Dense peak by compute type, TFLOPS / TOPS. */
  readonly tflops: Readonly<Record<string, number>>;
  readonly source: string;
}

const NV = 'NVIDIA datasheet (dense = sparse ÷ 2)';
const STATED = new Map<string, Stated>([
  ['h100', { memory: [80, 'JEDEC GB'], bandwidthGBps: 3350, interconnectGBps: 900, tflops: { fp64: 67, fp32: 67, tf32: 494.7, bf16: 989.4, fp16: 989.4, fp8: 1978.9, int8: 1978.9 }, source: `${NV} H100 SXM5` }],
  ['h100-pcie', { memory: [80, 'JEDEC GB'], bandwidthGBps: 2000, interconnectGBps: 600, tflops: { fp64: 26, fp32: 51, tf32: 378, bf16: 756, fp16: 756, fp8: 1513, int8: 1513 }, source: `${NV}; H100 PCIe product brief PB-11133-001` }],
  ['h200', { memory: [141, 'JEDEC GB'], bandwidthGBps: 4800, interconnectGBps: 900, tflops: { fp64: 34, fp32: 67, tf32: 494.7, bf16: 989.4, fp16: 989.4, fp8: 1978.9, int8: 1978.9 }, source: `${NV} H200 SXM` }],
  ['b200', { memory: [180, 'JEDEC GB'], bandwidthGBps: 7700, interconnectGBps: 1800, tflops: { fp64: 37, fp32: 75, tf32: 1100, bf16: 2250, fp16: 2250, fp8: 4500, mxfp8: 4500, fp6: 4500, mxfp6: 4500, int8: 4500, mxfp4: 9000, nvfp4: 9000 }, source: 'NVIDIA HGX B200 spec table' }],
  ['gb200', { memory: [186, 'JEDEC GB'], bandwidthGBps: 8000, interconnectGBps: 1800, tflops: { fp64: 40, fp32: 80, tf32: 1250, bf16: 2500, fp16: 2500, fp8: 5000, mxfp8: 5000, fp6: 5000, mxfp6: 5000, int8: 5000, mxfp4: 10000, nvfp4: 10000 }, source: 'NVIDIA GB200 NVL72 spec table (per GPU)' }],
  ['a100', { memory: [80, 'JEDEC GB'], bandwidthGBps: 2039, interconnectGBps: 600, tflops: { fp64: 19.5, fp32: 19.5, tf32: 156, bf16: 312, fp16: 312, int8: 624, int4: 1248 }, source: `${NV} A100 80GB SXM4` }],
  ['l40s', { memory: [48, 'JEDEC GB'], bandwidthGBps: 864, interconnectGBps: 64, tflops: { fp32: 91.6, tf32: 183, bf16: 362, fp16: 362, fp8: 733, int8: 733, int4: 733 }, source: `${NV} L40S` }],
  ['h800', { memory: [80, 'JEDEC GB'], bandwidthGBps: 3350, interconnectGBps: 400, tflops: { fp64: 1, fp32: 67, tf32: 494.7, bf16: 989.4, fp16: 989.4, fp8: 1978.9, int8: 1978.9 }, source: 'aiwiki, philisun (H800: H100 with NVLink 400 GB/s, FP64 ≈ 1)' }],
  ['h20', { memory: [96, 'JEDEC GB'], bandwidthGBps: 4000, interconnectGBps: 900, tflops: { fp64: 1, fp32: 44, tf32: 74, bf16: 148, fp16: 148, fp8: 296, int8: 296 }, source: 'tweaktown, wccftech (TPP 2,368 = 296 × 8)' }],
  ['h20-141g', { memory: [141, 'JEDEC GB'], bandwidthGBps: 4800, interconnectGBps: 900, tflops: { fp64: 1, fp32: 44, tf32: 74, bf16: 148, fp16: 148, fp8: 296, int8: 296 }, source: 'apetops (141 GB H20); bandwidth derived from the H200 stack (L)' }],
  ['a800', { memory: [80, 'JEDEC GB'], bandwidthGBps: 2039, interconnectGBps: 400, tflops: { fp64: 19.5, fp32: 19.5, tf32: 156, bf16: 312, fp16: 312, int8: 624, int4: 1248 }, source: 'aiwiki, tweakers (A800: A100 with NVLink 400 GB/s)' }],
  ['rtx-4090', { memory: [24, 'JEDEC GB'], bandwidthGBps: 1008, interconnectGBps: 64, tflops: { fp32: 82.6, tf32: 82.6, bf16: 165.2, fp16: 165.2, fp8: 330.3, int8: 660.6, int4: 1321.2 }, source: 'NVIDIA Ada whitepaper appendix (FP32-accumulate rates)' }],
  ['rtx-5090', { memory: [32, 'JEDEC GB'], bandwidthGBps: 1792, interconnectGBps: 128, tflops: { fp32: 104.8, tf32: 104.8, bf16: 209.5, fp16: 209.5, fp8: 419, mxfp8: 419, fp6: 419, mxfp6: 419, int8: 838, mxfp4: 1676, nvfp4: 1676 }, source: 'spheron, codesota (RTX 5090)' }],
  ['jetson-agx-orin', { memory: [64, 'JEDEC GB'], bandwidthGBps: 204.8, interconnectGBps: null, tflops: { fp32: 5.3, bf16: 42.5, fp16: 42.5, int8: 85 }, source: 'Jetson AGX Orin technical brief' }],
  ['mi300x', { memory: [192, 'JEDEC GB'], bandwidthGBps: 5300, interconnectGBps: 896, tflops: { fp64: 163.4, fp32: 163.4, tf32: 653.7, bf16: 1307.4, fp16: 1307.4, fp8_fnuz: 2614.9, int8: 2614.9 }, source: 'AMD MI300X data sheet' }],
  ['mi325x', { memory: [256, 'JEDEC GB'], bandwidthGBps: 6000, interconnectGBps: 896, tflops: { fp64: 163.4, fp32: 163.4, tf32: 653.7, bf16: 1307.4, fp16: 1307.4, fp8_fnuz: 2614.9, int8: 2614.9 }, source: 'AMD MI325X announcement' }],
  ['gaudi3', { memory: [128, 'JEDEC GB'], bandwidthGBps: 3670, interconnectGBps: 1200, tflops: { bf16: 1835, fp8: 1835 }, source: 'Intel Hot Chips 2024' }],
  ['tpu-v5e', { memory: [16, 'GB'], bandwidthGBps: 819, interconnectGBps: 400, tflops: { bf16: 197, int8: 393 }, source: 'https://docs.cloud.google.com/tpu/docs/v5e ("16 GB, 819 GBps")' }],
  ['tpu-v5p', { memory: [95, 'GiB'], bandwidthGBps: 2765, interconnectGBps: 1200, tflops: { bf16: 459, fp8: 459, int8: 918 }, source: 'https://docs.cloud.google.com/tpu/docs/v5p-training ("HBM capacity per chip (GiB) 95", ICI 1200 GBps, FP8 459)' }],
  ['tpu-v6e', { memory: [32, 'GB'], bandwidthGBps: 1638, interconnectGBps: 800, tflops: { bf16: 918, int8: 1836 }, source: 'https://docs.cloud.google.com/tpu/docs/v6e ("HBM capacity per chip 32 GB"; the same table writes "1536 GiB" for host DRAM)' }],
  ['ascend-910b', { memory: [64, 'JEDEC GB'], bandwidthGBps: 1600, interconnectGBps: 392, tflops: { bf16: 320, fp16: 320, int8: 640 }, source: 'borimooc, boardor (no Huawei datasheet; L)' }],
  ['ascend-910c', { memory: [128, 'JEDEC GB'], bandwidthGBps: 3200, interconnectGBps: 784, tflops: { bf16: 800, fp16: 800, int8: 1600 }, source: 'Huawei Connect 2025 roadmap; SemiAnalysis via aiwiki' }],
  ['ascend-950pr', { memory: [128, 'JEDEC GB'], bandwidthGBps: 1600, interconnectGBps: 2000, tflops: { fp8: 1000, mxfp8: 1000, mxfp4: 2000 }, source: 'Huawei Connect 2025 (HiBL 1.0 128 GB, 1.6 TB/s; FP8 1 PFLOPS; MXFP4 2 PFLOPS; 2 TB/s)' }],
  ['ascend-950dt', { memory: [144, 'JEDEC GB'], bandwidthGBps: 4000, interconnectGBps: 2000, tflops: { fp8: 1000, mxfp8: 1000, mxfp4: 2000 }, source: 'Huawei Connect 2025 (HiZQ 2.0 144 GB, 4 TB/s)' }],
  ['mlu590', { memory: [192, 'JEDEC GB'], bandwidthGBps: 2400, interconnectGBps: null, tflops: { int8: 780 }, source: 'awesomeagents.ai (single third-party source; L)' }],
  ['mlu370', { memory: [48, 'JEDEC GB'], bandwidthGBps: 614.4, interconnectGBps: 200, tflops: { fp32: 32, bf16: 96, fp16: 96, int8: 256, int4: 512 }, source: 'Cambricon MLU370-X8 launch coverage' }],
  ['m4-pro', { memory: [64, 'JEDEC GB'], bandwidthGBps: 273, interconnectGBps: null, tflops: { fp32: 9, fp16: 9, int8: 38 }, source: 'Apple M4 Pro announcement (GPU rate L)' }],
  ['m4-max', { memory: [128, 'JEDEC GB'], bandwidthGBps: 546, interconnectGBps: null, tflops: { fp32: 18, fp16: 18, int8: 38 }, source: 'Apple M4 Max announcement (GPU rate L)' }],
  ['a18-pro', { memory: [8, 'JEDEC GB'], bandwidthGBps: 60, interconnectGBps: null, tflops: { int8: 35 }, source: 'gadgets360 (A18 Pro; bandwidth derived)' }],
  ['a19-pro', { memory: [12, 'JEDEC GB'], bandwidthGBps: 76.8, interconnectGBps: null, tflops: { int8: 35 }, source: 'macnerd, itc.ua (A19 Pro; bandwidth derived)' }],
  ['snapdragon-8-elite', { memory: [24, 'JEDEC GB'], bandwidthGBps: 84.8, interconnectGBps: null, tflops: { int8: 45 }, source: 'geektopia (LPDDR5X-5300 × 8 B)' }],
  ['groq-lpu', { memory: [230, 'MB'], bandwidthGBps: 80_000, interconnectGBps: null, tflops: { fp16: 188, int8: 750 }, source: 'Groq LPU ("230 MB of on-die SRAM", 80 TB/s) via techpowerup, aiwiki' }],
  ['cerebras-wse3', { memory: [44, 'GB'], bandwidthGBps: 21_000_000, interconnectGBps: null, tflops: { fp16: 62_500, bf16: 62_500 }, source: 'Cerebras WSE-3 ("44 GB on-chip SRAM", 21 PB/s) via yobitel, aiwiki' }],
  ['cpu', { memory: [64, 'JEDEC GB'], bandwidthGBps: 80, interconnectGBps: null, tflops: { fp32: 1.5, bf16: 3, int8: 6 }, source: 'assumption (documented in the catalog)' }],
]);

const close = (a: number, b: number): boolean => Math.abs(a - b) <= Math.abs(b) * 1e-12;

test('every catalog target has its source statement here, and every figure equals it in the stated unit', () => {
  assert.deepEqual(TARGETS.map((t) => t.id).sort(), [...STATED.keys()].sort());
  for (const t of TARGETS) {
    const s = STATED.get(t.id)!;
    assert.equal(t.memoryBytes, s.memory[0] * UNIT_BYTES[s.memory[1]], `${t.id} memory: ${s.memory.join(' ')} (${s.source})`);
    assert.ok(close(t.memoryBandwidthBytesPerSecond, s.bandwidthGBps * 1e9), `${t.id} bandwidth`);
    assert.equal(t.interconnect?.bytesPerSecond ?? null, s.interconnectGBps === null ? null : s.interconnectGBps * 1e9, `${t.id} interconnect`);
    assert.deepEqual(Object.keys(t.throughput).sort(), Object.keys(s.tflops).sort(), `${t.id} throughput types`);
    for (const [k, v] of Object.entries(s.tflops)) assert.ok(close(t.throughput[k as keyof typeof t.throughput]!, v * 1e12), `${t.id} ${k}`);
  }
});

test('decimal SRAM and TPU memories: Groq needs 5% more chips than with MiB, TPU v5p has FP8 and 1,200 GB/s ICI', () => {
  const groq = getTarget('groq-lpu')!;
  const model = 140e9; // a 70B FP16 model
  assert.equal(Math.ceil(model / groq.memoryBytes), 609);
  assert.equal(Math.ceil(model / (230 * 2 ** 20)), 581);
  assert.equal(getTarget('cerebras-wse3')!.memoryBytes, 44_000_000_000);
  assert.equal(getTarget('tpu-v6e')!.memoryBytes, 32_000_000_000);
  const v5p = getTarget('tpu-v5p')!;
  assert.ok(v5p.native.includes('fp8'));
  assert.equal(v5p.interconnect?.bytesPerSecond, 1200e9);
});
