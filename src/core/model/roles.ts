/**
 * Tensor name → { role, block, expert } for transformer checkpoints, shared by the tensor-only readers
 * (safetensors, GGUF) and usable by any reader that has weight names (ONNX initializers, TFLite buffers).
 *
 * Understands Hugging Face module paths (`model.layers.3.self_attn.q_proj.weight`, `mlp.experts.7.down_proj`,
 * `block_sparse_moe.experts.2.w1`, GPT-2 `h.0.attn.c_attn`, BERT `encoder.layer.1.attention.output.dense`,
 * T5 `DenseReluDense.wo`, PEFT/diffusers LoRA suffixes) and llama.cpp GGUF names (`token_embd`, `blk.N.attn_q`,
 * `ffn_up_exps`, `ffn_gate_inp`, `*_norm`, `output`; see llama.cpp `src/llama-arch.cpp` LLM_TENSOR_NAMES).
 * Rules are tables of patterns tried in order, not `if` chains; unknown names fall back on rank
 * (≥3 → conv, 2 → linear, ≤1 → other/bias).
 */
import { isRealValued } from './dtypes';
import type { Layer, LayerRole, TensorInfo } from './types';
import { NO_MORE_WEIGHTS } from './tensorData';

/** What a tensor name says about its place in the model. */
export interface RoleInfo {
  readonly role: LayerRole;
  /** Transformer block index (`layers.N`, `h.N`, `blk.N`, …) when the name has one. */
  readonly block: number | undefined;
  /** Routed MoE expert index (`experts.N`) when the tensor belongs to one expert. */
  readonly expert: number | undefined;
}

/** Path segments that hold the block index in the next segment. */
const BLOCK_CONTAINERS: ReadonlySet<string> = new Set(['layers', 'layer', 'h', 'blocks', 'block', 'blk', 'decoder_layers', 'encoder_layers']);
/** Custom stacks (`decoder_stack.3`) also number blocks. UNet `down_blocks`/`transformer_blocks` are stages, not blocks, and stay out. */
const BLOCK_CONTAINER_PATTERN = /(^|_)stack$/;

/**
 * Trailing segments that name a parameter (or a quantization side tensor) rather than a module: stripped
 * before the module is looked up. bitsandbytes (`absmax`, `quant_map`, `quant_state…`), GPTQ/AWQ
 * (`qweight`, `qzeros`, `scales`, `g_idx`), FP8 checkpoints (`weight_scale_inv`, `input_scale`), PEFT/diffusers
 * LoRA (`lora_A`, `lora.down`), and `nn.Sequential` indices (`to_out.0`).
 */
const PARAM_SEGMENT = /^(weight|bias|qweight|qzeros|scales|g_idx|weight_scale|weight_scale_inv|input_scale|weight_packed|weight_shape|weight_zero_point|absmax|quant_map|quant_state.*|nested_absmax|nested_quant_map|lora_[ab]|lora_down|lora_up|lora|down|up|default|alpha|\d+)$/;

/** A rule: when `test` matches the module (last non-parameter segment), the tensor gets `role`. */
interface ModuleRule {
  readonly test: RegExp;
  readonly role: LayerRole;
}

