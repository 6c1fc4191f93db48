/**
 * Number formats a layer can be assigned, as data. Every size is exact: a tensor of N elements takes
 * `ceil(N / blockSize) * bytesPerBlock` bytes, plus `perTensorBytes`, plus `perChannelBytes` × output channels
 * (shape[0]) for per-channel formats. Facts from ../shared/reference/hardware-and-formats.md §5
 * (OCP OFP8 v1.0, OCP MX v1.0, NVIDIA NVFP4, ggml-common.h @01243c58).
 *
 * Two modes:
 * - 'compute': the matrix units must run the format itself (FP8 W8A8, INT8 W8A8, NVFP4, MXFP4, BF16 …);
 *   a target without it natively is flagged and runs it at the rate of `fallbackCompute`.
 * - 'weight-only': stored low and dequantized by kernels to `computeAs` (INT8/INT4 weight-only, NF4, GGUF
 *   types, ternary, binary); runs on any target at that compute type's rate and saves memory and bandwidth.
 *
 * Ids are lowercase and stable: plans, CLI flags and JSON use them. Aliases map common short names.
 */
import { DTYPES } from '../model/dtypes';

/** What a target's matrix units execute (keys of a target's throughput table and `native` list). */
export type ComputeType =
  | 'fp64'
  | 'fp32'
  | 'tf32'
  | 'bf16'
  | 'fp16'
  | 'fp8'
  | 'fp8_fnuz'
  | 'mxfp8'
  | 'fp6'
  | 'mxfp6'
  | 'mxfp4'
  | 'nvfp4'
  | 'int8'
  | 'int4';

/** One assignable number format. */
export interface NumberFormat {
  readonly id: string;
  readonly label: string;
  readonly mode: 'compute' | 'weight-only';
  /** Element encoding, used by the quantizers (sensitivity) and exporters. */
  readonly element:
    | 'fp32' | 'tf32' | 'bf16' | 'fp16'
    | 'fp8_e4m3' | 'fp8_e5m2' | 'fp8_e4m3fnuz' | 'fp8_e5m2fnuz'
    | 'fp6_e2m3' | 'fp6_e3m2' | 'fp4_e2m1'
    | 'int8' | 'int4' | 'nf4' | 'ternary' | 'binary' | 'ggml';
  /** Scale granularity. */
  readonly scaling: 'none' | 'tensor' | 'channel' | 'group';
  /** Elements per block (group); 1 for scalar and per-tensor/per-channel formats. */
  readonly blockSize: number;
  /** Bytes per block, block scales included. */
  readonly bytesPerBlock: number;
  /** Extra bytes once per tensor (per-tensor scale; NVFP4's FP32 second-level scale). */
  readonly perTensorBytes: number;
  /** Extra bytes per output channel (per-channel scales), multiplied by shape[0]. */
  readonly perChannelBytes: number;
  /** The compute type needed by the matrix units ('compute' mode) or the type weights are dequantized to. */
  readonly computeAs: ComputeType;
  /** For compute formats a target lacks: what it is converted to and run at. */
  readonly fallbackCompute: ComputeType;
  /** Largest finite representable magnitude of the element (before scaling); undefined when scaled/unbounded. */
  readonly maxFinite: number | undefined;
  /** ggml dtype id when this is a GGUF quantization type. */
  readonly ggmlType: string | undefined;
  /** ONNX TensorProto data type name it is stored as, when ONNX has one. */
  readonly onnxType: string | undefined;
  readonly source: string;
}

const REF = '../shared/reference/hardware-and-formats.md §5';

function fmt(f: Omit<NumberFormat, 'perTensorBytes' | 'perChannelBytes' | 'ggmlType' | 'onnxType' | 'maxFinite' | 'fallbackCompute' | 'source'> & Partial<NumberFormat>): NumberFormat {
  return {
    perTensorBytes: 0,
    perChannelBytes: 0,
    ggmlType: undefined,
    onnxType: undefined,
    maxFinite: undefined,
    fallbackCompute: f.mode === 'compute' ? 'fp16' : f.computeAs,
    source: REF,
    ...f,
  };
}

