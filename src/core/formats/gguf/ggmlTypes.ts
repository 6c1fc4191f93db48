/**
 * ggml tensor type ids (as stored in GGUF tensor infos) → IR dtype ids, as one table.
 *
 * Ids: `enum ggml_type` in https://github.com/ggml-org/llama.cpp/blob/master/ggml/include/ggml.h
 * (F32 = 0 … MXFP4 = 39, NVFP4 = 40, Q1_0 = 41, Q2_0 = 42, GGML_TYPE_COUNT = 43).
 * Block sizes and bytes per block: `type_traits` in ggml/src/ggml.c (`blck_size`, `type_size = sizeof(block_*)`)
 * and the block structs with their `static_assert`s in ggml/src/ggml-common.h (e.g. `QK_NVFP4 64` → 4 UE4M3 scales
 * + 32 B = 36 B; `QK1_0 128` → fp16 d + 16 B = 18 B; `QK2_0 64` → fp16 d + 16 B = 18 B). The sizes live in the IR
 * dtype table (src/core/model/dtypes.ts); `test/unit/gguf.test.ts` pins every row against the upstream values.
 * See also /work/shared/reference/hardware-and-formats.md §5.3.
 */

/** One ggml type: its upstream name and the IR dtype it maps to. */
export interface GgmlType {
  /** ggml_type id as stored in the file. */
  readonly id: number;
  /** Upstream name without the `GGML_TYPE_` prefix. */
  readonly name: string;
  /** IR dtype id (src/core/model/dtypes.ts). */
  readonly dtype: string;
}

//#region ggml type table
const TABLE: readonly GgmlType[] = [
  { id: 0, name: 'F32', dtype: 'float32' },
  { id: 1, name: 'F16', dtype: 'float16' },
  { id: 2, name: 'Q4_0', dtype: 'q4_0' },
  { id: 3, name: 'Q4_1', dtype: 'q4_1' },
  { id: 6, name: 'Q5_0', dtype: 'q5_0' },
  { id: 7, name: 'Q5_1', dtype: 'q5_1' },
  { id: 8, name: 'Q8_0', dtype: 'q8_0' },
  { id: 9, name: 'Q8_1', dtype: 'q8_1' },
  { id: 10, name: 'Q2_K', dtype: 'q2_k' },
  { id: 11, name: 'Q3_K', dtype: 'q3_k' },
  { id: 12, name: 'Q4_K', dtype: 'q4_k' },
  { id: 13, name: 'Q5_K', dtype: 'q5_k' },
  { id: 14, name: 'Q6_K', dtype: 'q6_k' },
  { id: 15, name: 'Q8_K', dtype: 'q8_k' },
  { id: 16, name: 'IQ2_XXS', dtype: 'iq2_xxs' },
  { id: 17, name: 'IQ2_XS', dtype: 'iq2_xs' },
  { id: 18, name: 'IQ3_XXS', dtype: 'iq3_xxs' },
  { id: 19, name: 'IQ1_S', dtype: 'iq1_s' },
  { id: 20, name: 'IQ4_NL', dtype: 'iq4_nl' },
  { id: 21, name: 'IQ3_S', dtype: 'iq3_s' },
  { id: 22, name: 'IQ2_S', dtype: 'iq2_s' },
  { id: 23, name: 'IQ4_XS', dtype: 'iq4_xs' },
  { id: 24, name: 'I8', dtype: 'int8' },
  { id: 25, name: 'I16', dtype: 'int16' },
  { id: 26, name: 'I32', dtype: 'int32' },
  { id: 27, name: 'I64', dtype: 'int64' },
  { id: 28, name: 'F64', dtype: 'float64' },
  { id: 29, name: 'IQ1_M', dtype: 'iq1_m' },
  { id: 30, name: 'BF16', dtype: 'bfloat16' },
  { id: 34, name: 'TQ1_0', dtype: 'tq1_0' },
  { id: 35, name: 'TQ2_0', dtype: 'tq2_0' },
  { id: 39, name: 'MXFP4', dtype: 'mxfp4' },
  { id: 40, name: 'NVFP4', dtype: 'nvfp4' },
  { id: 41, name: 'Q1_0', dtype: 'q1_0' },
  { id: 42, name: 'Q2_0', dtype: 'q2_0' },
];
//#endregion

/**
 * Ids upstream removed ("support has been removed from gguf files"; block and type size 0 in ggml.c):
 * 4/5 = Q4_2/Q4_3, 31–33 = Q4_0_4_4/Q4_0_4_8/Q4_0_8_8, 36–38 = IQ4_NL_4_4/IQ4_NL_4_8/IQ4_NL_8_8
 * (replaced by runtime repacking).
 */
