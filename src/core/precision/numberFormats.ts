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
import { own } from '../model/dict';
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
  /** Smallest positive normal magnitude of the element (before scaling); undefined for integer and ggml elements. */
  readonly minNormal: number | undefined;
  /** Smallest positive subnormal magnitude of the element (before scaling); undefined when the element has no subnormals (TF32 as a compute mode, integers, ggml). */
  readonly minSubnormal: number | undefined;
  /** ggml dtype id when this is a GGUF quantization type. */
  readonly ggmlType: string | undefined;
  /** ONNX TensorProto data type name it is stored as, when ONNX has one. */
  readonly onnxType: string | undefined;
  readonly source: string;
}

const REF = '../shared/reference/hardware-and-formats.md §5';

/**
 * Representable range of each element encoding, before any block/tensor scale (reference §5.1: IEEE 754,
 * OCP OFP8 v1.0, OCP MX v1.0, ROCm/StableHLO FNUZ). Integers: largest magnitude in scale units (min normal/
 * subnormal do not apply). ggml elements vary per type, so they have no single range.
 */
//#region element ranges
export const ELEMENT_RANGES: Readonly<Record<NumberFormat['element'], { readonly maxFinite: number | undefined; readonly minNormal: number | undefined; readonly minSubnormal: number | undefined }>> = {
  fp32: { maxFinite: 3.4028234663852886e38, minNormal: 2 ** -126, minSubnormal: 2 ** -149 },
  tf32: { maxFinite: (2 - 2 ** -10) * 2 ** 127, minNormal: 2 ** -126, minSubnormal: undefined },
  bf16: { maxFinite: 3.3895313892515355e38, minNormal: 2 ** -126, minSubnormal: 2 ** -133 },
  fp16: { maxFinite: 65504, minNormal: 2 ** -14, minSubnormal: 2 ** -24 },
  fp8_e4m3: { maxFinite: 448, minNormal: 2 ** -6, minSubnormal: 2 ** -9 },
  fp8_e5m2: { maxFinite: 57344, minNormal: 2 ** -14, minSubnormal: 2 ** -16 },
  fp8_e4m3fnuz: { maxFinite: 240, minNormal: 2 ** -7, minSubnormal: 2 ** -10 },
  fp8_e5m2fnuz: { maxFinite: 57344, minNormal: 2 ** -15, minSubnormal: 2 ** -17 },
  fp6_e2m3: { maxFinite: 7.5, minNormal: 1, minSubnormal: 0.125 },
  fp6_e3m2: { maxFinite: 28, minNormal: 0.25, minSubnormal: 0.0625 },
  fp4_e2m1: { maxFinite: 6, minNormal: 1, minSubnormal: 0.5 },
  int8: { maxFinite: 127, minNormal: undefined, minSubnormal: undefined },
  int4: { maxFinite: 7, minNormal: undefined, minSubnormal: undefined },
  nf4: { maxFinite: 1, minNormal: undefined, minSubnormal: undefined },
  ternary: { maxFinite: 1, minNormal: undefined, minSubnormal: undefined },
  binary: { maxFinite: 1, minNormal: undefined, minSubnormal: undefined },
  ggml: { maxFinite: undefined, minNormal: undefined, minSubnormal: undefined },
};
//#endregion

function fmt(f: Omit<NumberFormat, 'perTensorBytes' | 'perChannelBytes' | 'ggmlType' | 'onnxType' | 'maxFinite' | 'minNormal' | 'minSubnormal' | 'fallbackCompute' | 'source'> & Partial<NumberFormat>): NumberFormat {
  return {
    perTensorBytes: 0,
    perChannelBytes: 0,
    ggmlType: undefined,
    onnxType: undefined,
    ...ELEMENT_RANGES[f.element],
    fallbackCompute: f.mode === 'compute' ? 'fp16' : f.computeAs,
    source: REF,
    ...f,
  };
}

