/**
 * Target hardware catalog, as data. Figures come from ../shared/reference/hardware-and-formats.md §1–§4
 * (which cites the vendor datasheets and the secondary sources it cross-checked); each entry repeats its
 * source and the reference's confidence grade.
 *
 * Conventions (apply to every entry; the estimator relies on them):
 * - `memoryBytes`: in the unit the source states. GPU/accelerator datasheets write DRAM capacity as JEDEC "GB",
 *   which is binary (an "80 GB" H100 shows 81,559 MiB in nvidia-smi): those read as GiB. Where a source states a
 *   decimal unit it stays decimal: Google's TPU tables write "GiB" when they mean binary (v5p "95 GiB", host DRAM
 *   "1536 GiB") and "GB" otherwise (v5e 16 GB, v6e 32 GB); Groq's 230 MB and Cerebras's 44 GB of SRAM are decimal.
 *   test/unit/catalogSources.test.ts pins every figure to its source's statement and unit.
 * - Bandwidths are decimal (10^9 / 10^12 bytes/s) as vendors publish them. Interconnect figures are the
 *   aggregate bidirectional bandwidth per chip, as in the reference.
 * - `throughput` is **dense** peak FLOP/s (or OP/s for integers), never the 2:4-sparse headline. GeForce
 *   FP16/BF16/FP8 rates use FP32 accumulation (half the FP16-accumulate rate), as PyTorch-style GEMMs do.
 *   A type the target runs but whose rate is not published is left out; the estimator then derives a rate
 *   from a published one and says so in its assumptions.
 * - `native`: types the matrix units (or, for FP32/FP64, the vector units) execute without conversion.
 * - `overhead`: the runtime's own memory (driver context, runtime library, allocator slack). Estimated
 *   overhead = `bytes` + `fraction` × (weights + activations + KV cache). Documented per entry; users override
 *   it with a targets file or the estimator's `overhead` option.
 */
import type { ComputeType } from '../../precision/numberFormats';
import { commonPrefixLength, editDistance } from '../../util/text';

/** Kind of device, for grouping in the UI and `targets` listing. */
export type TargetKind = 'datacenter-gpu' | 'export-gpu' | 'consumer-gpu' | 'edge' | 'laptop' | 'phone' | 'accelerator' | 'cpu';

/** Scale-up link between devices of this kind. */
export interface Interconnect {
  readonly name: string;
  /** Aggregate bidirectional bytes/s per chip; null when not published. */
  readonly bytesPerSecond: number | null;
}

/** Runtime memory overhead assumption: `bytes` + `fraction` × (weights + activations + KV cache), per device. */
export interface RuntimeOverhead {
  readonly bytes: number;
  readonly fraction: number;
  /** Why these values (shown in `targets` and in estimate assumptions). */
  readonly note: string;
}

/** One target device (or host), as plain JSON-safe data. */
export interface Target {
  /** Short lowercase id used on the command line and in settings (`h100`, `ascend-910c`, `cpu`). */
  readonly id: string;
  readonly name: string;
  readonly vendor: string;
  readonly kind: TargetKind;
  /** Memory the model can live in (per device): HBM/GDDR/unified DRAM, or on-chip SRAM for Groq/Cerebras. */
  readonly memoryBytes: number;
  readonly memoryBandwidthBytesPerSecond: number;
  /** Dense peak operations per second by compute type. Missing = not published. */
  readonly throughput: Readonly<Partial<Record<ComputeType, number>>>;
  /** Compute types the device executes natively. */
  readonly native: readonly ComputeType[];
  readonly interconnect: Interconnect | undefined;
  readonly overhead: RuntimeOverhead;
  /** True when weights must live in on-chip SRAM (Groq, Cerebras): splitting means more chips. */
  readonly sramOnly: boolean;
  /** Where the figures come from. */
  readonly source: string;
  /** H = vendor document or ≥2 agreeing sources; M = secondary sources or slight conflict; L = single/contradictory source or estimate. */
  readonly confidence: 'H' | 'M' | 'L';
  readonly notes: string;
}

const GiB = 2 ** 30;
const MiB = 2 ** 20;
/** Decimal units, for sources that state them (TPU, Groq, Cerebras). */
const GB = 1e9;
const MB = 1e6;
const GB_S = 1e9;
const TB_S = 1e12;
const T = 1e12;
const REF = '../shared/reference/hardware-and-formats.md';

//#region native type sets (reference §3)
const HOPPER: readonly ComputeType[] = ['fp64', 'fp32', 'tf32', 'bf16', 'fp16', 'fp8', 'int8'];
const BLACKWELL_DC: readonly ComputeType[] = ['fp64', 'fp32', 'tf32', 'bf16', 'fp16', 'fp8', 'mxfp8', 'fp6', 'mxfp6', 'mxfp4', 'nvfp4', 'int8'];
const BLACKWELL_GEFORCE: readonly ComputeType[] = ['fp32', 'tf32', 'bf16', 'fp16', 'fp8', 'mxfp8', 'fp6', 'mxfp6', 'mxfp4', 'nvfp4', 'int8'];
const AMPERE: readonly ComputeType[] = ['fp64', 'fp32', 'tf32', 'bf16', 'fp16', 'int8', 'int4'];
const ADA: readonly ComputeType[] = ['fp32', 'tf32', 'bf16', 'fp16', 'fp8', 'int8', 'int4'];
const CDNA3: readonly ComputeType[] = ['fp64', 'fp32', 'tf32', 'bf16', 'fp16', 'fp8_fnuz', 'int8'];
const TPU: readonly ComputeType[] = ['fp32', 'bf16', 'int8'];
const ASCEND: readonly ComputeType[] = ['fp32', 'bf16', 'fp16', 'int8'];
const APPLE: readonly ComputeType[] = ['fp32', 'bf16', 'fp16', 'int8'];
//#endregion