export const REMOVED_GGML_TYPES: Readonly<Record<number, string>> = Object.freeze({
  4: 'Q4_2',
  5: 'Q4_3',
  31: 'Q4_0_4_4',
  32: 'Q4_0_4_8',
  33: 'Q4_0_8_8',
  36: 'IQ4_NL_4_4',
  37: 'IQ4_NL_4_8',
  38: 'IQ4_NL_8_8',
});

/** All registered ggml types, in id order. */
export const GGML_TYPES: readonly GgmlType[] = TABLE;

const BY_ID: readonly (GgmlType | undefined)[] = (() => {
  const out: (GgmlType | undefined)[] = [];
  for (const t of TABLE) out[t.id] = t;
  return out;
})();

/** A layout a type id has in one runtime: upstream llama.cpp, or a fork that gives the id its own block. */
export interface GgmlLayout extends GgmlType {
  /** Who defines it: 'llama.cpp' for upstream, else the fork. */
  readonly origin: string;
}

//#region fork layouts
/**
 * Forks that write type ids upstream uses differently (or removed). The reader picks, per type id and file, the
 * first layout whose byte length fits every tensor's byte range (upstream first).
 * - bitnet.cpp (github.com/microsoft/BitNet, its llama.cpp fork's ggml.h): I2_S = 36 (upstream: the removed
 *   IQ4_NL_4_4), I8_S = 37, TL1 = 38 (upstream: the removed IQ4_NL_8_8), TL2 = 39 (upstream: MXFP4). TL1 is
 *   n/4 bytes; TL2 is ⌊⌊(K − 256) × M / 3⌋ × 5 / 8⌋ + 64 × M bytes for M rows of K (its converter's padding), so a
 *   type-39 tensor's byte range tells TL2 from MXFP4 (n × 17/32).
 * - PrismML's llama.cpp fork (ternary Bonsai GGUFs): 42 = Q2_0 with a 128-weight 34-byte block (upstream Q2_0 is
 *   64 weights in 18 bytes).
 */
export const FORK_LAYOUTS: readonly GgmlLayout[] = [
  { id: 36, name: 'I2_S', dtype: 'i2_s', origin: 'bitnet.cpp' },
  { id: 38, name: 'TL1', dtype: 'tl1', origin: 'bitnet.cpp' },
  { id: 39, name: 'TL2', dtype: 'tl2', origin: 'bitnet.cpp' },
  { id: 42, name: 'Q2_0', dtype: 'q2_0_g128', origin: 'PrismML llama.cpp fork' },
];
//#endregion

/**
 * Bytes a tensor of `ne` (GGUF order: row length first) takes in `dtype`, or undefined when the shape does not fit
 * the layout. bitnet.cpp's TL2 depends on the row length: ⌊⌊(K − 256) × M / 3⌋ × 5 / 8⌋ + 64 × M (K ≥ 256).
 */
export function layoutByteLength(dtype: string, ne: readonly number[], elementCount: number, stored: (dtype: string, n: number) => number | undefined): number | undefined {
  if (dtype !== 'tl2') return stored(dtype, elementCount);
  const k = ne[0] ?? 0;
  if (elementCount === 0) return 0;
  if (k < 256) return undefined;
  const rows = elementCount / k;
  // The converter pads to `(K - 256) * M // 3 * 5 // 8 + 256 * M // 2 * 4 // 8` (Python floor divisions, left to right).
  return Math.floor((Math.floor(((k - 256) * rows) / 3) * 5) / 8) + Math.floor((Math.floor((256 * rows) / 2) * 4) / 8);
}

/**
 * The layouts of every known id, built once: the reader asks per tensor, and a fresh `{ ...upstream, origin }` per call
 * got its own hidden class in V8 (a map and descriptor array each, ~280 bytes per tensor: 10^6 GGUF tensors held
 * ~280 MB more while the header was read).
 */
const LAYOUTS_BY_ID: readonly (readonly GgmlLayout[])[] = (() => {
  const ids = new Set<number>([...TABLE.map((t) => t.id), ...FORK_LAYOUTS.map((l) => l.id)]);
  const out: (readonly GgmlLayout[])[] = [];
  for (const id of ids) {
    const upstream = BY_ID[id];
    const forks = FORK_LAYOUTS.filter((l) => l.id === id);
    out[id] = Object.freeze(upstream ? [Object.freeze({ ...upstream, origin: 'llama.cpp' }), ...forks] : forks);
  }
  return out;
})();
const NO_LAYOUTS: readonly GgmlLayout[] = Object.freeze([]);

/** Every known layout of a type id: upstream first, then forks; empty for unknown or removed-only ids. */
export function ggmlLayouts(id: number): readonly GgmlLayout[] {
  return (Number.isInteger(id) && id >= 0 ? LAYOUTS_BY_ID[id] : undefined) ?? NO_LAYOUTS;
}

/** The ggml type with this id, or undefined when the id is unknown or removed. */
export function ggmlType(id: number): GgmlType | undefined {
  return Number.isInteger(id) && id >= 0 ? BY_ID[id] : undefined;
}
