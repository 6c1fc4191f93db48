/**
 * Exports a precision plan to the tools users already run:
 * - ONNX Runtime static quantization (`onnxruntime.quantization.quantize_static`): `nodes_to_exclude` for the
 *   layers that stay in floating point, `extra_options["TensorQuantOverrides"]` (tensor name → list of dicts with
 *   `quant_type` and, per channel, `axis`) for the rest, and a ready Python snippet. Key names follow ORT's
 *   `quantize.py` / `get_qdq_config` docstrings; `quant_type` values are `QuantType` member names, converted
 *   with `QuantType[name]` in the snippet because JSON cannot hold the enum.
 * - llama.cpp: a `llama-quantize` command with one `--tensor-type "<regex>=<type>"` per planned tensor
 *   (regex_search on the GGUF tensor name; a matching override wins over llama.cpp's own heuristics).
 * - The plan JSON itself (schemas/precision-plan.schema.json) for anything else.
 */
import { own } from '../model/dict';
import type { Layer, Model } from '../model/types';
import { bitsPerElement } from '../model/dtypes';
import { getNumberFormat, type NumberFormat } from '../precision/numberFormats';
import { KEEP_FORMAT } from './planFile';

//#region ONNX Runtime
/** One `TensorQuantOverrides` entry (a dict of the list ORT expects). */
export interface OrtTensorOverride {
  readonly quant_type: 'QInt8' | 'QUInt8' | 'QInt16' | 'QUInt16' | 'QInt4' | 'QUInt4' | 'QFLOAT8E4M3FN';
  readonly axis?: number;
  readonly symmetric?: boolean;
}

/** ORT export. */
export interface OrtExport {
  readonly nodes_to_exclude: readonly string[];
  readonly op_types_to_quantize: readonly string[];
  readonly TensorQuantOverrides: Readonly<Record<string, readonly OrtTensorOverride[]>>;
  /** Python calling `quantize_static` with the above. */
  readonly python: string;
  readonly warnings: readonly string[];
}

/** How ORT's QDQ quantizer represents each plan format (undefined = ORT has no equivalent; the layer is excluded). */
function ortQuant(f: NumberFormat): { type: OrtTensorOverride['quant_type']; perChannel: boolean } | undefined {
  switch (f.id) {
    case 'int8':
    case 'w8a8':
      return { type: 'QInt8', perChannel: true };
    case 'int8_tensor':
      return { type: 'QInt8', perChannel: false };
    case 'int4':
    case 'int4_g64':
    case 'int4_g32':
    case 'w4a4':
      return { type: 'QInt4', perChannel: true };
    case 'fp8_e4m3':
      return { type: 'QFLOAT8E4M3FN', perChannel: false };
    default:
      return undefined;
  }
}

/** Output-channel axis of a layer's weight as ORT's per-channel quantizer expects it. */
function channelAxis(layer: Layer, model: Model): number {
  const node = model.graphs.flatMap((g) => g.nodes).find((n) => n.name === layer.name);
  if (layer.op === 'Gemm') return node?.attributes['transB'] === 1 ? 0 : 1;
  if (layer.op === 'MatMul') return Math.max(0, layer.shape.length - 1);
  if (layer.op === 'ConvTranspose') return 1;
  return 0;
}