//#region module rules (tried in order after the structural checks below)
const NAME_RULES: readonly ModuleRule[] = [
  { test: /^(token_embd|embed_tokens|wte|word_embeddings|tok_embeddings|token_embedding|token_embeddings|embed|embeddings|embedding|shared|token_types|token_type_embeddings)$/, role: 'embedding' },
  { test: /^(pos_embd|position_embd|wpe|position_embeddings|embed_positions|pos_embed|position_embedding|pos_emb)$/, role: 'position_embedding' },
  { test: /^(lm_head|embed_out|output_layer)$/, role: 'output_head' },
  { test: /^(q_proj|query|wq|attn_q|to_q|q|q_a_proj|q_b_proj|attn_q_a|attn_q_b|q_lin)$/, role: 'attention_q' },
  { test: /^(k_proj|key|wk|attn_k|to_k|k|k_lin)$/, role: 'attention_k' },
  { test: /^(v_proj|value|wv|attn_v|to_v|v|v_lin)$/, role: 'attention_v' },
  // Fused projections. MLA's compressed KV projections (DeepSeek kv_a/kv_b) are counted here too.
  { test: /^(qkv_proj|qkv|c_attn|query_key_value|wqkv|attn_qkv|in_proj|kv_a_proj_with_mqa|kv_b_proj|attn_kv_a_mqa|attn_kv_b|attn_k_b|attn_v_b)$/, role: 'attention_qkv' },
  { test: /^(o_proj|attn_output|attn_out|to_out|out_lin)$/, role: 'attention_o' },
  { test: /^(gate_up_proj|gate_up|ffn_gate_up|w13)$/, role: 'ffn_gate_up' },
  { test: /^(gate_proj|w1|ffn_gate|wi_0)$/, role: 'ffn_gate' },
  { test: /^(up_proj|w3|ffn_up|c_fc|fc1|dense_h_to_4h|wi|wi_1|fc_in|lin1)$/, role: 'ffn_up' },
  { test: /^(down_proj|w2|ffn_down|fc2|dense_4h_to_h|fc_out|lin2)$/, role: 'ffn_down' },
  // Free-form names (`notes_position_embedding_table`, `patch_embed`).
  { test: /pos(ition)?_?emb/, role: 'position_embedding' },
  { test: /emb(ed|edding)?(_|$)/, role: 'embedding' },
];
//#endregion

/** Modules whose role depends on whether they sit in an attention or an MLP block (GPT-2 c_proj, BERT dense, T5 wo). */
const CONTEXT_MODULES = /^(c_proj|dense|out_proj|output|proj|o|wo|out)$/;
const ATTENTION_CONTEXT = /attn|attention/;
const MLP_UP_CONTEXT = /^intermediate$/;
const MLP_CONTEXT = /mlp|ffn|feed_?forward|dense_?relu_?dense|^output$/;
const NORM = /norm|^ln(_|\d|$)|^ln_?f$/;
const ROUTER = /^(gate|router|ffn_gate_inp|ffn_gate_inp_shexp|shared_expert_gate|gating)$/;
const SHARED_EXPERT_SEGMENT = /^shared_experts?$|_shexp$/;
const EXPERT_MODULE = /_exps$/;
const GRANITE_EXPERTS = /^(input|output)_linear$/;
const RECURRENT = /^(lstm|gru|rnn|mixer)$|^ssm_|lstm|gru/;
/** PyTorch RNN parameters (`weight_ih_l0`, `bias_hh_l1_reverse`) name the gate matrices of a recurrent cell. */
const RNN_PARAM = /^(weight|bias)_(ih|hh|hr)(_l\d+)?(_reverse)?$/;
const CONV = /conv/;

const DIGITS = /^\d+$/;
/** `in_proj_weight`, `e_score_correction_bias`: a parameter fused into the module's segment. */
const FUSED_PARAM = /^(.+)_(weight|bias)$/;
const LORA_SUFFIX = /_lora$/;

/**
 * Infers the role of a weight tensor from its name (and rank, for unknown names). Pure and cheap; call it per tensor.
 * @param name full tensor name as stored (HF module path or GGUF name)
 * @param rank number of dimensions, used only as a fallback (≥3 → conv, 2 → linear)
 */
export function inferRole(name: string, rank = 2): RoleInfo {
  const r = roleParts(name, rank);
  return { role: r.role, block: r.block, expert: r.expert };
}

/**
 * {@link inferRole} of the name whose lower-cased `.`-separated segments are `segs` (none holding a `.`), for
 * callers that already have them (the ONNX reader's name tokens): no join, lower-casing and split again.
 */
export function inferRoleOfSegments(segs: readonly string[], rank = 2): RoleInfo {
  const r = rolePartsOfSegments(segs, rank);
  return { role: r.role, block: r.block, expert: r.expert };
}

/** {@link inferRole} plus which '.'-separated segment held the block and the expert index (-1: none). */
export interface RoleParts extends RoleInfo {
  readonly blockSegment: number;
  readonly expertSegment: number;
}

/**
 * Every rule's alternative that names particular digits (`w1`, `w13`, `fc2`, `wi_0`, `lin1`, `dense_4h_to_h` in
 * {@link NAME_RULES}), in digit shape (each ASCII digit → '0'). Every other rule reads a digit only as "a digit"
 * (`\d`, digit runs and their lengths), so two names of one shape that holds none of these get one role. Keep in
 * step with the rules (`test/unit/roles.test.ts` checks every pattern's alternatives against it).
 */