//#region overhead assumptions
const CUDA_OVERHEAD: RuntimeOverhead = { bytes: 0.75 * GiB, fraction: 0.05, note: 'CUDA context + cuBLAS/cuDNN workspaces ≈ 0.75 GiB, plus 5% allocator fragmentation (PyTorch/vLLM-style caching allocator).' };
const ROCM_OVERHEAD: RuntimeOverhead = { bytes: 1 * GiB, fraction: 0.05, note: 'HIP context + rocBLAS/hipBLASLt workspaces ≈ 1 GiB, plus 5% allocator fragmentation.' };
const GAUDI_OVERHEAD: RuntimeOverhead = { bytes: 1 * GiB, fraction: 0.05, note: 'SynapseAI runtime and graph workspace ≈ 1 GiB, plus 5% (assumption, L).' };
const TPU_OVERHEAD: RuntimeOverhead = { bytes: 0.5 * GiB, fraction: 0.05, note: 'XLA/PJRT runtime reservation ≈ 0.5 GiB of HBM, plus 5% (assumption, L).' };
const ASCEND_OVERHEAD: RuntimeOverhead = { bytes: 2 * GiB, fraction: 0.05, note: 'CANN runtime reservation ≈ 2 GiB, plus 5% (assumption, L).' };
//#endregion

function target(t: Omit<Target, 'interconnect' | 'notes' | 'sramOnly'> & { interconnect?: Interconnect; notes?: string; sramOnly?: boolean }): Target {
  return { interconnect: undefined, notes: '', sramOnly: false, ...t };
}