/** Builds the ORT export for `assignment` (layer → format id) of an ONNX model. */
export function exportOrt(model: Model, assignment: Readonly<Record<string, string>>, paths: { input?: string; output?: string } = {}): OrtExport {
  const warnings: string[] = [];
  if (model.format !== 'onnx') warnings.push(`${model.fileName}: ONNX Runtime quantization needs an ONNX model; this is ${model.format}.`);
  const nodeNames = new Set(model.graphs.flatMap((g) => g.nodes.map((n) => n.name)));
  const exclude: string[] = [];
  const ops = new Set<string>();
  const overrides: Record<string, OrtTensorOverride[]> = {};
  const approximated = new Map<string, number>();
  const floats = new Map<string, number>();
  for (const l of model.layers) {
    const id = own(assignment, l.name);
    if (id === undefined) continue;
    const f = id === KEEP_FORMAT ? undefined : getNumberFormat(id);
    const q = f ? ortQuant(f) : undefined;
    if (!q) {
      if (l.weight !== undefined) {
        exclude.push(l.name);
        if (f && f.id !== 'fp32') floats.set(f.id, (floats.get(f.id) ?? 0) + 1);
      }
      continue;
    }
    if (!nodeNames.has(l.name)) warnings.push(`Layer '${l.name}' is not a named ONNX node, so ORT cannot match it; name the node or quantize it separately.`);
    ops.add(l.op);
    const weight = l.weight;
    if (!weight) continue;
    overrides[weight] = [{ quant_type: q.type, ...(q.perChannel ? { axis: channelAxis(l, model) } : {}), symmetric: true }];
    if (f && f.scaling === 'group') approximated.set(f.id, (approximated.get(f.id) ?? 0) + 1);
  }
  for (const [id, n] of approximated)
    warnings.push(`${n} layer(s) use ${id} (blocked); quantize_static has no block size, so they are exported per-channel QInt4 (use MatMulNBitsQuantizer with block_size for blocked INT4).`);
  for (const [id, n] of floats)
    warnings.push(`${n} layer(s) use ${id}; quantize_static does not convert floats, so they are excluded (convert them with onnxconverter_common.float16 or \`precision-lens apply\`).`);
  const unsupported = model.layers.filter((l) => {
    const id = own(assignment, l.name);
    const f = id && id !== KEEP_FORMAT ? getNumberFormat(id) : undefined;
    return f && !ortQuant(f) && !['fp32', 'fp16', 'bf16', 'tf32'].includes(f.id);
  });
  if (unsupported.length) warnings.push(`${unsupported.length} layer(s) use formats ORT quantization cannot produce (${[...new Set(unsupported.map((l) => own(assignment, l.name)))].join(', ')}); they are excluded.`);
  const result = { nodes_to_exclude: exclude, op_types_to_quantize: [...ops].sort(), TensorQuantOverrides: overrides };
  const input = paths.input ?? model.fileName;
  const output = paths.output ?? model.fileName.replace(/\.onnx$/i, '') + '.quant.onnx';
  const python = ortPythonSnippet(result, input, output);
  return { ...result, python, warnings };
}

function pyString(s: string): string {
  return JSON.stringify(s);
}