const DIGIT_READING_SHAPES = /w0|fc0|wi_0|lin0|0h/;
const ASCII_DIGIT = /[0-9]/g;
/** Most names each map of a {@link SegmentRoleMemo} keeps. */
const SEGMENT_MEMO_MAX = 4096;

/**
 * {@link inferRoleOfSegments} for many names, remembered per name and per digit *shape*: the name with every ASCII
 * digit read as '0' (`c123.weight` and `c7.weight` are `c000.weight` and `c0.weight`; lengths are kept, as the
 * rules read digit-run lengths). A shape is remembered only when its first name's answer has no block and no expert
 * (their values are the digits themselves) and the shape holds no digit a rule reads by value
 * ({@link DIGIT_READING_SHAPES}); then every name of that shape gets that answer. Other names are remembered whole.
 */
export class SegmentRoleMemo {
  private readonly names = new Map<string, RoleParts>();
  private readonly shapes = new Map<string, RoleParts>();

  constructor(private readonly rank: number) {}

  /**
   * `inferRoleOfSegments(segs, rank)` with the segments that held the block and the expert (-1: none); `key` is
   * `segs.join('.')` (no segment holding a '.').
   */
  infer(segs: readonly string[], key: string): RoleParts {
    const shape = key.replace(ASCII_DIGIT, '0');
    const digits = shape !== key;
    if (digits) {
      const known = this.shapes.get(shape);
      if (known !== undefined) return known;
    }
    let info = this.names.get(key);
    if (info !== undefined) return info;
    info = rolePartsOfSegments(segs, this.rank);
    if (digits && info.block === undefined && info.expert === undefined && !readsDigitValues(shape)) {
      if (this.shapes.size < SEGMENT_MEMO_MAX) this.shapes.set(shape, info);
    } else if (this.names.size < SEGMENT_MEMO_MAX) this.names.set(key, info);
    return info;
  }
}

/**
 * True when `shape` (a lower-cased name's digit shape, each ASCII digit → '0') holds digits a rule reads by value: names
 * of that shape may differ in role.
 */
export function readsDigitValues(shape: string): boolean {
  return DIGIT_READING_SHAPES.test(shape);
}

/** The patterns the role rules test names and segments with (for the test of {@link DIGIT_READING_SHAPES}). */
export function rolePatterns(): readonly RegExp[] {
  return [
    BLOCK_CONTAINER_PATTERN, PARAM_SEGMENT, ...NAME_RULES.map((r) => r.test), CONTEXT_MODULES, ATTENTION_CONTEXT, MLP_UP_CONTEXT, MLP_CONTEXT, NORM, ROUTER,
    SHARED_EXPERT_SEGMENT, EXPERT_MODULE, GRANITE_EXPERTS, RECURRENT, RNN_PARAM, CONV, DIGITS, FUSED_PARAM, LORA_SUFFIX,
    // The segments compared whole ('experts', 'gate', 'router', 'lm_head', 'block_sparse_moe' in roleOf hold no digit).
    new RegExp(`^(${[...BLOCK_CONTAINERS].join('|')})$`),
  ];
}

function roleParts(name: string, rank: number): RoleParts {
  return rolePartsOfSegments(name.toLowerCase().split('.'), rank);
}