//#region format table
const CORE_FORMATS: readonly NumberFormat[] = [
  fmt({ id: 'fp32', label: 'FP32', mode: 'compute', element: 'fp32', scaling: 'none', blockSize: 1, bytesPerBlock: 4, computeAs: 'fp32', fallbackCompute: 'fp32', maxFinite: 3.4028235e38, onnxType: 'FLOAT', source: 'IEEE 754' }),
  fmt({ id: 'tf32', label: 'TF32', mode: 'compute', element: 'tf32', scaling: 'none', blockSize: 1, bytesPerBlock: 4, computeAs: 'tf32', fallbackCompute: 'fp32', maxFinite: 3.4e38, onnxType: 'FLOAT', source: 'NVIDIA Ampere whitepaper (stored as FP32)' }),
  fmt({ id: 'bf16', label: 'BF16', mode: 'compute', element: 'bf16', scaling: 'none', blockSize: 1, bytesPerBlock: 2, computeAs: 'bf16', fallbackCompute: 'fp32', maxFinite: 3.3895314e38, onnxType: 'BFLOAT16' }),
  fmt({ id: 'fp16', label: 'FP16', mode: 'compute', element: 'fp16', scaling: 'none', blockSize: 1, bytesPerBlock: 2, computeAs: 'fp16', fallbackCompute: 'fp32', maxFinite: 65504, onnxType: 'FLOAT16', source: 'IEEE 754' }),
  fmt({ id: 'fp8_e4m3', label: 'FP8 E4M3', mode: 'compute', element: 'fp8_e4m3', scaling: 'tensor', blockSize: 1, bytesPerBlock: 1, perTensorBytes: 4, computeAs: 'fp8', maxFinite: 448, onnxType: 'FLOAT8E4M3FN', source: 'OCP OFP8 v1.0' }),
  fmt({ id: 'fp8_e5m2', label: 'FP8 E5M2', mode: 'compute', element: 'fp8_e5m2', scaling: 'tensor', blockSize: 1, bytesPerBlock: 1, perTensorBytes: 4, computeAs: 'fp8', maxFinite: 57344, onnxType: 'FLOAT8E5M2', source: 'OCP OFP8 v1.0' }),
  fmt({ id: 'fp8_e4m3fnuz', label: 'FP8 E4M3FNUZ', mode: 'compute', element: 'fp8_e4m3fnuz', scaling: 'tensor', blockSize: 1, bytesPerBlock: 1, perTensorBytes: 4, computeAs: 'fp8_fnuz', maxFinite: 240, onnxType: 'FLOAT8E4M3FNUZ', source: 'ROCm docs; StableHLO RFC' }),
  fmt({ id: 'fp8_e5m2fnuz', label: 'FP8 E5M2FNUZ', mode: 'compute', element: 'fp8_e5m2fnuz', scaling: 'tensor', blockSize: 1, bytesPerBlock: 1, perTensorBytes: 4, computeAs: 'fp8_fnuz', maxFinite: 57344, onnxType: 'FLOAT8E5M2FNUZ', source: 'ROCm docs; StableHLO RFC' }),
  fmt({ id: 'mxfp8', label: 'MXFP8', mode: 'compute', element: 'fp8_e4m3', scaling: 'group', blockSize: 32, bytesPerBlock: 33, computeAs: 'mxfp8', maxFinite: 448, source: 'OCP MX v1.0' }),
  fmt({ id: 'mxfp6', label: 'MXFP6', mode: 'compute', element: 'fp6_e2m3', scaling: 'group', blockSize: 32, bytesPerBlock: 25, computeAs: 'mxfp6', maxFinite: 7.5, source: 'OCP MX v1.0' }),
  fmt({ id: 'mxfp4', label: 'MXFP4', mode: 'compute', element: 'fp4_e2m1', scaling: 'group', blockSize: 32, bytesPerBlock: 17, computeAs: 'mxfp4', maxFinite: 6, ggmlType: 'mxfp4', source: 'OCP MX v1.0' }),
  fmt({ id: 'nvfp4', label: 'NVFP4', mode: 'compute', element: 'fp4_e2m1', scaling: 'group', blockSize: 16, bytesPerBlock: 9, perTensorBytes: 4, computeAs: 'nvfp4', maxFinite: 6, source: 'NVIDIA "Introducing NVFP4" (E4M3 scale per 16 + FP32 per tensor)' }),
  fmt({ id: 'w8a8', label: 'INT8 W8A8', mode: 'compute', element: 'int8', scaling: 'channel', blockSize: 1, bytesPerBlock: 1, perChannelBytes: 4, computeAs: 'int8', maxFinite: 127, onnxType: 'INT8', source: 'SmoothQuant; ONNX Runtime QDQ (FP32 scale per channel)' }),
  fmt({ id: 'int8', label: 'INT8 (weight-only, per-channel)', mode: 'weight-only', element: 'int8', scaling: 'channel', blockSize: 1, bytesPerBlock: 1, perChannelBytes: 4, computeAs: 'fp16', maxFinite: 127, onnxType: 'INT8', source: 'LLM.int8(); ONNX DequantizeLinear per-axis (FP32 scale per channel)' }),
  fmt({ id: 'int8_tensor', label: 'INT8 (weight-only, per-tensor)', mode: 'weight-only', element: 'int8', scaling: 'tensor', blockSize: 1, bytesPerBlock: 1, perTensorBytes: 4, computeAs: 'fp16', maxFinite: 127, onnxType: 'INT8' }),
  fmt({ id: 'int4', label: 'INT4 (weight-only, g128)', mode: 'weight-only', element: 'int4', scaling: 'group', blockSize: 128, bytesPerBlock: 66, computeAs: 'fp16', maxFinite: 7, onnxType: 'INT4', source: 'GPTQ/AWQ group_size=128, FP16 scale per group (4.125 bpw)' }),
  fmt({ id: 'int4_g64', label: 'INT4 (weight-only, g64)', mode: 'weight-only', element: 'int4', scaling: 'group', blockSize: 64, bytesPerBlock: 34, computeAs: 'fp16', maxFinite: 7, onnxType: 'INT4' }),
  fmt({ id: 'int4_g32', label: 'INT4 (weight-only, g32)', mode: 'weight-only', element: 'int4', scaling: 'group', blockSize: 32, bytesPerBlock: 18, computeAs: 'fp16', maxFinite: 7, onnxType: 'INT4' }),
  fmt({ id: 'w4a4', label: 'INT4 W4A4 (g128)', mode: 'compute', element: 'int4', scaling: 'group', blockSize: 128, bytesPerBlock: 66, computeAs: 'int4', fallbackCompute: 'int8', maxFinite: 7, onnxType: 'INT4' }),
  fmt({ id: 'nf4', label: 'NF4 (g64)', mode: 'weight-only', element: 'nf4', scaling: 'group', blockSize: 64, bytesPerBlock: 36, computeAs: 'bf16', maxFinite: 1, source: 'QLoRA / bitsandbytes: 4-bit NormalFloat, FP32 absmax per 64 (4.5 bpw, no double quantization)' }),
  fmt({ id: 'ternary', label: 'Ternary b1.58', mode: 'weight-only', element: 'ternary', scaling: 'group', blockSize: 256, bytesPerBlock: 54, computeAs: 'int8', maxFinite: 1, ggmlType: 'tq1_0', source: 'BitNet b1.58 (arXiv 2402.17764), packed as ggml TQ1_0 (1.6875 bpw)' }),
  fmt({ id: 'binary', label: 'Binary 1-bit (g128)', mode: 'weight-only', element: 'binary', scaling: 'group', blockSize: 128, bytesPerBlock: 18, computeAs: 'fp16', maxFinite: 1, ggmlType: 'q1_0', source: 'PrismML Bonsai / ggml Q1_0: FP16 scale per 128 (1.125 bpw)' }),
];