//#region format table
const CORE_FORMATS: readonly NumberFormat[] = [
  fmt({ id: 'fp32', label: 'FP32', mode: 'compute', element: 'fp32', scaling: 'none', blockSize: 1, bytesPerBlock: 4, computeAs: 'fp32', fallbackCompute: 'fp32', onnxType: 'FLOAT', source: 'IEEE 754' }),
  fmt({ id: 'tf32', label: 'TF32', mode: 'compute', element: 'tf32', scaling: 'none', blockSize: 1, bytesPerBlock: 4, computeAs: 'tf32', fallbackCompute: 'fp32', onnxType: 'FLOAT', source: 'NVIDIA Ampere whitepaper (stored as FP32)' }),
  fmt({ id: 'bf16', label: 'BF16', mode: 'compute', element: 'bf16', scaling: 'none', blockSize: 1, bytesPerBlock: 2, computeAs: 'bf16', fallbackCompute: 'fp32', onnxType: 'BFLOAT16' }),
  fmt({ id: 'fp16', label: 'FP16', mode: 'compute', element: 'fp16', scaling: 'none', blockSize: 1, bytesPerBlock: 2, computeAs: 'fp16', fallbackCompute: 'fp32', onnxType: 'FLOAT16', source: 'IEEE 754' }),
  fmt({ id: 'fp8_e4m3', label: 'FP8 E4M3', mode: 'compute', element: 'fp8_e4m3', scaling: 'tensor', blockSize: 1, bytesPerBlock: 1, perTensorBytes: 4, computeAs: 'fp8', onnxType: 'FLOAT8E4M3FN', source: 'OCP OFP8 v1.0' }),
  fmt({ id: 'fp8_e5m2', label: 'FP8 E5M2', mode: 'compute', element: 'fp8_e5m2', scaling: 'tensor', blockSize: 1, bytesPerBlock: 1, perTensorBytes: 4, computeAs: 'fp8', onnxType: 'FLOAT8E5M2', source: 'OCP OFP8 v1.0' }),
  fmt({ id: 'fp8_e4m3fnuz', label: 'FP8 E4M3FNUZ', mode: 'compute', element: 'fp8_e4m3fnuz', scaling: 'tensor', blockSize: 1, bytesPerBlock: 1, perTensorBytes: 4, computeAs: 'fp8_fnuz', onnxType: 'FLOAT8E4M3FNUZ', source: 'ROCm docs; StableHLO RFC' }),
  fmt({ id: 'fp8_e5m2fnuz', label: 'FP8 E5M2FNUZ', mode: 'compute', element: 'fp8_e5m2fnuz', scaling: 'tensor', blockSize: 1, bytesPerBlock: 1, perTensorBytes: 4, computeAs: 'fp8_fnuz', onnxType: 'FLOAT8E5M2FNUZ', source: 'ROCm docs; StableHLO RFC' }),
  fmt({ id: 'mxfp8', label: 'MXFP8', mode: 'compute', element: 'fp8_e4m3', scaling: 'group', blockSize: 32, bytesPerBlock: 33, computeAs: 'mxfp8', source: 'OCP MX v1.0' }),
  fmt({ id: 'mxfp6', label: 'MXFP6', mode: 'compute', element: 'fp6_e2m3', scaling: 'group', blockSize: 32, bytesPerBlock: 25, computeAs: 'mxfp6', source: 'OCP MX v1.0' }),
  fmt({ id: 'mxfp4', label: 'MXFP4', mode: 'compute', element: 'fp4_e2m1', scaling: 'group', blockSize: 32, bytesPerBlock: 17, computeAs: 'mxfp4', ggmlType: 'mxfp4', source: 'OCP MX v1.0' }),
  fmt({ id: 'nvfp4', label: 'NVFP4', mode: 'compute', element: 'fp4_e2m1', scaling: 'group', blockSize: 16, bytesPerBlock: 9, perTensorBytes: 4, computeAs: 'nvfp4', source: 'NVIDIA "Introducing NVFP4" (E4M3 scale per 16 + FP32 per tensor)' }),
  fmt({ id: 'w8a8', label: 'INT8 W8A8', mode: 'compute', element: 'int8', scaling: 'channel', blockSize: 1, bytesPerBlock: 1, perChannelBytes: 4, computeAs: 'int8', onnxType: 'INT8', source: 'SmoothQuant; ONNX Runtime QDQ (FP32 scale per channel)' }),
  fmt({ id: 'int8', label: 'INT8 (weight-only, per-channel)', mode: 'weight-only', element: 'int8', scaling: 'channel', blockSize: 1, bytesPerBlock: 1, perChannelBytes: 4, computeAs: 'fp16', onnxType: 'INT8', source: 'LLM.int8(); ONNX DequantizeLinear per-axis (FP32 scale per channel)' }),
  fmt({ id: 'int8_tensor', label: 'INT8 (weight-only, per-tensor)', mode: 'weight-only', element: 'int8', scaling: 'tensor', blockSize: 1, bytesPerBlock: 1, perTensorBytes: 4, computeAs: 'fp16', onnxType: 'INT8' }),
  fmt({ id: 'int4', label: 'INT4 (weight-only, g128)', mode: 'weight-only', element: 'int4', scaling: 'group', blockSize: 128, bytesPerBlock: 66, computeAs: 'fp16', onnxType: 'INT4', source: 'GPTQ/AWQ group_size=128, FP16 scale per group (4.125 bpw)' }),
  fmt({ id: 'int4_g64', label: 'INT4 (weight-only, g64)', mode: 'weight-only', element: 'int4', scaling: 'group', blockSize: 64, bytesPerBlock: 34, computeAs: 'fp16', onnxType: 'INT4' }),
  fmt({ id: 'int4_g32', label: 'INT4 (weight-only, g32)', mode: 'weight-only', element: 'int4', scaling: 'group', blockSize: 32, bytesPerBlock: 18, computeAs: 'fp16', onnxType: 'INT4' }),
  fmt({ id: 'w4a4', label: 'INT4 W4A4 (g128)', mode: 'compute', element: 'int4', scaling: 'group', blockSize: 128, bytesPerBlock: 66, computeAs: 'int4', fallbackCompute: 'int8', onnxType: 'INT4' }),
  fmt({ id: 'nf4', label: 'NF4 (g64)', mode: 'weight-only', element: 'nf4', scaling: 'group', blockSize: 64, bytesPerBlock: 36, computeAs: 'bf16', source: 'QLoRA / bitsandbytes: 4-bit NormalFloat, FP32 absmax per 64 (4.5 bpw, no double quantization)' }),
  fmt({ id: 'ternary', label: 'Ternary b1.58', mode: 'weight-only', element: 'ternary', scaling: 'group', blockSize: 256, bytesPerBlock: 54, computeAs: 'int8', ggmlType: 'tq1_0', source: 'BitNet b1.58 (arXiv 2402.17764), packed as ggml TQ1_0 (1.6875 bpw)' }),
  fmt({ id: 'binary', label: 'Binary 1-bit (g128)', mode: 'weight-only', element: 'binary', scaling: 'group', blockSize: 128, bytesPerBlock: 18, computeAs: 'fp16', ggmlType: 'q1_0', source: 'PrismML Bonsai / ggml Q1_0: FP16 scale per 128 (1.125 bpw)' }),
];