//#region catalog
/** Every catalog target. Order: data-centre GPUs, export variants, consumer/edge, other accelerators, Apple/phones, SRAM machines, CPU. */
export const TARGETS: readonly Target[] = [
  target({
    id: 'h100', name: 'NVIDIA H100 SXM5 80GB', vendor: 'NVIDIA', kind: 'datacenter-gpu',
    memoryBytes: 80 * GiB, memoryBandwidthBytesPerSecond: 3.35 * TB_S,
    throughput: { fp64: 67 * T, fp32: 67 * T, tf32: 494.7 * T, bf16: 989.4 * T, fp16: 989.4 * T, fp8: 1978.9 * T, int8: 1978.9 * T },
    native: HOPPER, interconnect: { name: 'NVLink 4 (18 links)', bytesPerSecond: 900 * GB_S }, overhead: CUDA_OVERHEAD,
    source: `NVIDIA H100 datasheet; ${REF} §1–3`, confidence: 'H',
    notes: 'FP64 figure is the FP64 tensor-core rate. No native INT4 or FP4/FP6/MX formats (Hopper sm_90).',
  }),
  target({
    id: 'h100-pcie', name: 'NVIDIA H100 PCIe 80GB', vendor: 'NVIDIA', kind: 'datacenter-gpu',
    memoryBytes: 80 * GiB, memoryBandwidthBytesPerSecond: 2.0 * TB_S,
    throughput: { fp64: 26 * T, fp32: 51 * T, tf32: 378 * T, bf16: 756 * T, fp16: 756 * T, fp8: 1513 * T, int8: 1513 * T },
    native: HOPPER, interconnect: { name: 'NVLink bridge', bytesPerSecond: 600 * GB_S }, overhead: CUDA_OVERHEAD,
    source: `NVIDIA H100 PCIe product brief PB-11133-001; ${REF} §1–3`, confidence: 'H',
    notes: 'HBM2e; PCIe Gen5 128 GB/s to the host.',
  }),
  target({
    id: 'h200', name: 'NVIDIA H200 SXM 141GB', vendor: 'NVIDIA', kind: 'datacenter-gpu',
    memoryBytes: 141 * GiB, memoryBandwidthBytesPerSecond: 4.8 * TB_S,
    throughput: { fp64: 34 * T, fp32: 67 * T, tf32: 494.7 * T, bf16: 989.4 * T, fp16: 989.4 * T, fp8: 1978.9 * T, int8: 1978.9 * T },
    native: HOPPER, interconnect: { name: 'NVLink 4', bytesPerSecond: 900 * GB_S }, overhead: CUDA_OVERHEAD,
    source: `NVIDIA H200 specifications; MLCommons inference v4.1 system file; ${REF} §1–3`, confidence: 'H',
    notes: 'Same GH100 compute as H100 SXM with HBM3e.',
  }),
  target({
    id: 'b200', name: 'NVIDIA B200 (HGX)', vendor: 'NVIDIA', kind: 'datacenter-gpu',
    memoryBytes: 180 * GiB, memoryBandwidthBytesPerSecond: 7.7 * TB_S,
    throughput: { fp64: 37 * T, fp32: 75 * T, tf32: 1100 * T, bf16: 2250 * T, fp16: 2250 * T, fp8: 4500 * T, mxfp8: 4500 * T, fp6: 4500 * T, mxfp6: 4500 * T, int8: 4500 * T, mxfp4: 9000 * T, nvfp4: 9000 * T },
    native: BLACKWELL_DC, interconnect: { name: 'NVLink 5', bytesPerSecond: 1800 * GB_S }, overhead: CUDA_OVERHEAD,
    source: `NVIDIA HGX B200 spec table; ${REF} §1–4`, confidence: 'H',
    notes: 'HGX table: 180 GB at 7.7 TB/s (launch material said 192 GB at 8 TB/s; ~179 GB visible). No native INT4 (sm_100).',
  }),
  target({
    id: 'gb200', name: 'NVIDIA GB200 (per Blackwell GPU, NVL72)', vendor: 'NVIDIA', kind: 'datacenter-gpu',
    memoryBytes: 186 * GiB, memoryBandwidthBytesPerSecond: 8 * TB_S,
    throughput: { fp64: 40 * T, fp32: 80 * T, tf32: 1250 * T, bf16: 2500 * T, fp16: 2500 * T, fp8: 5000 * T, mxfp8: 5000 * T, fp6: 5000 * T, mxfp6: 5000 * T, int8: 5000 * T, mxfp4: 10000 * T, nvfp4: 10000 * T },
    native: BLACKWELL_DC, interconnect: { name: 'NVLink 5 (NVL72)', bytesPerSecond: 1800 * GB_S }, overhead: CUDA_OVERHEAD,
    source: `NVIDIA GB200 NVL72 spec table; ${REF} §1–4`, confidence: 'M',
    notes: 'Per GPU of a Grace-Blackwell superchip (2 GPUs, 372 GB); NVLink-C2C 900 GB/s to Grace not counted as device memory.',
  }),
  target({
    id: 'a100', name: 'NVIDIA A100 80GB SXM4', vendor: 'NVIDIA', kind: 'datacenter-gpu',
    memoryBytes: 80 * GiB, memoryBandwidthBytesPerSecond: 2039 * GB_S,
    throughput: { fp64: 19.5 * T, fp32: 19.5 * T, tf32: 156 * T, bf16: 312 * T, fp16: 312 * T, int8: 624 * T, int4: 1248 * T },
    native: AMPERE, interconnect: { name: 'NVLink 3', bytesPerSecond: 600 * GB_S }, overhead: CUDA_OVERHEAD,
    source: `NVIDIA A100 datasheet; ${REF} §1–3`, confidence: 'H',
    notes: 'No FP8/FP6/FP4 (Ampere sm_80). PCIe 80GB variant: 1,935 GB/s.',
  }),
  target({
    id: 'l40s', name: 'NVIDIA L40S', vendor: 'NVIDIA', kind: 'datacenter-gpu',
    memoryBytes: 48 * GiB, memoryBandwidthBytesPerSecond: 864 * GB_S,
    throughput: { fp32: 91.6 * T, tf32: 183 * T, bf16: 362 * T, fp16: 362 * T, fp8: 733 * T, int8: 733 * T, int4: 733 * T },
    native: ADA, interconnect: { name: 'PCIe 4.0 x16 (no NVLink)', bytesPerSecond: 64 * GB_S }, overhead: CUDA_OVERHEAD,
    source: `NVIDIA L40S datasheet; ${REF} §1–3`, confidence: 'M',
    notes: 'INT8 (M) and INT4 (L) dense rates are less certain than the FP rates. No MX block-scaled or FP4 formats (Ada sm_89).',
  }),
  target({
    id: 'h800', name: 'NVIDIA H800 SXM5 (China export)', vendor: 'NVIDIA', kind: 'export-gpu',
    memoryBytes: 80 * GiB, memoryBandwidthBytesPerSecond: 3.35 * TB_S,
    throughput: { fp64: 1 * T, fp32: 67 * T, tf32: 494.7 * T, bf16: 989.4 * T, fp16: 989.4 * T, fp8: 1978.9 * T, int8: 1978.9 * T },
    native: HOPPER, interconnect: { name: 'NVLink (cut to 400 GB/s)', bytesPerSecond: 400 * GB_S }, overhead: CUDA_OVERHEAD,
    source: `aiwiki, philisun (H800 vs H100); ${REF} §1–4`, confidence: 'M',
    notes: 'Same GH100 tensor rates as H100; NVLink cut from 900 to 400 GB/s and FP64 to ~1 TFLOPS. Early reports said ~300 GB/s NVLink.',
  }),
  target({
    id: 'h20', name: 'NVIDIA H20 (China export)', vendor: 'NVIDIA', kind: 'export-gpu',
    memoryBytes: 96 * GiB, memoryBandwidthBytesPerSecond: 4.0 * TB_S,
    throughput: { fp64: 1 * T, fp32: 44 * T, tf32: 74 * T, bf16: 148 * T, fp16: 148 * T, fp8: 296 * T, int8: 296 * T },
    native: HOPPER, interconnect: { name: 'NVLink', bytesPerSecond: 900 * GB_S }, overhead: CUDA_OVERHEAD,
    source: `tweaktown, willitrunai, wccftech (TPP 2,368); ${REF} §1–4`, confidence: 'M',
    notes: 'Compute throttled for US TPP rules; memory and NVLink not cut. Dense/sparse labelling of 296 is disputed (taken as FP8 dense).',
  }),
  target({
    id: 'h20-141g', name: 'NVIDIA H20 141GB HBM3e (China export)', vendor: 'NVIDIA', kind: 'export-gpu',
    memoryBytes: 141 * GiB, memoryBandwidthBytesPerSecond: 4.8 * TB_S,
    throughput: { fp64: 1 * T, fp32: 44 * T, tf32: 74 * T, bf16: 148 * T, fp16: 148 * T, fp8: 296 * T, int8: 296 * T },
    native: HOPPER, interconnect: { name: 'NVLink', bytesPerSecond: 900 * GB_S }, overhead: CUDA_OVERHEAD,
    source: 'apetops (H20 in 96 GB and 141 GB configurations; bandwidth "not explicitly stated by the manufacturer"); compute as the 96 GB H20',
    confidence: 'L',
    notes: 'The H20 variant sold since 2025 with H200-class HBM3e. 4.8 TB/s is derived (d): the same six HBM3e stacks as the 141 GB H200; no NVIDIA datasheet states it. Compute unchanged (same TPP-limited GH100 configuration).',
  }),
  target({
    id: 'a800', name: 'NVIDIA A800 80GB SXM (China export)', vendor: 'NVIDIA', kind: 'export-gpu',
    memoryBytes: 80 * GiB, memoryBandwidthBytesPerSecond: 2039 * GB_S,
    throughput: { fp64: 19.5 * T, fp32: 19.5 * T, tf32: 156 * T, bf16: 312 * T, fp16: 312 * T, int8: 624 * T, int4: 1248 * T },
    native: AMPERE, interconnect: { name: 'NVLink (cut to 400 GB/s)', bytesPerSecond: 400 * GB_S }, overhead: CUDA_OVERHEAD,
    source: `aiwiki, tweakers (A800); ${REF} §1–4`, confidence: 'M',
    notes: 'An A100 with NVLink cut from 600 to 400 GB/s; compute and memory unchanged (a "~70% of A100" claim is treated as unreliable).',
  }),
  target({
    id: 'rtx-4090', name: 'NVIDIA GeForce RTX 4090', vendor: 'NVIDIA', kind: 'consumer-gpu',
    memoryBytes: 24 * GiB, memoryBandwidthBytesPerSecond: 1008 * GB_S,
    throughput: { fp32: 82.6 * T, tf32: 82.6 * T, bf16: 165.2 * T, fp16: 165.2 * T, fp8: 330.3 * T, int8: 660.6 * T, int4: 1321.2 * T },
    native: ADA, interconnect: { name: 'PCIe 4.0 x16 (no NVLink)', bytesPerSecond: 64 * GB_S },
    overhead: { bytes: 1 * GiB, fraction: 0.05, note: 'CUDA context ≈ 0.75 GiB plus ~0.25 GiB for a desktop display on the same GPU, plus 5% allocator fragmentation.' },
    source: `NVIDIA Ada GPU architecture whitepaper (appendix); ${REF} §1–4`, confidence: 'H',
    notes: 'FP16/BF16/FP8 rates with FP32 accumulation (half the FP16-accumulate rate: 330.3 / 660.6).',
  }),
  target({
    id: 'rtx-5090', name: 'NVIDIA GeForce RTX 5090', vendor: 'NVIDIA', kind: 'consumer-gpu',
    memoryBytes: 32 * GiB, memoryBandwidthBytesPerSecond: 1792 * GB_S,
    throughput: { fp32: 104.8 * T, tf32: 104.8 * T, bf16: 209.5 * T, fp16: 209.5 * T, fp8: 419 * T, mxfp8: 419 * T, fp6: 419 * T, mxfp6: 419 * T, int8: 838 * T, mxfp4: 1676 * T, nvfp4: 1676 * T },
    native: BLACKWELL_GEFORCE, interconnect: { name: 'PCIe 5.0 x16 (no NVLink)', bytesPerSecond: 128 * GB_S },
    overhead: { bytes: 1 * GiB, fraction: 0.05, note: 'CUDA context ≈ 0.75 GiB plus ~0.25 GiB for a desktop display on the same GPU, plus 5% allocator fragmentation.' },
    source: `spheron, codesota, castromedia (RTX 5090); ${REF} §1–4`, confidence: 'M',
    notes: 'FP16/BF16/FP8 with FP32 accumulation (FP8 FP32-acc. 419 "likely"); FP4 1,676 dense (3,352 sparse "AI TOPS"). Block-scaled FP8/FP6/FP4 via mma.sync (sm_120); Transformer Engine MXFP8 support "No".',
  }),
  target({
    id: 'jetson-agx-orin', name: 'NVIDIA Jetson AGX Orin 64GB', vendor: 'NVIDIA', kind: 'edge',
    memoryBytes: 64 * GiB, memoryBandwidthBytesPerSecond: 204.8 * GB_S,
    throughput: { fp32: 5.3 * T, bf16: 42.5 * T, fp16: 42.5 * T, int8: 85 * T },
    native: ['fp32', 'tf32', 'bf16', 'fp16', 'int8', 'int4'],
    overhead: { bytes: 4 * GiB, fraction: 0.05, note: 'Memory is shared with the CPU: ≈ 3 GiB for Linux/L4T plus ≈ 1 GiB CUDA context, plus 5%.' },
    source: `Jetson AGX Orin technical brief (summaries); ${REF} §1–3`, confidence: 'M',
    notes: 'GPU only: INT8 85 TOPS dense (170 sparse); the 2 DLAs (105 TOPS sparse) are not counted. BF16/FP16 derived (L). Unified LPDDR5 shared with the CPU.',
  }),
  target({
    id: 'mi300x', name: 'AMD Instinct MI300X', vendor: 'AMD', kind: 'accelerator',
    memoryBytes: 192 * GiB, memoryBandwidthBytesPerSecond: 5.3 * TB_S,
    throughput: { fp64: 163.4 * T, fp32: 163.4 * T, tf32: 653.7 * T, bf16: 1307.4 * T, fp16: 1307.4 * T, fp8_fnuz: 2614.9 * T, int8: 2614.9 * T },
    native: CDNA3, interconnect: { name: 'Infinity Fabric (7 × 128 GB/s)', bytesPerSecond: 896 * GB_S }, overhead: ROCM_OVERHEAD,
    source: `AMD MI300X data sheet; ${REF} §1–4`, confidence: 'H',
    notes: 'FP8 is the FNUZ encoding only (gfx942): OCP E4M3/E5M2 weights must be converted (0x80 is NaN in FNUZ). FP32 figure is the matrix rate.',
  }),
  target({
    id: 'mi325x', name: 'AMD Instinct MI325X', vendor: 'AMD', kind: 'accelerator',
    memoryBytes: 256 * GiB, memoryBandwidthBytesPerSecond: 6.0 * TB_S,
    throughput: { fp64: 163.4 * T, fp32: 163.4 * T, tf32: 653.7 * T, bf16: 1307.4 * T, fp16: 1307.4 * T, fp8_fnuz: 2614.9 * T, int8: 2614.9 * T },
    native: CDNA3, interconnect: { name: 'Infinity Fabric (7 links)', bytesPerSecond: 896 * GB_S }, overhead: ROCM_OVERHEAD,
    source: `AMD MI325X announcement; awesomeagents, aiwiki; ${REF} §1–3`, confidence: 'H',
    notes: 'Same CDNA3 compute as MI300X with 256 GB HBM3e (288 GB was pre-announced). FP8 FNUZ only.',
  }),
  target({
    id: 'gaudi3', name: 'Intel Gaudi 3 (OAM)', vendor: 'Intel', kind: 'accelerator',
    memoryBytes: 128 * GiB, memoryBandwidthBytesPerSecond: 3.67 * TB_S,
    throughput: { bf16: 1835 * T, fp8: 1835 * T },
    native: ['fp32', 'tf32', 'bf16', 'fp16', 'fp8'], interconnect: { name: '24 × 200 GbE RoCE', bytesPerSecond: 1200 * GB_S }, overhead: GAUDI_OVERHEAD,
    source: `Intel Hot Chips 2024 (R. Kaplan); ${REF} §1–4`, confidence: 'H',
    notes: 'MME runs FP32/TF32/BF16/FP16/FP8; only BF16 and FP8 matrix rates are published (BF16 vector 28.7 TFLOPS). INT8 not listed. 96 MB SRAM at 12.8 TB/s not modeled.',
  }),
  target({
    id: 'tpu-v5e', name: 'Google TPU v5e', vendor: 'Google', kind: 'accelerator',
    memoryBytes: 16 * GB, memoryBandwidthBytesPerSecond: 819 * GB_S,
    throughput: { bf16: 197 * T, int8: 393 * T },
    native: TPU, interconnect: { name: 'ICI (2D torus, 256 chips/pod)', bytesPerSecond: 400 * GB_S }, overhead: TPU_OVERHEAD,
    source: `https://cloud.google.com/tpu/docs/v5e; ${REF} §1–3`, confidence: 'H',
    notes: 'MXU runs BF16 and INT8; FP32 via multi-pass BF16 (rate not published); no FP16 or FP8 (first native FP8: Ironwood).',
  }),
  target({
    id: 'tpu-v5p', name: 'Google TPU v5p', vendor: 'Google', kind: 'accelerator',
    memoryBytes: 95 * GiB, memoryBandwidthBytesPerSecond: 2765 * GB_S,
    throughput: { bf16: 459 * T, fp8: 459 * T, int8: 918 * T },
    native: [...TPU, 'fp8'], interconnect: { name: 'ICI (3D torus, 8,960 chips/pod)', bytesPerSecond: 1200 * GB_S }, overhead: TPU_OVERHEAD,
    source: 'https://docs.cloud.google.com/tpu/docs/v5p-training (current table: 95 GiB HBM, 2765 GBps, BF16 459 and FP8 459 TFLOPs, bidirectional ICI 1200 GBps per chip; the older table said 4800 Gbps = 600 GB/s)', confidence: 'H',
    notes: 'MXU runs BF16 and INT8; FP32 via multi-pass BF16; no FP16 or FP8.',
  }),
  target({
    id: 'tpu-v6e', name: 'Google TPU v6e (Trillium)', vendor: 'Google', kind: 'accelerator',
    memoryBytes: 32 * GB, memoryBandwidthBytesPerSecond: 1638 * GB_S,
    throughput: { bf16: 918 * T, int8: 1836 * T },
    native: TPU, interconnect: { name: 'ICI (2D torus, 256 chips/pod)', bytesPerSecond: 800 * GB_S }, overhead: TPU_OVERHEAD,
    source: `https://docs.cloud.google.com/tpu/docs/v6e; ${REF} §1–3`, confidence: 'H',
    notes: 'MXU runs BF16 and INT8; FP32 via multi-pass BF16; no FP16 or FP8.',
  }),
  target({
    id: 'ascend-910b', name: 'Huawei Ascend 910B', vendor: 'Huawei', kind: 'accelerator',
    memoryBytes: 64 * GiB, memoryBandwidthBytesPerSecond: 1.6 * TB_S,
    throughput: { bf16: 320 * T, fp16: 320 * T, int8: 640 * T },
    native: ASCEND, interconnect: { name: 'HCCS (7 × 56 GB/s)', bytesPerSecond: 392 * GB_S }, overhead: ASCEND_OVERHEAD,
    source: `borimooc, boardor (no public Huawei datasheet); ${REF} §1–4`, confidence: 'L',
    notes: 'Bins B1–B4 differ: FP16 quoted 280–376 TFLOPS (320 used), bandwidth claims 0.4–1.6 TB/s. No FP8.',
  }),
  target({
    id: 'ascend-910c', name: 'Huawei Ascend 910C', vendor: 'Huawei', kind: 'accelerator',
    memoryBytes: 128 * GiB, memoryBandwidthBytesPerSecond: 3.2 * TB_S,
    throughput: { bf16: 800 * T, fp16: 800 * T, int8: 1600 * T },
    native: ASCEND, interconnect: { name: 'HCCS / UB (CloudMatrix384)', bytesPerSecond: 784 * GB_S }, overhead: ASCEND_OVERHEAD,
    source: `Huawei Connect 2025 roadmap (via reportify); aiwiki, SemiAnalysis; ${REF} §1–4`, confidence: 'M',
    notes: 'Two 910B-class dies × 64 GB. INT8 ≈ 2 × FP16 is derived (d). No FP8/MXFP (first on Ascend 950).',
  }),
  target({
    id: 'ascend-950pr', name: 'Huawei Ascend 950PR', vendor: 'Huawei', kind: 'accelerator',
    memoryBytes: 128 * GiB, memoryBandwidthBytesPerSecond: 1.6 * TB_S,
    throughput: { fp8: 1000 * T, mxfp8: 1000 * T, mxfp4: 2000 * T },
    native: [...ASCEND, 'fp8', 'mxfp8', 'mxfp4'], interconnect: { name: 'Lingqu (UB) supernode links', bytesPerSecond: 2000 * GB_S }, overhead: ASCEND_OVERHEAD,
    source: 'Huawei Connect 2025 keynote (18 Sep 2025), as reported by reportify.ai / China Fund News and techpowerup via medcom.id: 128 GB HiBL 1.0 at 1.6 TB/s, FP8/MXFP8/HiF8 1 PFLOPS, MXFP4 2 PFLOPS, 2 TB/s interconnect; on sale Q1 2026',
    confidence: 'M',
    notes: "The 910C's prefill/recommendation successor (first Ascend with FP8 and MX formats; HiF8/HiF4 are Huawei's own). BF16/FP16 rates not published: derived from the FP8 rate by the estimator.",
  }),
  target({
    id: 'ascend-950dt', name: 'Huawei Ascend 950DT', vendor: 'Huawei', kind: 'accelerator',
    memoryBytes: 144 * GiB, memoryBandwidthBytesPerSecond: 4 * TB_S,
    throughput: { fp8: 1000 * T, mxfp8: 1000 * T, mxfp4: 2000 * T },
    native: [...ASCEND, 'fp8', 'mxfp8', 'mxfp4'], interconnect: { name: 'Lingqu (UB) supernode links', bytesPerSecond: 2000 * GB_S }, overhead: ASCEND_OVERHEAD,
    source: 'Huawei Connect 2025 keynote (18 Sep 2025), as reported by reportify.ai, codcompass and medcom.id: 144 GB HiZQ 2.0 at 4 TB/s, same compute as the 950PR; Q4 2026 (Atlas 950 supernode)',
    confidence: 'M',
    notes: "The 910C's decode/training successor. BF16/FP16 rates not published: derived from the FP8 rate by the estimator.",
  }),
  target({
    id: 'mlu590', name: 'Cambricon MLU590', vendor: 'Cambricon', kind: 'accelerator',
    memoryBytes: 192 * GiB, memoryBandwidthBytesPerSecond: 2.4 * TB_S,
    throughput: { int8: 780 * T },
    native: ['fp32', 'bf16', 'fp16', 'int8'], interconnect: { name: 'MLU-Link', bytesPerSecond: null },
    overhead: { bytes: 1 * GiB, fraction: 0.05, note: 'CNRT/CNNL runtime ≈ 1 GiB, plus 5% (assumption, L).' },
    source: `awesomeagents.ai (MLU590: 192 GB HBM2e, ~2,400 GB/s, 7 nm, 450 W); no Cambricon datasheet found; ${REF} §1, §4`,
    confidence: 'L',
    notes: 'Single third-party source. Its "~780 TFLOPS FP8 (est.)" is entered as the 8-bit (INT8) peak, since the MLU family has no FP8 (the same mislabel as Groq\'s "750 TFLOPS FP8"); FP16/BF16 rates are derived from it. Override with --targets-file when a datasheet is at hand.',
  }),
  target({
    id: 'mlu370', name: 'Cambricon MLU370-X8', vendor: 'Cambricon', kind: 'accelerator',
    memoryBytes: 48 * GiB, memoryBandwidthBytesPerSecond: 614.4 * GB_S,
    throughput: { fp32: 32 * T, bf16: 96 * T, fp16: 96 * T, int8: 256 * T, int4: 512 * T },
    native: ['fp32', 'bf16', 'fp16', 'int8', 'int4'], interconnect: { name: 'MLU-Link', bytesPerSecond: 200 * GB_S },
    overhead: { bytes: 1 * GiB, fraction: 0.05, note: 'CNRT/CNNL runtime ≈ 1 GiB, plus 5% (assumption, L).' },
    source: `Cambricon MLU370-X8 launch coverage; ${REF} §1–3`, confidence: 'M',
    notes: 'LPDDR5, not HBM. INT16 (128 TOPS) also native. No FP8.',
  }),
  target({
    id: 'm4-pro', name: 'Apple M4 Pro (64 GB)', vendor: 'Apple', kind: 'laptop',
    memoryBytes: 64 * GiB, memoryBandwidthBytesPerSecond: 273 * GB_S,
    throughput: { fp32: 9 * T, fp16: 9 * T, int8: 38 * T },
    native: APPLE,
    overhead: { bytes: 16 * GiB, fraction: 0.02, note: 'macOS keeps ≈ 25% of unified memory from the GPU by default (recommendedMaxWorkingSetSize) and runs the OS in it: 16 GiB of 64, plus 2%.' },
    source: `Apple M4 Pro/Max announcement (macrumors, techmoran); ${REF} §1–4`, confidence: 'M',
    notes: 'Bandwidth and Neural Engine 38 TOPS (INT8 rate) are Apple figures (H); GPU FP32 ≈ 9 TFLOPS is an estimate (L), FP16 taken at the same ALU rate (L).',
  }),
  target({
    id: 'm4-max', name: 'Apple M4 Max (128 GB, 40-core GPU)', vendor: 'Apple', kind: 'laptop',
    memoryBytes: 128 * GiB, memoryBandwidthBytesPerSecond: 546 * GB_S,
    throughput: { fp32: 18 * T, fp16: 18 * T, int8: 38 * T },
    native: APPLE,
    overhead: { bytes: 32 * GiB, fraction: 0.02, note: 'macOS keeps ≈ 25% of unified memory from the GPU by default and runs the OS in it: 32 GiB of 128, plus 2%.' },
    source: `Apple M4 Max announcement (macrumors); ${REF} §1–4`, confidence: 'M',
    notes: '546 GB/s for the 16-CPU/40-GPU-core part (410 GB/s for the 14/32 bin). GPU FP32 ≈ 18 TFLOPS estimated (L); Neural Engine 38 TOPS.',
  }),
  target({
    id: 'a18-pro', name: 'Apple A18 Pro (iPhone 16 Pro, 8 GB)', vendor: 'Apple', kind: 'phone',
    memoryBytes: 8 * GiB, memoryBandwidthBytesPerSecond: 60 * GB_S,
    throughput: { int8: 35 * T },
    native: APPLE,
    overhead: { bytes: 4 * GiB, fraction: 0.02, note: 'iOS and other apps keep about half of RAM; one app rarely gets more than ≈ 4 GiB of 8 (assumption, L).' },
    source: `gadgets360, phonearena (A18 Pro); ${REF} §1–4`, confidence: 'L',
    notes: 'Bandwidth ≈ 60 GB/s derived from LPDDR5X-7500 × 64-bit (Apple says only "+17%"). Neural Engine 35 TOPS (H); other rates unpublished.',
  }),
  target({
    id: 'a19-pro', name: 'Apple A19 Pro (iPhone 17 Pro, 12 GB)', vendor: 'Apple', kind: 'phone',
    memoryBytes: 12 * GiB, memoryBandwidthBytesPerSecond: 76.8 * GB_S,
    throughput: { int8: 35 * T },
    native: APPLE,
    overhead: { bytes: 5 * GiB, fraction: 0.02, note: 'iOS and other apps keep a large share of RAM; ≈ 7 GiB of 12 left for one app (assumption, L).' },
    source: `macnerd, itc.ua (A19 Pro); ${REF} §1–4`, confidence: 'L',
    notes: 'Bandwidth ≈ 76.8 GB/s derived from an LPDDR5X-9600 leak. Neural Engine TOPS not published: 35 TOPS (A18 Pro) assumed as a floor; the GPU has per-core matrix "Neural Accelerators".',
  }),
  target({
    id: 'snapdragon-8-elite', name: 'Qualcomm Snapdragon 8 Elite (24 GB phone)', vendor: 'Qualcomm', kind: 'phone',
    memoryBytes: 24 * GiB, memoryBandwidthBytesPerSecond: 84.8 * GB_S,
    throughput: { int8: 45 * T },
    native: ['fp32', 'fp16', 'int8', 'int4'],
    overhead: { bytes: 8 * GiB, fraction: 0.02, note: 'Android and other apps keep a large share of RAM; ≈ 16 GiB of 24 left for one app (assumption, L).' },
    source: `geektopia (LPDDR5X-5300 × 8 B = 84.8 GB/s); runlocalai; ${REF} §1–4`, confidence: 'L',
    notes: 'Qualcomm quotes only "+45% NPU vs 8 Gen 3"; third-party TOPS claims conflict (45–80): 45 INT8 TOPS used as a floor. Hexagon NPU INT4/INT8/INT16/FP16 per Qualcomm materials.',
  }),
  target({
    id: 'groq-lpu', name: 'Groq LPU (GroqChip 1)', vendor: 'Groq', kind: 'accelerator',
    memoryBytes: 230 * MB, memoryBandwidthBytesPerSecond: 80 * TB_S,
    throughput: { fp16: 188 * T, int8: 750 * T },
    native: ['fp32', 'fp16', 'int8'], interconnect: { name: 'GroqRack chip-to-chip links', bytesPerSecond: null },
    overhead: { bytes: 0, fraction: 0, note: 'Statically compiled; no runtime allocator on the chip. Weights and activations share the 230 MB SRAM.' },
    sramOnly: true,
    source: `techpowerup, aiwiki (Groq LPU); ${REF} §1–4`, confidence: 'M',
    notes: 'Weights live in on-die SRAM only: devicesNeeded is the number of chips (a 70B FP16 model needs ~576 per third-party reports). "750 TFLOPS FP8" claims are a mislabel of 750 INT8 TOPS.',
  }),
  target({
    id: 'cerebras-wse3', name: 'Cerebras WSE-3', vendor: 'Cerebras', kind: 'accelerator',
    memoryBytes: 44 * GB, memoryBandwidthBytesPerSecond: 21e15,
    throughput: { fp16: 62.5e15, bf16: 62.5e15 },
    native: ['fp32', 'bf16', 'fp16'], interconnect: { name: 'On-wafer fabric (214 Pb/s); CS-3 systems via SwarmX', bytesPerSecond: null },
    overhead: { bytes: 0, fraction: 0, note: 'Statically compiled; weights stream from on-wafer SRAM with no runtime allocator.' },
    sramOnly: true,
    source: `yobitel, aiwiki (WSE-3); ${REF} §1–4`, confidence: 'L',
    notes: '"125 PFLOPS peak AI" is labelled sparse FP16 by some sources and FP8 by others; half of it (62.5 PFLOPS) is used as the dense FP16/BF16 rate. devicesNeeded counts wafers.',
  }),
  target({
    id: 'cpu', name: 'Generic CPU host (64 GB DDR5)', vendor: 'generic', kind: 'cpu',
    memoryBytes: 64 * GiB, memoryBandwidthBytesPerSecond: 80 * GB_S,
    throughput: { fp32: 1.5 * T, bf16: 3 * T, int8: 6 * T },
    native: ['fp64', 'fp32', 'bf16', 'int8'],
    overhead: { bytes: 25 * MiB, fraction: 0.1, note: 'Runtime state ≈ 25 MiB (onnxruntime-node 1.30 session on a one-node model) plus 10% for allocator-arena rounding and the runtime\'s working copies, fitted on 64–157 MiB models (test/integration/ortMemory.ts); the OS and the runtime library itself are not counted.' },
    source: 'Assumption: a desktop/server host with dual-channel DDR5-5600 (89.6 GB/s peak, ~80 GB/s sustained), 16 cores with AVX-512 (FP32 ≈ 1.5 TFLOPS), AVX-512-BF16 / AMX-class BF16 ≈ 3 TFLOPS, VNNI INT8 ≈ 6 TOPS.',
    confidence: 'L',
    notes: 'Not a real product: edit it with a targets file to match your machine. FP16 matrix math is not native on most CPUs (runtimes upcast to FP32).',
  }),
];
//#endregion

