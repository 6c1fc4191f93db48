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
      if (l.weights.length > 0) {
        exclude.push(l.name);
        if (f && f.id !== 'fp32') floats.set(f.id, (floats.get(f.id) ?? 0) + 1);
      }
      continue;
    }
    if (!nodeNames.has(l.name)) warnings.push(`Layer '${l.name}' is not a named ONNX node, so ORT cannot match it; name the node or quantize it separately.`);
    ops.add(l.op);
    const weight = l.weights[0];
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

/** Hugging Face module names → GGUF tensor names (convert_hf_to_gguf's common Llama-family mapping). */
const HF_TO_GGUF: readonly [RegExp, string][] = [
  [/^(?:model\.)?embed_tokens\.weight$/, 'token_embd.weight'],
  [/^lm_head\.weight$/, 'output.weight'],
  [/^(?:model\.)?norm\.weight$/, 'output_norm.weight'],
  [/^(?:model\.)?layers\.(\d+)\.self_attn\.q_proj\.weight$/, 'blk.$1.attn_q.weight'],
  [/^(?:model\.)?layers\.(\d+)\.self_attn\.k_proj\.weight$/, 'blk.$1.attn_k.weight'],
  [/^(?:model\.)?layers\.(\d+)\.self_attn\.v_proj\.weight$/, 'blk.$1.attn_v.weight'],
  [/^(?:model\.)?layers\.(\d+)\.self_attn\.o_proj\.weight$/, 'blk.$1.attn_output.weight'],
  [/^(?:model\.)?layers\.(\d+)\.mlp\.gate_proj\.weight$/, 'blk.$1.ffn_gate.weight'],
  [/^(?:model\.)?layers\.(\d+)\.mlp\.up_proj\.weight$/, 'blk.$1.ffn_up.weight'],
  [/^(?:model\.)?layers\.(\d+)\.mlp\.down_proj\.weight$/, 'blk.$1.ffn_down.weight'],
  [/^(?:model\.)?layers\.(\d+)\.mlp\.experts\.\d+\.(gate|up|down)_proj\.weight$/, 'blk.$1.ffn_$2_exps.weight'],
  [/^(?:model\.)?layers\.(\d+)\.input_layernorm\.weight$/, 'blk.$1.attn_norm.weight'],
  [/^(?:model\.)?layers\.(\d+)\.post_attention_layernorm\.weight$/, 'blk.$1.ffn_norm.weight'],
];

function ggufTensorName(name: string, model: Model): string | undefined {
  if (model.format === 'gguf') return name;
  for (const [re, to] of HF_TO_GGUF) if (re.test(name)) return name.replace(re, to);
  return undefined;
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
    for (const w of l.weights.slice(0, 1)) {
      const g = ggufTensorName(w, model);
      if (!g) {
        warnings.push(`No GGUF name is known for tensor '${w}'; add its --tensor-type override by hand.`);
        continue;
      }
      overrides.set(g, t.name);
      counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
    }
  }
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