function rolePartsOfSegments(segs: readonly string[], rank: number): RoleParts {
  let block: number | undefined;
  let expert: number | undefined;
  let blockSegment = -1;
  let expertSegment = -1;
  for (let i = 0; i + 1 < segs.length; i++) {
    const next = segs[i + 1]!;
    // A first character that is not a digit settles DIGITS without the regex (this runs per tensor and layer).
    const first = next.charCodeAt(0);
    if (!(first >= 0x30 && first <= 0x39) || !DIGITS.test(next) || next.length > 9) continue;
    if (block === undefined && (BLOCK_CONTAINERS.has(segs[i]!) || BLOCK_CONTAINER_PATTERN.test(segs[i]!))) {
      block = Number(next);
      blockSegment = i + 1;
    } else if (expert === undefined && segs[i] === 'experts') {
      expert = Number(next);
      expertSegment = i + 1;
    }
  }

  // Split the trailing parameter segments off to find the module.
  let end = segs.length;
  let param = '';
  while (end > 1 && PARAM_SEGMENT.test(segs[end - 1]!)) {
    if (param === '') param = segs[end - 1]!;
    end--;
  }
  let module = segs[end - 1] ?? '';
  if (RNN_PARAM.test(module)) return { role: 'recurrent', block, expert, blockSegment, expertSegment };
  // `in_proj_weight`, `e_score_correction_bias`: the parameter is fused into the last segment.
  // (Both regexes only where the suffix can match: no match array or new string per name otherwise.)
  const fused = end === segs.length && (module.endsWith('_weight') || module.endsWith('_bias')) ? FUSED_PARAM.exec(module) : null;
  if (fused) {
    module = fused[1]!;
    param = fused[2]!;
  }
  if (module.endsWith('_lora')) module = module.replace(LORA_SUFFIX, '');
  const parents = segs.slice(0, end - 1);

  const role = roleOf(module, parents, expert, rank);
  const finalRole: LayerRole = param === 'bias' && role !== 'norm' && role !== 'router' ? 'bias' : role;
  return { role: finalRole, block, expert, blockSegment, expertSegment };
}

/** Longest name (in '.'-separated segments) that {@link RoleMemo} remembers; longer names are inferred directly. */
const MEMO_MAX_SEGMENTS = 32;
/** Distinct name patterns one {@link RoleMemo} keeps (names beyond it are inferred directly). */
const MEMO_MAX_PATTERNS = 8192;

interface MemoEntry {
  /** The first name seen with this pattern; later names are compared with it segment by segment. */
  readonly name: string;
  readonly rank: number;
  /** Bit i set: segment i is an index (1–9 ASCII digits). */
  readonly digitMask: number;
  readonly segments: number;
  readonly role: LayerRole;
  readonly blockSegment: number;
  readonly expertSegment: number;
  /** The pattern met right after this one the last time (the first guess for the next name). */
  next: MemoEntry | undefined;
  /** `name` cut at its index segments: the text before, between and after them (dots included). */
  readonly runs: readonly string[];
  /** Which index segment (0 = the first) holds the block and the expert (-1: none). */
  readonly blockRun: number;
  readonly expertRun: number;
}

/** The fields of a {@link MemoEntry} that {@link RoleMemo.fits} reads, from its name and index segments. */
function runsOf(name: string, digitMask: number, blockSegment: number, expertSegment: number): Pick<MemoEntry, 'runs' | 'blockRun' | 'expertRun'> {
  const runs: string[] = [];
  let blockRun = -1;
  let expertRun = -1;
  let from = 0;
  let segStart = 0;
  let seg = 0;
  for (let i = 0; i <= name.length; i++) {
    if (i < name.length && name.charCodeAt(i) !== 0x2e) continue;
    if ((digitMask & (1 << seg)) !== 0) {
      if (seg === blockSegment) blockRun = runs.length;
      else if (seg === expertSegment) expertRun = runs.length;
      runs.push(name.slice(from, segStart));
      from = i;
    }
    seg++;
    segStart = i + 1;
  }
  runs.push(name.slice(from));
  return { runs, blockRun, expertRun };
}

/**
 * {@link inferRole} for many names at once, remembering the answer per name *pattern*: the name with every index
 * segment (1–9 ASCII digits: `layers.12`, `experts.7`) treated as a wildcard, plus the rank. Every rule of
 * {@link roleParts} reads index segments only as "an index" (no pattern there matches a bare number), so names of one
 * pattern share the role, and their block and expert are the numbers in the same segments. The pattern is never
 * built as a string: one pass over the name's characters hashes it and collects the index values, and a hit is
 * confirmed by comparing the name with the pattern's first name, segment by segment (hash collisions are harmless).
 * `test/unit/roles.test.ts` checks the memo against `inferRole` on every name of its corpus and on renumbered copies.
 */
export class RoleMemo {
  private readonly byHash = new Map<number, MemoEntry | MemoEntry[]>();
  private patterns = 0;
  private readonly values = new Float64Array(MEMO_MAX_SEGMENTS);
  /** The pattern of the previous name (undefined: none, or not remembered). */
  private last: MemoEntry | undefined = undefined;
  // Result of the last lookup (read right after `infer`).
  role: LayerRole = 'other';
  block: number | undefined = undefined;
  expert: number | undefined = undefined;