const CATALOG_BY_ID = new Map(TARGETS.map((t) => [t.id, t]));

/** Merges user targets into a catalog: a user target with a catalog id replaces it; new ids are appended. */
export function mergeTargets(catalog: readonly Target[], user: readonly Target[]): Target[] {
  const byId = new Map(user.map((t) => [t.id, t]));
  const merged = catalog.map((t) => byId.get(t.id) ?? t);
  const known = new Set(catalog.map((t) => t.id));
  for (const t of user) if (!known.has(t.id)) merged.push(t);
  return merged;
}

/** Looks up a target by id (case-insensitive); `extra` (user targets) take precedence over the catalog. */
export function getTarget(id: string, extra: readonly Target[] = []): Target | undefined {
  const k = id.trim().toLowerCase();
  return extra.find((t) => t.id === k) ?? CATALOG_BY_ID.get(k);
}

/** Up to `count` ids closest to `id` (edit distance, then longest shared prefix), for "did you mean" messages. */
export function nearestTargetIds(id: string, targets: readonly Target[] = TARGETS, count = 3): string[] {
  const k = id.trim().toLowerCase();
  return targets
    .map((t) => ({ id: t.id, d: editDistance(k, t.id) - (t.id.includes(k) || k.includes(t.id) ? 2 : 0), p: commonPrefixLength(k, t.id) }))
    .sort((a, b) => a.d - b.d || b.p - a.p || a.id.localeCompare(b.id))
    .slice(0, count)
    .map((x) => x.id);
}