/**
 * Storage-only layouts of forks and packed checkpoints (bitnet.cpp I2_S, PrismML's 128-weight Q2_0, BitNet's packed
 * uint8): read as stored, never offered as assignable formats; they run as the ternary format.
 */
const FORK_STORAGE_DTYPES: readonly string[] = ['i2_s', 'q2_0_g128', 'ternary_u8x4', 'tl1', 'tl2'];

/** Every upstream ggml quantization type is also a weight-only format, with the ggml dtype's exact block layout. */
const GGML_FORMATS: readonly NumberFormat[] = DTYPES.filter((d) => d.kind === 'quantized' && !['mxfp4', 'mxfp4_split', 'q8_1', 'q8_k', ...FORK_STORAGE_DTYPES].includes(d.id)).map((d) =>
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
  if (typeof idOrAlias !== 'string') return undefined;
  // An id as it is (the planner asks per layer × format): ids are trimmed lower case and no alias is an id
  // (test/unit/numberFormats.test.ts), so this is what the lookup below finds for it.
  const exact = BY_ID.get(idOrAlias);
  if (exact) return exact;
  const k = idOrAlias.trim().toLowerCase();
  return BY_ID.get(own(FORMAT_ALIASES, k) ?? k);
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

/** Every compute type, in a stable display order. */
export const COMPUTE_TYPES: readonly ComputeType[] = ['fp64', 'fp32', 'tf32', 'bf16', 'fp16', 'fp8', 'fp8_fnuz', 'mxfp8', 'fp6', 'mxfp6', 'mxfp4', 'nvfp4', 'int8', 'int4'];

/** Bits of one operand element of each compute type (used to derive an unpublished rate from a published one). */
export const COMPUTE_TYPE_BITS: Readonly<Record<ComputeType, number>> = {
  fp64: 64, fp32: 32, tf32: 32, bf16: 16, fp16: 16, fp8: 8, fp8_fnuz: 8, mxfp8: 8, fp6: 6, mxfp6: 6, mxfp4: 4, nvfp4: 4, int8: 8, int4: 4,
};

/**
 * What a compute type is converted to when a target's matrix units lack it, in order of preference; the first
 * type the target runs natively wins (FP32 last: every target can run it, at worst slowly). Conversions only
 * widen (or switch between FP8 encodings of the same width, as vLLM does for OCP FP8 weights on MI300X), so
 * they never lose range: FP16 is not narrowed to BF16, BF16 is not narrowed to FP16.
 */
export const COMPUTE_FALLBACKS: Readonly<Record<ComputeType, readonly ComputeType[]>> = {
  fp64: ['fp32'],
  fp32: [],
  tf32: ['fp32'],
  bf16: ['fp32'],
  fp16: ['fp32'],
  fp8: ['fp8_fnuz', 'fp16', 'bf16', 'fp32'],
  fp8_fnuz: ['fp8', 'fp16', 'bf16', 'fp32'],
  mxfp8: ['fp8', 'fp8_fnuz', 'fp16', 'bf16', 'fp32'],
  fp6: ['mxfp6', 'fp8', 'fp8_fnuz', 'fp16', 'bf16', 'fp32'],
  mxfp6: ['fp8', 'fp8_fnuz', 'fp16', 'bf16', 'fp32'],
  mxfp4: ['nvfp4', 'fp8', 'fp8_fnuz', 'fp16', 'bf16', 'fp32'],
  nvfp4: ['mxfp4', 'fp8', 'fp8_fnuz', 'fp16', 'bf16', 'fp32'],
  int8: ['fp16', 'bf16', 'fp32'],
  int4: ['int8', 'fp16', 'bf16', 'fp32'],
};

/**
 * The assignable format a stored tensor dtype corresponds to ("as stored"), or undefined for dtypes that are
 * not real-valued weights (int64 shape tables, bool, strings). 8-bit integers are W8A8 compute when the
 * consuming op itself is integer (`integerOp`: ONNX QLinear… and …Integer ops, TFLite full-integer kernels), and
 * weight-only otherwise (dequantized before a float op). FLOAT4E2M1 without block scales is taken as MXFP4.
 */
export function formatForStoredDType(dtype: string, integerOp = false): NumberFormat | undefined {
  const id = STORED_DTYPE_FORMATS[dtype];
  if (id === 'int8') return BY_ID.get(integerOp ? 'w8a8' : 'int8');
  if (id === 'int4') return BY_ID.get(integerOp ? 'w4a4' : 'int4');
  if (id) return BY_ID.get(id);
  const ggml = NUMBER_FORMATS.find((f) => f.ggmlType === dtype && f.element === 'ggml') ?? NUMBER_FORMATS.find((f) => f.ggmlType === dtype);
  return ggml;
}

const STORED_DTYPE_FORMATS: Readonly<Record<string, string>> = {
  float32: 'fp32',
  float64: 'fp32',
  float16: 'fp16',
  bfloat16: 'bf16',
  float8_e4m3fn: 'fp8_e4m3',
  float8_e5m2: 'fp8_e5m2',
  float8_e4m3fnuz: 'fp8_e4m3fnuz',
  float8_e5m2fnuz: 'fp8_e5m2fnuz',
  float4_e2m1: 'mxfp4',
  int8: 'int8',
  uint8: 'int8',
  int4: 'int4',
  uint4: 'int4',
  mxfp4: 'mxfp4',
  ternary_u8x4: 'ternary',
  i2_s: 'ternary',
  q2_0_g128: 'ternary',
  tl1: 'ternary',
  tl2: 'ternary',
  mxfp4_split: 'mxfp4',
};

/** Format id meaning "leave the layer as stored": the one spelling plans, the solver and the estimator accept. */
export const KEEP_FORMAT = 'keep';