  /** @param hashMask bits of the pattern hash used as the key (tests pass a small mask to force collisions). */
  constructor(private readonly hashMask = -1) {}

  /** Sets `role`, `block` and `expert` for `name` (same answer as `inferRole(name, rank)`). */
  infer(name: string, rank: number): void {
    // Checkpoints list their tensors in a repeating order (q, k, v, o, … per block; one matrix per expert), so the
    // pattern that followed the previous name's pattern last time, or that pattern again, usually fits: one
    // comparison with its first name, no hash. Otherwise the hash lookup below.
    const last = this.last;
    if (last !== undefined) {
      const guess = last.next;
      if (guess !== undefined && this.fits(guess, name, rank)) {
        this.last = guess;
        return;
      }
      if (guess !== last && this.fits(last, name, rank)) {
        last.next = last;
        return;
      }
    }
    const entry = this.lookup(name, rank);
    if (last !== undefined && entry !== undefined) last.next = entry;
    this.last = entry;
  }

  /**
   * When `name` at `rank` has `e`'s pattern (same rank and segments; in `e`'s index segments 1–9 ASCII digits, in
   * its other segments the same characters), sets `role`, `block` and `expert` from it and returns true.
   */
  private fits(e: MemoEntry, name: string, rank: number): boolean {
    if (e.rank !== rank) return false;
    // name = runs[0] digits runs[1] digits … runs[last]: the runs (e's other segments with their dots) compared
    // natively, each index segment parsed as 1–9 digits.
    const runs = e.runs;
    const bn = name.length;
    const last = runs.length - 1;
    let block: number | undefined;
    let expert: number | undefined;
    let j = 0;
    for (let k = 0; ; k++) {
      const run = runs[k]!;
      const rl = run.length;
      if (j + rl > bn) return false;
      // Compared from its end: names that share a pattern differ last in their final segments.
      for (let q = rl - 1; q >= 0; q--) if (name.charCodeAt(j + q) !== run.charCodeAt(q)) return false;
      j += rl;
      if (k === last) break;
      const from = j;
      let v = 0;
      for (; j < bn; j++) {
        const c = name.charCodeAt(j);
        if (c < 0x30 || c > 0x39) break;
        v = v * 10 + (c - 0x30);
      }
      if (j === from || j - from > 9) return false;
      if (k === e.blockRun) block = v;
      else if (k === e.expertRun) expert = v;
    }
    if (j !== bn) return false;
    this.role = e.role;
    this.block = block;
    this.expert = expert;
    return true;
  }

  /** The hash lookup: sets the result and returns the pattern's entry (undefined when the name is not remembered). */
  private lookup(name: string, rank: number): MemoEntry | undefined {
    const values = this.values;
    let h = Math.imul(rank + 1, 0x9e3779b1);
    let seg = 0;
    let segStart = 0;
    let value = 0;
    let digits = true;
    let digitMask = 0;
    const n = name.length;
    for (let i = 0; i <= n; i++) {
      const c = i < n ? name.charCodeAt(i) : 0x2e;
      if (c === 0x2e) {
        const len = i - segStart;
        if (digits && len >= 1 && len <= 9) {
          digitMask |= 1 << seg;
          values[seg] = value;
          h = Math.imul(h ^ 0x23, 0x01000193);
        } else if (digits) {
          // Empty, or more than 9 digits: not an index (as in roleParts), so part of the pattern.
          for (let j = segStart; j < i; j++) h = Math.imul(h ^ name.charCodeAt(j), 0x01000193);
        }
        h = Math.imul(h ^ 0x2e, 0x01000193);
        if (++seg >= MEMO_MAX_SEGMENTS && i < n) {
          this.direct(name, rank);
          return undefined;
        }
        segStart = i + 1;
        value = 0;
        digits = true;
        continue;
      }
      if (digits && c >= 0x30 && c <= 0x39) {
        value = value * 10 + (c - 0x30);
        continue;
      }
      if (digits) {
        // The segment is not an index after all: hash the digits it started with.
        for (let j = segStart; j < i; j++) h = Math.imul(h ^ name.charCodeAt(j), 0x01000193);
        digits = false;
      }
      h = Math.imul(h ^ c, 0x01000193);
    }
    h &= this.hashMask;
    const found = this.byHash.get(h);
    let hit: MemoEntry | undefined;
    if (found !== undefined) {
      if (Array.isArray(found)) {
        for (const e of found) if (samePattern(e, name, rank, digitMask, seg)) hit = e;
      } else if (samePattern(found, name, rank, digitMask, seg)) hit = found;
    }
    if (hit === undefined) {
      const parts = roleParts(name, rank);
      this.role = parts.role;
      this.block = parts.block;
      this.expert = parts.expert;
      if (this.patterns >= MEMO_MAX_PATTERNS) return undefined;
      this.patterns++;
      const entry: MemoEntry = {
        name, rank, digitMask, segments: seg, role: parts.role, blockSegment: parts.blockSegment, expertSegment: parts.expertSegment, next: undefined,
        ...runsOf(name, digitMask, parts.blockSegment, parts.expertSegment),
      };
      if (found === undefined) this.byHash.set(h, entry);
      else if (Array.isArray(found)) found.push(entry);
      else this.byHash.set(h, [found, entry]);
      return entry;
    }
    this.role = hit.role;
    this.block = hit.blockSegment >= 0 ? values[hit.blockSegment] : undefined;
    this.expert = hit.expertSegment >= 0 ? values[hit.expertSegment] : undefined;
    return hit;
  }