/** The Python snippet (reads the JSON inline so it is self-contained). */
function ortPythonSnippet(cfg: Pick<OrtExport, 'nodes_to_exclude' | 'op_types_to_quantize' | 'TensorQuantOverrides'>, input: string, output: string): string {
  const json = JSON.stringify(cfg, null, 1).replace(/\\/g, '\\\\').replace(/'''/g, "\\'\\'\\'");
  return [
    '# Generated by precision-lens export --to ort. Needs: pip install onnxruntime numpy',
    'import json',
    'import numpy as np',
    'import onnxruntime as ort',
    'from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static',
    '',
    `plan = json.loads('''${json}''')`,
    '# JSON cannot hold the QuantType enum: turn member names back into members.',
    'overrides = {name: [{**o, "quant_type": QuantType[o["quant_type"]]} for o in entries]',
    '             for name, entries in plan["TensorQuantOverrides"].items()}',
    '',
    '',
    'class RandomCalibration(CalibrationDataReader):',
    '    """Replace with real samples: calibration data sets the activation ranges."""',
    '',
    '    def __init__(self, model_path, count=16):',
    '        session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])',
    '        self.inputs = session.get_inputs()',
    '        self.left = count',
    '',
    '    def get_next(self):',
    '        if self.left == 0:',
    '            return None',
    '        self.left -= 1',
    '        shape = lambda i: [d if isinstance(d, int) and d > 0 else 1 for d in i.shape]',
    '        return {i.name: np.random.rand(*shape(i)).astype(np.float32) for i in self.inputs}',
    '',
    '',
    'quantize_static(',
    `    ${pyString(input)},`,
    `    ${pyString(output)},`,
    `    calibration_data_reader=RandomCalibration(${pyString(input)}),`,
    '    quant_format=QuantFormat.QDQ,',
    '    per_channel=True,',
    '    weight_type=QuantType.QInt8,',
    '    activation_type=QuantType.QUInt8,',
    '    op_types_to_quantize=plan["op_types_to_quantize"] or None,',
    '    nodes_to_exclude=plan["nodes_to_exclude"],',
    '    extra_options={"TensorQuantOverrides": overrides},',
    ')',
    '',
  ].join('\n');
}
//#endregion

//#region llama.cpp
/** llama.cpp export. */
export interface LlamaCppExport {
  /** `llama-quantize` argv (program first). */
  readonly argv: readonly string[];
  /** The same as one shell line (POSIX quoting). */
  readonly command: string;
  /** Base type passed positionally (the most common planned type). */
  readonly baseType: string;
  readonly warnings: readonly string[];
}

/** ggml type name for a plan format (case-insensitive in llama-quantize); approximations are flagged. */
function ggmlTypeName(f: NumberFormat): { name: string; approx: boolean } | undefined {
  if (f.ggmlType) return { name: f.ggmlType.toUpperCase(), approx: false };
  const map: Record<string, string> = { fp32: 'F32', tf32: 'F32', fp16: 'F16', bf16: 'BF16', int8: 'Q8_0', int8_tensor: 'Q8_0', w8a8: 'Q8_0', int4: 'Q4_0', int4_g64: 'Q4_0', int4_g32: 'Q4_0', nf4: 'IQ4_NL', mxfp4: 'MXFP4' };
  const name = map[f.id];
  if (!name) return undefined;
  return { name, approx: !['fp32', 'fp16', 'bf16', 'int4_g32'].includes(f.id) };
}

/** llama-quantize's ftype argument for a ggml tensor type (K-quants get the _M mix name). */
function ftypeFor(type: string): string {
  const t = type.toUpperCase();
  if (['Q4_K', 'Q5_K', 'Q3_K'].includes(t)) return `${t}_M`;
  return t;
}

/**
 * Hugging Face tensor names → the GGUF tensor names llama.cpp's converter gives them, for every family we recognise:
 * Llama, Mistral, Qwen2/3, Gemma (Llama-style names), Phi-3 (fused qkv_proj / gate_up_proj), Phi-2 (dense, fc1, fc2),
 * Mixtral (block_sparse_moe.experts.E.w1/w2/w3), Qwen2/3-MoE and DeepSeek (mlp.experts.E.*, shared expert(s), MLA
 * q_a/q_b/kv_a_mqa and kv_b split into k_b + v_b), GPT-OSS (fused experts.gate_up_proj split into gate + up).
 * Source: llama.cpp gguf-py/gguf/tensor_mapping.py (MODEL_TENSOR → HF names), constants.py (GGUF names) and the
 * converter's per-family splits (conversion/deepseek.py `kv_b_proj`, conversion/gpt_oss.py `gate_up_proj`), tag v0.4.0.
 * Experts are stored as one 3-D tensor per projection in GGUF, so all of a layer's experts map to one name.
 * Norms are not listed: llama-quantize never quantizes 1-D tensors.
 */
const HF_TO_GGUF: readonly (readonly [RegExp, readonly string[]])[] = [
  [/^(?:model\.)?embed_tokens\.weight$/, ['token_embd.weight']],
  [/^lm_head\.weight$/, ['output.weight']],
  [/^(?:model\.)?layers\.(\d+)\.self_attn\.(q|k|v)_proj\.weight$/, ['blk.$1.attn_$2.weight']],
  [/^(?:model\.)?layers\.(\d+)\.self_attn\.(?:o_proj|dense)\.weight$/, ['blk.$1.attn_output.weight']],
  [/^(?:model\.)?layers\.(\d+)\.self_attn\.qkv_proj\.weight$/, ['blk.$1.attn_qkv.weight']],
  [/^(?:model\.)?layers\.(\d+)\.self_attn\.q_a_proj\.weight$/, ['blk.$1.attn_q_a.weight']],
  [/^(?:model\.)?layers\.(\d+)\.self_attn\.q_b_proj\.weight$/, ['blk.$1.attn_q_b.weight']],
  [/^(?:model\.)?layers\.(\d+)\.self_attn\.kv_a_proj_with_mqa\.weight$/, ['blk.$1.attn_kv_a_mqa.weight']],
  [/^(?:model\.)?layers\.(\d+)\.self_attn\.kv_b_proj\.weight$/, ['blk.$1.attn_k_b.weight', 'blk.$1.attn_v_b.weight']],
  [/^(?:model\.)?layers\.(\d+)\.mlp\.(gate|up|down)_proj\.weight$/, ['blk.$1.ffn_$2.weight']],
  [/^(?:model\.)?layers\.(\d+)\.mlp\.gate_up_proj\.weight$/, ['blk.$1.ffn_up.weight']],
  [/^(?:model\.)?layers\.(\d+)\.mlp\.fc1\.weight$/, ['blk.$1.ffn_up.weight']],
  [/^(?:model\.)?layers\.(\d+)\.mlp\.fc2\.weight$/, ['blk.$1.ffn_down.weight']],
  [/^(?:model\.)?layers\.(\d+)\.mlp\.experts\.\d+\.(gate|up|down)_proj\.weight$/, ['blk.$1.ffn_$2_exps.weight']],
  [/^(?:model\.)?layers\.(\d+)\.block_sparse_moe\.experts\.\d+\.w1\.weight$/, ['blk.$1.ffn_gate_exps.weight']],
  [/^(?:model\.)?layers\.(\d+)\.block_sparse_moe\.experts\.\d+\.w2\.weight$/, ['blk.$1.ffn_down_exps.weight']],
  [/^(?:model\.)?layers\.(\d+)\.block_sparse_moe\.experts\.\d+\.w3\.weight$/, ['blk.$1.ffn_up_exps.weight']],
  [/^(?:model\.)?layers\.(\d+)\.mlp\.experts\.gate_up_proj(?:_blocks)?$/, ['blk.$1.ffn_gate_exps.weight', 'blk.$1.ffn_up_exps.weight']],
  [/^(?:model\.)?layers\.(\d+)\.mlp\.experts\.down_proj(?:_blocks)?$/, ['blk.$1.ffn_down_exps.weight']],
  [/^(?:model\.)?layers\.(\d+)\.mlp\.shared_experts?\.(gate|up|down)_proj\.weight$/, ['blk.$1.ffn_$2_shexp.weight']],
  [/^(?:model\.)?layers\.(\d+)\.(?:mlp\.gate|block_sparse_moe\.gate|mlp\.router)\.weight$/, ['blk.$1.ffn_gate_inp.weight']],
];

/** GGUF tensor names of a model tensor (GGUF models: itself); empty when no family rule knows it. */
export function ggufTensorNames(name: string, model: Pick<Model, 'format'>): readonly string[] {
  if (model.format === 'gguf') return [name];
  for (const [re, to] of HF_TO_GGUF) if (re.test(name)) return to.map((t) => name.replace(re, t));
  return [];
}

/** Bits per weight of a ggml type name (F16 → 16, Q4_K → 4.5), for picking the widest of merged expert types. */
function ggmlBits(name: string): number {
  const d = name.toLowerCase();
  const id = d === 'f32' ? 'float32' : d === 'f16' ? 'float16' : d === 'bf16' ? 'bfloat16' : d;
  return bitsPerElement(id) ?? 0;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Builds `llama-quantize [--tensor-type "^name$=TYPE"]… INPUT OUTPUT BASE` for the plan. GGUF models use their
 * tensor names; Hugging Face names are mapped to GGUF names for the Llama family, others are reported.
 */
export function exportLlamaCpp(model: Model, assignment: Readonly<Record<string, string>>, paths: { input?: string; output?: string; program?: string } = {}): LlamaCppExport {
  const warnings: string[] = [];
  const overrides = new Map<string, string>();
  const counts = new Map<string, number>();
  const approx = new Map<string, string>();
  const merged = new Map<string, string[]>();
  for (const l of model.layers) {
    const id = own(assignment, l.name);
    if (id === undefined || id === KEEP_FORMAT) continue;
    const f = getNumberFormat(id);
    if (!f) continue;
    const t = ggmlTypeName(f);
    if (!t) {
      warnings.push(`Layer '${l.name}' uses ${f.label}, which llama.cpp has no type for; it is left to llama-quantize's default.`);
      continue;
    }
    if (t.approx) approx.set(f.id, t.name);
    for (const w of l.weight === undefined ? [] : [l.weight]) {
      const names = ggufTensorNames(w, model);
      if (names.length === 0) {
        warnings.push(`No GGUF name is known for tensor '${w}'; add its --tensor-type override by hand.`);
        continue;
      }
      for (const g of names) {
        // Experts share one GGUF tensor: when the plan gives them different types, the widest one is kept.
        const prev = overrides.get(g);
        if (prev !== undefined && prev !== t.name) {
          const keep = ggmlBits(prev) >= ggmlBits(t.name) ? prev : t.name;
          merged.set(g, [...new Set([...(merged.get(g) ?? [prev]), t.name])]);
          overrides.set(g, keep);
          continue;
        }
        if (prev === undefined) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
        overrides.set(g, t.name);
      }
    }
  }
  for (const [g, types] of merged) warnings.push(`'${g}' holds several planned tensors (experts) with types ${types.join(', ')}; GGUF stores one type per tensor, so it gets ${overrides.get(g)}.`);
  for (const [id, name] of approx) warnings.push(`${id} has no exact llama.cpp type; exported as the nearest, ${name}.`);
  const baseType = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'Q8_0';
  const program = paths.program ?? 'llama-quantize';
  const input = paths.input ?? (model.format === 'gguf' ? model.fileName : `${model.fileName.replace(/\.[^.]+$/, '')}-f16.gguf`);
  const output = paths.output ?? `${input.replace(/\.gguf$/i, '')}-plan.gguf`;
  if (model.format !== 'gguf') warnings.push(`Convert the model to GGUF first (convert_hf_to_gguf.py --outtype f16 --outfile ${input}).`);
  const argv: string[] = [program];
  for (const [name, type] of overrides) argv.push('--tensor-type', `^${escapeRegex(name)}$=${type}`);
  argv.push(input, output, ftypeFor(baseType));
  return { argv, command: argv.map(shellQuote).join(' '), baseType, warnings };
}
//#endregion

//#region GPTQModel and llm-compressor (safetensors models)

/** The module a layer's first weight belongs to (`model.layers.0.mlp.down_proj.weight` → `model.layers.0.mlp.down_proj`). */
function moduleName(layer: Layer): string | undefined {
  const w = layer.weight;
  return w === undefined ? undefined : w.replace(/\.weight$/, '');
}

function pyRegexExact(module: string): string {
  return `^${escapeRegex(module)}$`;
}

const FLOAT_FORMATS: ReadonlySet<string> = new Set(['fp32', 'tf32', 'fp16', 'bf16']);

/** Integer weight scheme GPTQ can store: bits and group size (−1 = one group per output channel). */
interface GptqScheme {
  readonly bits: 2 | 3 | 4 | 8;
  readonly group_size: number;
}

/** GPTQ scheme of a plan format; `approx` when GPTQ can only come near it. Undefined: no GPTQ equivalent. */
function gptqScheme(f: NumberFormat): { scheme: GptqScheme; approx?: string } | undefined {
  switch (f.id) {
    case 'int4':
    case 'w4a4':
      return { scheme: { bits: 4, group_size: 128 }, ...(f.id === 'w4a4' ? { approx: 'weights only (GPTQ keeps activations in 16-bit)' } : {}) };
    case 'int4_g64':
      return { scheme: { bits: 4, group_size: 64 } };
    case 'int4_g32':
      return { scheme: { bits: 4, group_size: 32 } };
    case 'int8':
    case 'w8a8':
      return { scheme: { bits: 8, group_size: -1 }, ...(f.id === 'w8a8' ? { approx: 'weights only (GPTQ keeps activations in 16-bit)' } : {}) };
    case 'int8_tensor':
      return { scheme: { bits: 8, group_size: -1 }, approx: 'one scale per output channel (GPTQ has no per-tensor scale)' };
    default:
      return undefined;
  }
}

/** GPTQModel export: a `QuantizeConfig` whose `dynamic` rules give each module its planned scheme. */
export interface GptqModelExport {
  /** The config as GPTQModel's quantize_config.json holds it (bits, group_size, sym, desc_act, lm_head, dynamic). */
  readonly quantize_config: {
    readonly bits: number;
    readonly group_size: number;
    readonly sym: true;
    readonly desc_act: false;
    readonly lm_head: boolean;
    /** Regex (re.match on the module name) → overrides; "+:" = quantize with these fields, "-:" = leave unquantized. */
    readonly dynamic: Readonly<Record<string, Readonly<Partial<GptqScheme>>>>;
  };
  readonly python: string;
  readonly warnings: readonly string[];
}

/**
 * Builds a GPTQModel `QuantizeConfig` for a safetensors model. Format documented by GPTQModel
 * (https://github.com/ModelCloud/GPTQModel, "dynamic" per-module config) and implemented by vLLM's
 * `get_dynamic_override` (vllm/model_executor/layers/quantization/utils/gptq_utils.py): keys are Python regexes
 * tried in order with `re.match` on the module name; a "-:" key excludes the module from quantization, a "+:"
 * (or bare) key overrides the base `bits` / `group_size`. The base is the most common planned scheme; every module
 * that differs gets an exact-name rule, 16-bit modules (and formats GPTQ cannot store) a "-:" rule.
 */
export function exportGptqModel(model: Model, assignment: Readonly<Record<string, string>>, paths: { input?: string; output?: string } = {}): GptqModelExport {
  const warnings: string[] = [];
  if (model.format !== 'safetensors') warnings.push(`${model.fileName}: GPTQModel quantizes Hugging Face (safetensors) checkpoints; this is ${model.format}.`);
  const planned: { module: string; layer: Layer; scheme: GptqScheme | undefined }[] = [];
  const counts = new Map<string, number>();
  const approx = new Map<string, string>();
  const unsupported = new Map<string, number>();
  for (const l of model.layers) {
    const id = assignment[l.name];
    const module = moduleName(l);
    if (id === undefined || module === undefined || !l.quantizable) continue;
    if (l.role === 'embedding') {
      if (id !== KEEP_FORMAT && !FLOAT_FORMATS.has(id)) warnings.push(`Layer '${l.name}' is an embedding; GPTQModel does not quantize embeddings, so it stays 16-bit.`);
      continue;
    }
    const f = id === KEEP_FORMAT ? undefined : getNumberFormat(id);
    const g = f ? gptqScheme(f) : undefined;
    if (f && !g && !FLOAT_FORMATS.has(f.id)) unsupported.set(f.id, (unsupported.get(f.id) ?? 0) + 1);
    if (f && g?.approx) approx.set(f.id, g.approx);
    planned.push({ module, layer: l, scheme: g?.scheme });
    if (g) counts.set(JSON.stringify(g.scheme), (counts.get(JSON.stringify(g.scheme)) ?? 0) + 1);
  }
  for (const [id, n] of unsupported) warnings.push(`${n} layer(s) use ${id}, which GPTQ cannot store (integer 2/3/4/8-bit only); they are left unquantized.`);
  for (const [id, why] of approx) warnings.push(`${id} is exported as the nearest GPTQ scheme: ${why}.`);
  const baseKey = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
  const base: GptqScheme = baseKey ? (JSON.parse(baseKey) as GptqScheme) : { bits: 4, group_size: 128 };
  const dynamic: Record<string, Partial<GptqScheme>> = Object.create(null) as Record<string, Partial<GptqScheme>>;
  let lmHead = false;
  for (const p of planned) {
    const isHead = p.layer.role === 'output_head';
    if (isHead && p.scheme) lmHead = true;
    if (!p.scheme) dynamic[`-:${pyRegexExact(p.module)}`] = {};
    else if (p.scheme.bits !== base.bits || p.scheme.group_size !== base.group_size || isHead) dynamic[`+:${pyRegexExact(p.module)}`] = { bits: p.scheme.bits, group_size: p.scheme.group_size };
  }
  const quantize_config = { bits: base.bits, group_size: base.group_size, sym: true as const, desc_act: false as const, lm_head: lmHead, dynamic };
  const input = paths.input ?? '.';
  const output = paths.output ?? `${input.replace(/\/$/, '') || 'model'}-gptq`;
  const json = JSON.stringify(dynamic, null, 4).replace(/\n/g, '\n    ');
  const python = [
    '# Generated by precision-lens export --to gptqmodel. Needs: pip install gptqmodel datasets',
    'from datasets import load_dataset',
    'from gptqmodel import GPTQModel, QuantizeConfig',
    '',
    '# Replace with text from your own domain: calibration data decides GPTQ\'s rounding.',
    'calibration = load_dataset("allenai/c4", data_files="en/c4-train.00001-of-01024.json.gz", split="train").select(range(256))["text"]',
    'config = QuantizeConfig(',
    `    bits=${quantize_config.bits},`,
    `    group_size=${quantize_config.group_size},`,
    '    sym=True,',
    '    desc_act=False,',
    `    lm_head=${lmHead ? 'True' : 'False'},`,
    `    dynamic=${json},`,
    ')',
    `model = GPTQModel.load(${pyString(input || '.')}, config)`,
    'model.quantize(calibration, batch_size=1)',
    `model.save(${pyString(output)})`,
    '',
  ].join('\n');
  return { quantize_config, python, warnings };
}

/** compressed-tensors `QuantizationArgs` fields we emit (quant_args.py). */
export interface CompressedTensorsArgs {
  readonly num_bits: number;
  readonly type: 'int' | 'float';
  readonly symmetric: true;
  readonly strategy: 'tensor' | 'channel' | 'group' | 'tensor_group' | 'token';
  readonly group_size?: number;
  readonly dynamic?: boolean;
}

/** One config group: module targets and the weight (and, for W8A8, input activation) arguments. */
export interface LlmCompressorGroup {
  readonly targets: readonly string[];
  readonly weights: CompressedTensorsArgs;
  readonly input_activations?: CompressedTensorsArgs;
}

/** llm-compressor export: a recipe (as data and as YAML) for `oneshot`. */
export interface LlmCompressorExport {
  readonly recipe: {
    readonly quant_stage: {
      readonly quant_modifiers: {
        readonly QuantizationModifier: { readonly ignore: readonly string[]; readonly config_groups: Readonly<Record<string, LlmCompressorGroup>> };
      };
    };
  };
  readonly yaml: string;
  readonly python: string;
  readonly warnings: readonly string[];
}

/** compressed-tensors scheme of a plan format (weights, plus activations for W8A8); undefined when it has none. */
function compressedTensorsScheme(f: NumberFormat): { weights: CompressedTensorsArgs; input_activations?: CompressedTensorsArgs; approx?: string } | undefined {
  const int = (bits: number, strategy: CompressedTensorsArgs['strategy'], group_size?: number): CompressedTensorsArgs => ({ num_bits: bits, type: 'int', symmetric: true, strategy, ...(group_size ? { group_size } : {}) });
  switch (f.id) {
    case 'int4':
    case 'int4_g64':
    case 'int4_g32':
    case 'w4a4':
      return { weights: int(4, 'group', f.blockSize), ...(f.id === 'w4a4' ? { approx: 'weights only' } : {}) };
    case 'int8':
      return { weights: int(8, 'channel') };
    case 'int8_tensor':
      return { weights: int(8, 'tensor') };
    case 'w8a8':
      return { weights: int(8, 'channel'), input_activations: { ...int(8, 'token'), dynamic: true } };
    case 'fp8_e4m3':
      return { weights: { num_bits: 8, type: 'float', symmetric: true, strategy: 'tensor' } };
    case 'nvfp4':
      return { weights: { num_bits: 4, type: 'float', symmetric: true, strategy: 'tensor_group', group_size: 16 } };
    default:
      return undefined;
  }
}

/** YAML scalar in single quotes (no escapes inside; a quote is doubled), safe for regexes with backslashes. */
function yamlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function yamlArgs(a: CompressedTensorsArgs): string {
  return `{${Object.entries(a).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : String(v)}`).join(', ')}}`;
}

/**
 * Builds an llm-compressor recipe for a safetensors model: one `QuantizationModifier` (round-to-nearest, what our
 * sensitivity simulates; swap in `GPTQModifier` for calibrated rounding) with one config group per distinct scheme.
 * Format documented by llm-compressor (recipes: `quant_stage.quant_modifiers.<Modifier>.config_groups.<name>` with
 * `targets` and `weights`) and compressed-tensors (`QuantizationScheme.targets`: layer names, types or "re:" regexes
 * matched against module names; `QuantizationArgs`: num_bits, type, symmetric, strategy, group_size, dynamic).
 * Modules planned at 16 bits (or in formats compressed-tensors cannot express) go to `ignore`.
 */
export function exportLlmCompressor(model: Model, assignment: Readonly<Record<string, string>>, paths: { input?: string; output?: string } = {}): LlmCompressorExport {
  const warnings: string[] = [];
  if (model.format !== 'safetensors') warnings.push(`${model.fileName}: llm-compressor quantizes Hugging Face (safetensors) checkpoints; this is ${model.format}.`);
  const groups = new Map<string, { targets: string[]; scheme: NonNullable<ReturnType<typeof compressedTensorsScheme>> }>();
  const ignore: string[] = [];
  const unsupported = new Map<string, number>();
  for (const l of model.layers) {
    const id = assignment[l.name];
    const module = moduleName(l);
    if (id === undefined || module === undefined || !l.quantizable) continue;
    if (l.role === 'embedding') {
      if (id !== KEEP_FORMAT && !FLOAT_FORMATS.has(id)) warnings.push(`Layer '${l.name}' is an embedding; QuantizationModifier targets Linear modules, so it stays 16-bit.`);
      continue;
    }
    const f = id === KEEP_FORMAT ? undefined : getNumberFormat(id);
    const s = f ? compressedTensorsScheme(f) : undefined;
    if (!s) {
      if (f && !FLOAT_FORMATS.has(f.id)) unsupported.set(f.id, (unsupported.get(f.id) ?? 0) + 1);
      ignore.push(module);
      continue;
    }
    if (s.approx) warnings.push(`${f!.id} is exported ${s.approx} for '${module}'.`);
    const key = JSON.stringify([s.weights, s.input_activations ?? null]);
    const g = groups.get(key) ?? { targets: [], scheme: s };
    g.targets.push(`re:${pyRegexExact(module)}`);
    groups.set(key, g);
  }
  for (const [id, n] of unsupported) warnings.push(`${n} layer(s) use ${id}, which compressed-tensors cannot express here; they are ignored (left unquantized).`);
  const config_groups: Record<string, LlmCompressorGroup> = Object.create(null) as Record<string, LlmCompressorGroup>;
  [...groups.values()].forEach((g, i) => {
    config_groups[`group_${i}`] = { targets: g.targets, weights: g.scheme.weights, ...(g.scheme.input_activations ? { input_activations: g.scheme.input_activations } : {}) };
  });
  const recipe = { quant_stage: { quant_modifiers: { QuantizationModifier: { ignore, config_groups } } } };
  const lines = ['quant_stage:', '  quant_modifiers:', '    QuantizationModifier:', `      ignore: [${ignore.map(yamlString).join(', ')}]`, '      config_groups:'];
  if (groups.size === 0) lines[lines.length - 1] += ' {}';
  for (const [name, g] of Object.entries(config_groups)) {
    lines.push(`        ${name}:`, '          targets:');
    for (const t of g.targets) lines.push(`          - ${yamlString(t)}`);
    lines.push(`          weights: ${yamlArgs(g.weights)}`);
    if (g.input_activations) lines.push(`          input_activations: ${yamlArgs(g.input_activations)}`);
  }
  const yaml = `${lines.join('\n')}\n`;
  const input = paths.input ?? '.';
  const output = paths.output ?? `${input.replace(/\/$/, '') || 'model'}-compressed`;
  const python = [
    '# Generated by precision-lens export --to llm-compressor. Needs: pip install llmcompressor',
    '# Save the recipe below as recipe.yaml next to this script.',
    'from llmcompressor import oneshot',
    '',
    `oneshot(model=${pyString(input)}, recipe="recipe.yaml", output_dir=${pyString(output)})`,
    '',
  ].join('\n');
  return { recipe, yaml, python, warnings };
}
//#endregion