/** Every ggml quantization type is also a weight-only format, with the ggml dtype's exact block layout. */
const GGML_FORMATS: readonly NumberFormat[] = DTYPES.filter((d) => d.kind === 'quantized' && !['mxfp4', 'q8_1', 'q8_k'].includes(d.id)).map((d) =>
  fmt({ id: d.id === 'nvfp4' ? 'gguf_nvfp4' : d.id, label: d.label, mode: 'weight-only', element: 'ggml', scaling: 'group', blockSize: d.blockSize, bytesPerBlock: d.bytesPerBlock, computeAs: 'fp16', ggmlType: d.id, source: 'ggml-common.h @01243c58 (via reference §5.3)' }),
);
//#endregion

/** All formats, core first, then GGUF types. */
export const NUMBER_FORMATS: readonly NumberFormat[] = [...CORE_FORMATS, ...GGML_FORMATS];

const BY_ID = new Map(NUMBER_FORMATS.map((f) => [f.id, f]));

/** Short names users type (`--formats fp8,int4`). */
export const FORMAT_ALIASES: Readonly<Record<string, string>> = {
  fp8: 'fp8_e4m3',
  e4m3: 'fp8_e4m3',
  e5m2: 'fp8_e5m2',
  float32: 'fp32',
  float16: 'fp16',
  half: 'fp16',
  bfloat16: 'bf16',
  int4_g128: 'int4',
  b1_58: 'ternary',
  '1bit': 'binary',
};

/** Looks up a format by id or alias (case-insensitive); undefined when unknown. */
export function getNumberFormat(idOrAlias: string): NumberFormat | undefined {
  const k = idOrAlias.trim().toLowerCase();
  return BY_ID.get(FORMAT_ALIASES[k] ?? k);
}

/** Exact bytes of a tensor with `shape` stored in `format`, scales included. */
export function formatByteLength(format: NumberFormat, shape: readonly number[], elementCount = shape.reduce((a, b) => a * b, 1)): number {
  const blocks = Math.ceil(elementCount / format.blockSize);
  const channels = format.perChannelBytes > 0 ? (shape[0] ?? 1) : 0;
  return blocks * format.bytesPerBlock + format.perTensorBytes + channels * format.perChannelBytes;
}

/** Effective bits per weight including block scales (per-tensor/per-channel extras excluded). */
export function formatBitsPerWeight(format: NumberFormat): number {
  return (format.bytesPerBlock * 8) / format.blockSize;
}