  private direct(name: string, rank: number): void {
    const parts = roleParts(name, rank);
    this.role = parts.role;
    this.block = parts.block;
    this.expert = parts.expert;
  }
}

/** True when `name` has `e`'s pattern: same rank, same segments, index segments where `e` has them, other segments equal. */
function samePattern(e: MemoEntry, name: string, rank: number, digitMask: number, segments: number): boolean {
  if (e.rank !== rank || e.digitMask !== digitMask || e.segments !== segments) return false;
  const a = e.name;
  const an = a.length;
  const bn = name.length;
  let i = 0;
  let j = 0;
  for (let s = 0; s < segments; s++) {
    if ((digitMask & (1 << s)) !== 0) {
      // An index segment in both (the masks agree): skip its digits.
      while (i < an && a.charCodeAt(i) !== 0x2e) i++;
      while (j < bn && name.charCodeAt(j) !== 0x2e) j++;
    } else {
      for (;;) {
        const c = i < an ? a.charCodeAt(i) : 0x2e;
        if (c !== (j < bn ? name.charCodeAt(j) : 0x2e)) return false;
        if (c === 0x2e) break;
        i++;
        j++;
      }
    }
    i++;
    j++;
  }
  return true;
}

/** True when some parent segment matches `re` (a loop, not `some` with a new closure per call: this runs per tensor). */
function anyParent(parents: readonly string[], re: RegExp): boolean {
  for (let i = 0; i < parents.length; i++) if (re.test(parents[i]!)) return true;
  return false;
}

function roleOf(module: string, parents: readonly string[], expert: number | undefined, rank: number): LayerRole {
  if (NORM.test(module)) return 'norm';
  if (ROUTER.test(module) || parents.includes('gate') || parents.includes('router')) return 'router';
  if (SHARED_EXPERT_SEGMENT.test(module) || anyParent(parents, SHARED_EXPERT_SEGMENT)) return 'shared_expert';
  if (expert !== undefined || EXPERT_MODULE.test(module) || parents.includes('experts')) return 'expert';
  // Granite MoE (granitemoe, granitemoehybrid): all experts fused in `block_sparse_moe.input_linear` / `output_linear`.
  if (GRANITE_EXPERTS.test(module) && parents.includes('block_sparse_moe')) return 'expert';
  if (RECURRENT.test(module) || anyParent(parents, RECURRENT)) return 'recurrent';
  // GGUF's top-level `output.weight` is the LM head; an `output` module elsewhere is contextual.
  if ((module === 'output' || module === 'head') && parents.length === 0) return 'output_head';
  if (parents.includes('lm_head')) return 'output_head';
  for (const rule of NAME_RULES) if (rule.test.test(module)) return rule.role;
  if (CONTEXT_MODULES.test(module)) {
    if (anyParent(parents, ATTENTION_CONTEXT)) return 'attention_o';
    if (anyParent(parents, MLP_UP_CONTEXT)) return 'ffn_up';
    if (anyParent(parents, MLP_CONTEXT)) return 'ffn_down';
  }
  if (CONV.test(module) || anyParent(parents, CONV)) return 'conv';
  if (rank >= 3) return 'conv';
  if (rank === 2) return 'linear';
  return 'other';
}

/** Roles that should not be lowered by default: norms and biases are tiny and sensitive; routers pick experts (llama.cpp keeps `ffn_gate_inp` in F32). */
const KEEP_PRECISION: ReadonlySet<LayerRole> = new Set<LayerRole>(['norm', 'bias', 'router']);

/** True when a weight of this role/shape/dtype is a candidate for lowering precision. 1-D tensors and integer tables are not. */
export function isQuantizableWeight(role: LayerRole, shape: readonly number[], dtype: string): boolean {
  return shape.length >= 2 && isRealValued(dtype) && !KEEP_PRECISION.has(role);
}

/**
 * One layer per tensor (op 'tensor'), for tensor-only formats (safetensors, GGUF). Role, block and expert come
 * from {@link inferRole}; `quantizable` from {@link isQuantizableWeight}.
 */
/** The graph edges of every tensor-only layer: one shared empty list, not two new arrays per layer (~64 MB per 10^6 tensors). */
const NO_EDGES: readonly string[] = Object.freeze([]);

export function layersFromTensors(tensors: readonly TensorInfo[]): Layer[] {
  const layers: Layer[] = new Array<Layer>(tensors.length);
  const memo = new RoleMemo();
  for (let i = 0; i < tensors.length; i += LAYERS_PER_CALL) fillLayers(tensors, layers, memo, i, Math.min(tensors.length, i + LAYERS_PER_CALL));
  return layers;
}

/**
 * Tensors {@link fillLayers} turns into layers per call. A bounded number per call: the per-tensor loop is compiled
 * once as a whole function, not on the stack in the middle of one long call, whose compiled code would meet the
 * pattern lookup of the next model's first name without having seen it run and go back to the interpreter each time.
 */
const LAYERS_PER_CALL = 64;

/** Layers [from, to) of tensors [from, to). */
function fillLayers(tensors: readonly TensorInfo[], layers: Layer[], memo: RoleMemo, from: number, to: number): void {
  // isRealValued of the previous tensor's dtype (consecutive tensors mostly share one).
  let lastDtype: string | undefined;
  let realValued = false;
  for (let i = from; i < to; i++) {
    const t = tensors[i]!;
    memo.infer(t.name, t.shape.length);
    const role = memo.role;
    if (t.dtype !== lastDtype) {
      lastDtype = t.dtype;
      realValued = isRealValued(t.dtype);
    }
    layers[i] = {
      name: t.name,
      op: 'tensor',
      role,
      block: memo.block,
      expert: memo.expert,
      weight: t.name,
      moreWeights: NO_MORE_WEIGHTS,
      parameterCount: t.elementCount,
      byteLength: t.byteLength,
      dtype: t.dtype,
      shape: t.shape,
      // isQuantizableWeight(role, t.shape, t.dtype), with the dtype's answer remembered.
      quantizable: t.shape.length >= 2 && realValued && !KEEP_PRECISION.has(role),
      inputs: NO_EDGES,
      outputs: NO_EDGES,
    };
  }
}

/** Block count implied by layer names (max block + 1), or undefined when no name has a block index. */
export function blockCountFromLayers(layers: readonly Pick<Layer, 'block'>[]): number | undefined {
  const max = maxBlock(layers);
  return max >= 0 ? max + 1 : undefined;
}

/** The largest block index, or -1. Only the loop (see fillLayers). */
function maxBlock(layers: readonly Pick<Layer, 'block'>[]): number {
  let max = -1;
  for (let i = 0; i < layers.length; i++) {
    const block = layers[i]!.block;
    if (block !== undefined && block > max) max = block;
  }
  return max;
}

/** Distinct routed expert count implied by layer names (max expert + 1), or undefined. */
export function expertCountFromLayers(layers: readonly Pick<Layer, 'expert'>[]): number | undefined {
  const max = maxExpert(layers);
  return max >= 0 ? max + 1 : undefined;
}

/** The largest expert index, or -1. Only the loop (see fillLayers). */
function maxExpert(layers: readonly Pick<Layer, 'expert'>[]): number {
  let max = -1;
  for (let i = 0; i < layers.length; i++) {
    const expert = layers[i]!.expert;
    if (expert !== undefined && expert > max) max = expert;
  }
  return max;
}
