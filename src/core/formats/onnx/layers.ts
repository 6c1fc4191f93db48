/**
 * ONNX nodes → IR layers. A layer is a node that consumes stored weights (initializers or `Constant` outputs,
 * possibly through DequantizeLinear/Cast/Transpose on the weight path), with a role inferred from its operator
 * first (Conv → conv, *Normalization → norm, LSTM → recurrent, Gather on a table → embedding, com.microsoft
 * Attention → attention_qkv) and from weight/node names second (q_proj, c_attn, lm_head… via model/roles.ts).
 */
import { dtypeInfo, isRealValued } from '../../model/dtypes';
import { readsDigitValues, SegmentRoleMemo } from '../../model/roles';
import type { Layer, LayerRole, TensorInfo } from '../../model/types';
import { NO_MORE_WEIGHTS } from '../../model/tensorData';
import type { RawGraph } from './parse';
import { SCAN_LABELS } from './graphScan';
import { UniqueNames } from '../../model/uniqueNames';

/** What layer building needs from the reader. */
export interface LayerContext {
  readonly graphs: readonly RawGraph[];
  /**
   * Where a value name of `graph` finds its stored tensor: the scopes of the graph and its enclosing graphs,
   * innermost first (the first hit wins).
   */
  scopes(graph: RawGraph): readonly Scope[];
  /** True when any tensor belongs to a routed MoE expert (changes what a bare `gate` means). */
  readonly hasExperts: boolean;
}

/** Slots of a {@link Scope}'s name filter: one per (first char code & 0x7f, min(length, 63)). */
const FILTER_SLOTS = 128 * 64;

/**
 * One graph's stored tensors by the names its nodes use (initializers, Constant outputs), with a filter of those
 * names kept as they are added: 1 at `(first char code & 0x7f) × 64 + min(length, 63)` of every non-empty name, so
 * a name whose entry is 0 is not there (the converse need not hold) — most edges of a large graph are activations,
 * answered without making their strings. Built by the reader while it registers tensors (no pass over the names).
 */
export class Scope {
  readonly tensors = new Map<string, TensorInfo>();
  readonly filter = new Uint8Array(FILTER_SLOTS);

  /** Maps `name` to `tensor` (a later tensor of the same name replaces the earlier, as Map.set does). */
  set(name: string, tensor: TensorInfo): void {
    if (name !== '') this.filter[(name.charCodeAt(0) & 0x7f) * 64 + (name.length < 63 ? name.length : 63)] = 1;
    this.tensors.set(name, tensor);
  }
}

/** Ops that only re-express a weight (dequantize, cast, transpose, reshape): their stored input is the real weight of their consumer. */
const WEIGHT_PATH_OPS: ReadonlySet<string> = new Set(['DequantizeLinear', 'QuantizeLinear', 'Cast', 'CastLike', 'Transpose', 'Identity', 'Reshape', 'Squeeze', 'Unsqueeze', 'Flatten']);

// What a node row's op type asks of the walk ({@link rowOpKind}); 0 = not known yet.
const ROW_PLAIN = 1;
/** `Constant`: skipped when its domain is the default one. */
const ROW_CONSTANT = 2;
/** A {@link WEIGHT_PATH_OPS} op. */
const ROW_WEIGHT_PATH = 3;

function rowOpKind(op: string): number {
  return op === 'Constant' ? ROW_CONSTANT : WEIGHT_PATH_OPS.has(op) ? ROW_WEIGHT_PATH : ROW_PLAIN;
}

//#region operator → role tables
const CONV_OPS: ReadonlySet<string> = new Set(['Conv', 'ConvTranspose', 'QLinearConv', 'ConvInteger', 'NhwcConv', 'FusedConv', 'QLinearConvTranspose', 'DeformConv', 'ConvTransposeWithDynamicPads']);
const RECURRENT_OPS: ReadonlySet<string> = new Set(['LSTM', 'GRU', 'RNN', 'DynamicQuantizeLSTM', 'AttnLSTM']);
const NORM_OPS: ReadonlySet<string> = new Set(['LayerNorm', 'RMSNorm', 'SimplifiedLayerNormalization', 'SkipSimplifiedLayerNormalization', 'BiasLayerNorm']);
const EMBEDDING_OPS: ReadonlySet<string> = new Set(['EmbedLayerNormalization', 'GatherBlockQuantized']);
const GATHER_OPS: ReadonlySet<string> = new Set(['Gather', 'GatherND', 'GatherElements']);
const ATTENTION_OPS: ReadonlySet<string> = new Set([
  'Attention', 'QAttention', 'MultiHeadAttention', 'GroupQueryAttention', 'PackedAttention', 'PackedMultiHeadAttention',
  'DecoderAttention', 'DecoderMaskedMultiHeadAttention', 'DecoderMaskedSelfAttention', 'LongformerAttention', 'SparseAttention', 'QOrderedAttention',
]);
const POSITION_OPS: ReadonlySet<string> = new Set(['RotaryEmbedding']);
const EXPERT_OPS: ReadonlySet<string> = new Set(['MoE', 'QMoE', 'SparseMoE']);
const LINEAR_OPS: ReadonlySet<string> = new Set([
  'MatMul', 'Gemm', 'MatMulInteger', 'QLinearMatMul', 'MatMulNBits', 'FusedMatMul', 'DynamicQuantizeMatMul', 'MatMulIntegerToFloat',
  'QGemm', 'MatMulBnb4', 'MatMulFpQ4', 'GemmFastGelu', 'FusedGemm', 'QOrderedMatMul', 'GemmFloat8', 'Einsum',
]);
const BIAS_OPS: ReadonlySet<string> = new Set(['Add', 'Sub', 'BiasGelu', 'BiasAdd', 'BiasSoftmax', 'BiasDropout', 'FastGelu', 'QLinearAdd']);
//#endregion

/**
 * Quantized operators mix activation and weight quantization parameters in their inputs; for them only the
 * listed inputs (by the main weight's input index) travel with the weight: its scale, zero point and bias.
 * Input orders from the ONNX and com.microsoft operator specs. Other ops take every stored non-index input.
 */
const SIDE_INPUTS: ReadonlyMap<string, ReadonlyMap<number, readonly number[]>> = new Map([
  ['QLinearConv', new Map<number, readonly number[]>([[3, [4, 5, 8]]])],
  ['QLinearConvTranspose', new Map<number, readonly number[]>([[3, [4, 5, 8]]])],
  ['QLinearMatMul', new Map<number, readonly number[]>([[3, [4, 5]], [0, [1, 2]]])],
  ['QLinearAdd', new Map<number, readonly number[]>([[3, [4, 5]], [0, [1, 2]]])],
  ['QLinearMul', new Map<number, readonly number[]>([[3, [4, 5]], [0, [1, 2]]])],
  ['QGemm', new Map<number, readonly number[]>([[3, [4, 5, 6]], [0, [1, 2, 6]]])],
  ['ConvInteger', new Map<number, readonly number[]>([[1, [3]]])],
  ['MatMulInteger', new Map<number, readonly number[]>([[1, [3]], [0, [2]]])],
  ['MatMulIntegerToFloat', new Map<number, readonly number[]>([[1, [3, 5, 6]], [0, [2, 4, 6]]])],
  ['DynamicQuantizeMatMul', new Map<number, readonly number[]>([[1, [2, 3, 4]]])],
  ['MatMulNBits', new Map<number, readonly number[]>([[1, [2, 3, 4, 5]]])],
  ['QAttention', new Map<number, readonly number[]>([[1, [2, 4, 7]]])],
]);

/** Integer dtypes that hold quantized weights (as opposed to shapes, indices and counters). */
const QUANTIZED_INT_DTYPES: ReadonlySet<string> = new Set(['int8', 'uint8', 'int4', 'uint4', 'int2', 'uint2', 'int16', 'uint16']);

/** Smallest main weight (elements) that makes a node a layer; scalars (a Mul by 0.125) do not. */
const MIN_LAYER_ELEMENTS = 2;
/** Layers whose main weight is smaller than this are not lowered by default. */
const MIN_QUANTIZABLE_ELEMENTS = 64;

// The last dtype isWeightDtype answered, and its answer: a graph's weights mostly share one (two lookups and a call
// fewer per stored input).
let weightDtype = '';
let weightDtypeAnswer = false;

function isWeightDtype(dtype: string): boolean {
  if (dtype !== weightDtype) {
    weightDtypeAnswer = isRealValued(dtype) || QUANTIZED_INT_DTYPES.has(dtype);
    weightDtype = dtype;
  }
  return weightDtypeAnswer;
}

/** Tensors that travel with a layer (bias, scales, zero points): anything but shapes/indices/strings. */
function isSideTensor(dtype: string): boolean {
  const kind = dtypeInfo(dtype)?.kind;
  return dtype !== 'int64' && dtype !== 'uint64' && kind !== 'bool' && kind !== 'string' && kind !== 'complex';
}

/** A weight reached through weight-path ops: the stored tensor and the side tensors picked up on the way (DQ scales). */
interface Traced {
  readonly weight: TensorInfo;
  readonly extras: readonly TensorInfo[];
}

/** Splits ONNX node/tensor names (`/model/layers.0/self_attn/q_proj/MatMul`, `l0.q.w`) into lowercase tokens. */
function tokens(name: string): string[] {
  // name.toLowerCase().split(/[/.:]+/) without its empty tokens, in one pass (this runs twice per layer).
  const lower = name.toLowerCase();
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i <= lower.length; i++) {
    const c = i < lower.length ? lower.charCodeAt(i) : 0x2f;
    if (c !== 0x2f && c !== 0x2e && c !== 0x3a) continue;
    if (i > start) out.push(lower.substring(start, i));
    start = i + 1;
  }
  return out;
}

const TRAILING_NOISE = /^(weight|bias|w|b|matmul|gemm|add|mul|conv|gather|output|output_\d+|\d+|[a-z]+_\d+)$/;

/** Role, block and expert of a layer (one object per layer building, rewritten per name: no object per call). */
export interface RoleResult {
  role: LayerRole;
  block: number | undefined;
  expert: number | undefined;
}

/** Which tokens of the name {@link roleFromName} took the block and the expert from (-1: none), and how many trailing digits of the block's. */
interface RoleOrigin {
  blockToken: number;
  blockDigits: number;
  expertToken: number;
}

/** Role/block/expert from a name into `out`, via model/roles.ts plus short ONNX-export spellings (`l0.up.w`, `dn`). */
export function roleFromName(name: string, op: string, memo: SegmentRoleMemo, out: RoleResult, origin?: RoleOrigin): void {
  const toks = tokens(name);
  let block: number | undefined;
  let blockToken = -1;
  let blockDigits = 0;
  for (let i = 0; i < toks.length && block === undefined; i++) {
    const t = toks[i]!;
    // Both patterns start with l, h or b: other tokens skip the two regexes (this runs twice per layer).
    const first = t.charCodeAt(0);
    if (first !== 0x6c && first !== 0x68 && first !== 0x62) continue;
    const joined = /^(?:l|layer|layers|h|blk|block|blocks)_?(\d{1,6})$/.exec(t);
    if (joined) {
      block = Number(joined[1]);
      blockToken = i;
      blockDigits = joined[1]!.length;
    } else if (/^(?:layer|layers|h|blk|block|blocks)$/.test(t) && /^\d{1,6}$/.test(toks[i + 1] ?? '')) {
      block = Number(toks[i + 1]);
      blockToken = i + 1;
      blockDigits = toks[i + 1]!.length;
    }
  }
  let isBias = false;
  const opLower = op.toLowerCase();
  while (toks.length > 1 && (TRAILING_NOISE.test(toks[toks.length - 1]!) || toks[toks.length - 1] === opLower)) {
    const t = toks.pop()!;
    if (t === 'bias' || t === 'b') isBias = true;
  }
  // The tokens are lower-cased and hold no '.': they are the segments of `${toks.join('.')}.weight`.
  const last = toks[toks.length - 1] ?? '';
  if (toks.length === 0) toks.push(''); // '.weight' splits into '' and 'weight'
  toks.push(isBias ? 'bias' : 'weight');
  // inferRoleOfSegments is a function of the segments alone: a name met before in this form (node names of one
  // block and operator differ only in tokens removed above), or in its digit shape (weights `c12`, `c13`), reuses
  // its answer. Its block and expert segments are tokens of the name (the ones before those removed above).
  const info = memo.infer(toks, toks.join('.'));
  let role = info.role;
  if (role === 'other') {
    if (last === 'up') role = 'ffn_up';
    else if (last === 'dn' || last === 'down') role = 'ffn_down';
    else if (last === 'gate') role = 'ffn_gate';
    else if (last === 'o') role = 'attention_o';
    else if (/^(lm_head|logits)$/.test(last)) role = 'output_head';
  }
  out.role = role;
  out.block = info.block ?? block;
  out.expert = info.expert;
  if (origin !== undefined) {
    if (info.block !== undefined) {
      origin.blockToken = info.blockSegment;
      origin.blockDigits = toks[info.blockSegment]!.length;
    } else {
      origin.blockToken = blockToken;
      origin.blockDigits = blockDigits;
    }
    origin.expertToken = info.expert !== undefined ? info.expertSegment : -1;
  }
}

/** A name's answer for its digit shape: the role, and where its block and expert digits sit in the name (-1: none). */
interface ShapeAnswer {
  /** The first name of this shape (names are compared with it: shape hashes may collide). */
  readonly name: string;
  readonly role: LayerRole;
  readonly blockStart: number;
  readonly blockEnd: number;
  readonly expertStart: number;
  readonly expertEnd: number;
}

/** Most name shapes one {@link NameRoleMemo} keeps. */
const NAME_SHAPES_MAX = 4096;

/** One op's answers in a {@link NameRoleMemo}. */
interface OpShapes {
  /** By hash of the name's shape ({@link shapeHash}; the first name of a hash keeps it). */
  readonly shapes: Map<number, ShapeAnswer>;
  /** The answer given last (names met one after another mostly have one shape). */
  last: ShapeAnswer;
}

/**
 * {@link roleFromName} remembered per op and digit shape of the name (each ASCII digit → '0'): `/block.7/Mul_123` and
 * `/block.12/Mul_200` are `/block.0/Mul_000` and `/block.00/Mul_000`. Every rule there reads a digit only as "a digit"
 * (digit runs and their lengths; the digits a role rule reads by value are refused, model/roles.ts
 * `readsDigitValues`), except the block and expert, which are the digits of one token: two names of one shape have
 * the same separators, so the same tokens at the same places, and their block and expert are the digits at the same
 * place. Remembered only for ASCII names (so a lower-cased name has its characters where the name has them) and ops
 * without digits (a token equal to the op is removed: `gemmfloat8` and `gemmfloat9` differ there).
 */
export class NameRoleMemo {
  /** Per op, its answers. */
  private readonly byOp = new Map<string, OpShapes>();
  private size = 0;
  private readonly origin: RoleOrigin = { blockToken: -1, blockDigits: 0, expertToken: -1 };

  /** @param hashMask bits of the shape hash used as the key (tests pass 0 to make every shape collide). */
  constructor(private readonly segments: SegmentRoleMemo, private readonly hashMask = -1) {}

  /** `roleFromName(name, op, segments, out)`. */
  infer(name: string, op: string, out: RoleResult): void {
    const answers = this.byOp.get(op);
    // The op's last answer first: one pass over the name when it has that shape (the 45,000-node bench: all but a
    // few dozen of its 25,000 names, weights and nodes each in a memo of their own), instead of hashing it and comparing.
    // Out of line: {@link infer} runs per name, mostly to a hit, and stays small (compiled early and cheaply).
    if (answers === undefined || !answerOfShape(answers.last, name, out)) this.find(name, op, out, answers);
  }

  /** {@link infer} by the name's shape hash (the answer found becomes the op's last), else {@link learn}. */
  private find(name: string, op: string, out: RoleResult, answers: OpShapes | undefined): void {
    const hash = shapeHash(name) & this.hashMask;
    if (answers !== undefined) {
      const known = answers.shapes.get(hash);
      if (known !== undefined && answerOfShape(known, name, out)) {
        answers.last = known;
        return;
      }
    }
    this.learn(name, op, out, answers, hash);
  }

  /** {@link infer} of a name whose shape is not remembered (`answers`: the op's, `hash`: the name's shape hash). */
  private learn(name: string, op: string, out: RoleResult, answers: OpShapes | undefined, hash: number): void {
    const origin = this.origin;
    roleFromName(name, op, this.segments, out, origin);
    if (this.size >= NAME_SHAPES_MAX || !isAscii(name) || /[0-9]/.test(op)) return;
    if (readsDigitValues(name.replace(/[0-9]/g, '0').toLowerCase())) return;
    const ends = tokenEnds(name);
    const blockEnd = origin.blockToken >= 0 ? ends[origin.blockToken]! : -1;
    const expertEnd = origin.expertToken >= 0 ? ends[origin.expertToken]! : -1;
    const answer: ShapeAnswer = {
      name,
      role: out.role,
      blockStart: blockEnd >= 0 ? blockEnd - origin.blockDigits : -1,
      blockEnd,
      expertStart: expertEnd >= 0 ? tokenStart(name, expertEnd) : -1,
      expertEnd,
    };
    // The answer holds for every name of its shape, remembered under its hash or not (another shape's there).
    if (answers === undefined) this.byOp.set(op, (answers = { shapes: new Map(), last: answer }));
    else answers.last = answer;
    if (answers.shapes.has(hash)) return;
    answers.shapes.set(hash, answer);
    this.size++;
  }
}

/** FNV-1a of `name` with every ASCII digit read as '0' (names of one digit shape have one hash). */
function shapeHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    h = Math.imul(h ^ (c >= 0x30 && c <= 0x39 ? 0x30 : c), 0x01000193);
  }
  return h;
}

/**
 * When `name` has the digit shape of `known`'s name (the same length, ASCII digits where the other has them, the rest
 * equal), `known`'s answer for it into `out` (its block and expert: the values of its digits at their places, at most 9
 * digits each, so exact integers as `Number` of that text) and true. One function for both (not a test, then a
 * call per number): a call each, with inlining off, on two names per layer.
 */
function answerOfShape(known: ShapeAnswer, name: string, out: RoleResult): boolean {
  const a = known.name;
  if (a.length !== name.length) return false;
  const { blockStart, blockEnd, expertStart, expertEnd } = known;
  // The digits are read in the compare's pass: one loop with two charCodeAt, not three loops with four (TurboFan's code
  // for each charCodeAt covers every string representation: compile 1.3 -> 1.1 ms single-threaded).
  let block = 0;
  let expert = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a.charCodeAt(i);
    const y = name.charCodeAt(i);
    if (x !== y && !(x >= 0x30 && x <= 0x39 && y >= 0x30 && y <= 0x39)) return false;
    if (i >= blockStart && i < blockEnd) block = block * 10 + (y - 0x30);
    if (i >= expertStart && i < expertEnd) expert = expert * 10 + (y - 0x30);
  }
  out.role = known.role;
  out.block = blockStart >= 0 ? block : undefined;
  out.expert = expertStart >= 0 ? expert : undefined;
  return true;
}

function isAscii(name: string): boolean {
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) > 0x7f) return false;
  return true;
}

function isSeparator(c: number): boolean {
  return c === 0x2f || c === 0x2e || c === 0x3a;
}

/** Where each of {@link tokens}' tokens of `name` ends (an ASCII name: its characters where the lower-cased one has them). */
function tokenEnds(name: string): number[] {
  const ends: number[] = [];
  let start = 0;
  for (let i = 0; i <= name.length; i++) {
    if (i < name.length && !isSeparator(name.charCodeAt(i))) continue;
    if (i > start) ends.push(i);
    start = i + 1;
  }
  return ends;
}

/** Where the token of `name` that ends at `end` starts. */
function tokenStart(name: string, end: number): number {
  let i = end;
  while (i > 0 && !isSeparator(name.charCodeAt(i - 1))) i--;
  return i;
}

// Which operator table an op is in (the first that holds it, in roleFor's order).
const OP_OTHER = 0;
const OP_CONV = 1;
const OP_RECURRENT = 2;
const OP_NORM = 3;
const OP_EMBEDDING = 4;
const OP_GATHER = 5;
const OP_ATTENTION = 6;
const OP_POSITION = 7;
const OP_EXPERT = 8;
const OP_LINEAR = 9;
const OP_BIAS = 10;

/** {@link opKind} answers remembered (ops are few; at most this many are kept). */
const OP_KINDS = new Map<string, number>();
const OP_KINDS_MAX = 1024;

/** The operator table `op` is in (one lookup per layer instead of up to a dozen). */
function opKind(op: string): number {
  let kind = OP_KINDS.get(op);
  if (kind !== undefined) return kind;
  if (CONV_OPS.has(op)) kind = OP_CONV;
  else if (RECURRENT_OPS.has(op)) kind = OP_RECURRENT;
  else if ((op.endsWith('Normalization') && !EMBEDDING_OPS.has(op)) || NORM_OPS.has(op)) kind = OP_NORM;
  else if (EMBEDDING_OPS.has(op)) kind = OP_EMBEDDING;
  else if (GATHER_OPS.has(op)) kind = OP_GATHER;
  else if (ATTENTION_OPS.has(op)) kind = OP_ATTENTION;
  else if (POSITION_OPS.has(op)) kind = OP_POSITION;
  else if (EXPERT_OPS.has(op)) kind = OP_EXPERT;
  else if (LINEAR_OPS.has(op)) kind = OP_LINEAR;
  else if (BIAS_OPS.has(op)) kind = OP_BIAS;
  else kind = OP_OTHER;
  if (OP_KINDS.size < OP_KINDS_MAX) OP_KINDS.set(op, kind);
  return kind;
}

/** How many of `shape`'s dimensions are over 1. */
function dimsOverOne(shape: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < shape.length; i++) if (shape[i]! > 1) n++;
  return n;
}

/** Scratch results of {@link roleFor}: its two names' answers. */
const fromWeight: RoleResult = { role: 'other', block: undefined, expert: undefined };
const fromNode: RoleResult = { role: 'other', block: undefined, expert: undefined };

/** Sets `out` to the layer's role, block and expert (`kind`: {@link opKind} of `op`). */
function roleFor(nodeName: string, op: string, kind: number, main: TensorInfo, mainInputIndex: number, ctx: LayerContext, weightMemo: NameRoleMemo, nodeMemo: NameRoleMemo, out: RoleResult): void {
  weightMemo.infer(main.name, op, fromWeight);
  if (nodeName) nodeMemo.infer(nodeName, op, fromNode);
  else {
    fromNode.role = 'other';
    fromNode.block = undefined;
    fromNode.expert = undefined;
  }
  const block = fromWeight.block ?? fromNode.block;
  const expert = fromWeight.expert ?? fromNode.expert;
  const named = fromWeight.role !== 'other' ? fromWeight.role : fromNode.role;
  let role: LayerRole;
  if (kind === OP_CONV) role = 'conv';
  else if (kind === OP_RECURRENT) role = 'recurrent';
  else if (kind === OP_NORM) role = 'norm';
  else if (kind === OP_EMBEDDING) role = named === 'position_embedding' ? 'position_embedding' : 'embedding';
  else if (kind === OP_GATHER && mainInputIndex === 0) role = named === 'position_embedding' ? 'position_embedding' : 'embedding';
  else if (kind === OP_ATTENTION) role = named.startsWith('attention_') ? named : 'attention_qkv';
  else if (kind === OP_POSITION) role = 'position_embedding';
  else if (kind === OP_EXPERT) role = named === 'router' ? 'router' : 'expert';
  else if (kind === OP_LINEAR) {
    role = named === 'other' || named === 'conv' || named === 'norm' || named === 'bias' || named === 'embedding' || named === 'recurrent' ? 'linear' : named;
    if (role === 'router' && !ctx.hasExperts && fromWeight.role === 'router') role = 'ffn_gate';
  } else if (kind === OP_BIAS && (main.shape.length <= 1 || dimsOverOne(main.shape) <= 1)) role = 'bias';
  else role = named === 'embedding' || named === 'position_embedding' ? 'other' : named;
  out.role = role;
  out.block = block;
  out.expert = expert;
}

/**
 * True when input `index` of `op` is a weight position (Conv/MatMul/Gemm weights and biases, normalization
 * parameters, RNN matrices, an embedding table): a tensor computed there at run time is a weight the file lacks.
 */
export function isWeightInput(op: string, index: number): boolean {
  if (GATHER_OPS.has(op) || EMBEDDING_OPS.has(op)) return index === 0 || EMBEDDING_OPS.has(op);
  if (index < 1) return false;
  return CONV_OPS.has(op) || LINEAR_OPS.has(op) || RECURRENT_OPS.has(op) || ATTENTION_OPS.has(op) || NORM_OPS.has(op) || op.endsWith('Normalization') || op === 'PRelu';
}

/** The layer's name: its node's name when that name is non-empty and `unique` among all nodes, else `<op>_<index>`. */
function layerName(nodeName: string, unique: boolean, op: string, index: number, graph: RawGraph): string {
  if (nodeName !== '' && unique) return nodeName;
  const local = `${op || 'node'}_${index}`;
  return graph.depth === 0 ? local : `${graph.path}/${local}`;
}

/** A traced weight's side tensors when it has none (shared; never written). */
const NO_EXTRAS: readonly TensorInfo[] = Object.freeze([]);

/** A layer whose name is given once every layer is known (see {@link nameLayers}). */
type Draft = { -readonly [K in keyof Layer]: Layer[K] };

/**
 * An ONNX layer. Its node's inputs and outputs (graph edges) are read from the node table whenever asked for
 * (estimate and the output-head search read them; `inspect` does not): a large graph's layers would otherwise each
 * keep two lists and their strings. Every other field is a plain data property; the two edge lists are not own
 * properties (not in `Object.keys`, a spread or JSON), as they were not meant to be copied.
 */
class OnnxLayer implements Draft {
  // Fields are assigned in the constructor, not declared with initializers or as parameter properties: a declared
  // field is defined on every new layer before the constructor runs (then assigned again), a cost per layer.
  declare op: string;
  declare role: LayerRole;
  declare block: number | undefined;
  declare expert: number | undefined;
  declare weight: string;
  declare moreWeights: readonly string[];
  declare parameterCount: number;
  declare byteLength: number;
  declare dtype: TensorInfo['dtype'];
  declare shape: readonly number[];
  declare quantizable: boolean;
  declare name: string;
  readonly #graph: RawGraph;
  readonly #row: number;

  constructor(
    op: string,
    role: LayerRole,
    block: number | undefined,
    expert: number | undefined,
    weight: string,
    moreWeights: readonly string[],
    parameterCount: number,
    byteLength: number,
    dtype: TensorInfo['dtype'],
    shape: readonly number[],
    quantizable: boolean,
    nodeName: string,
    graph: RawGraph,
    row: number,
  ) {
    // In the order the fields had as parameter properties, `name` last (the own keys' order stays the same).
    this.op = op;
    this.role = role;
    this.block = block;
    this.expert = expert;
    this.weight = weight;
    this.moreWeights = moreWeights;
    this.parameterCount = parameterCount;
    this.byteLength = byteLength;
    this.dtype = dtype;
    this.shape = shape;
    this.quantizable = quantizable;
    // The node's name until {@link nameLayers} settles the layer's (mostly: keeps it).
    this.name = nodeName;
    this.#graph = graph;
    this.#row = row;
  }

  /** The layer's name from its node's (in {@link name} until {@link nameLayers} sets it): see {@link layerName}. */
  nameAfterNode(unique: boolean): string {
    return layerName(this.name, unique, this.#graph.nodes.ops[this.#row]!, this.#row, this.#graph);
  }

  /** A new list per read (its readers — estimate, the output-head search — read it once per layer): nothing is kept. */
  get inputs(): readonly string[] {
    return this.#graph.nodes.inputs(this.#row);
  }

  /** A new list per read, as {@link inputs}. */
  get outputs(): readonly string[] {
    return this.#graph.nodes.outputs(this.#row);
  }
}

/** Node rows {@link GraphLayers.rows} walks per call (see there). */
const ROWS_PER_CALL = 512;

/** Builds the layers of every graph, main graph first. */
export function buildLayers(ctx: LayerContext): Layer[] {
  const segments = new SegmentRoleMemo(0);
  const out: LayerSink = { layers: [], weightMemo: new NameRoleMemo(segments), nodeMemo: new NameRoleMemo(segments), mainWeights: new Set(), sharedWeights: new Set(), outputHead: false };
  for (const g of ctx.graphs) {
    const walk = new GraphLayers(ctx, g, out);
    const rows = g.nodes.length;
    for (let from = 0; from < rows; from += ROWS_PER_CALL) walk.rows(from, Math.min(rows, from + ROWS_PER_CALL));
  }
  nameLayers(out.layers, ctx.graphs);
  if (out.sharedWeights.size > 0) blocksForSharedWeights(out.layers, out.sharedWeights);
  if (!out.outputHead) markOutputHead(out.layers, ctx);
  return out.layers;
}

/** The layers found so far and the role memos they share. */
interface LayerSink {
  readonly layers: OnnxLayer[];
  /** The role memos of weight names and of node names (one each: the names of one memo mostly share one shape, see {@link NameRoleMemo.infer}). */
  readonly weightMemo: NameRoleMemo;
  readonly nodeMemo: NameRoleMemo;
  /** The main weights (by name) of the layers made so far. */
  readonly mainWeights: Set<string>;
  /** The main weights (by name) of two layers or more. */
  readonly sharedWeights: Set<string>;
  /** True once a layer is an output head. */
  outputHead: boolean;
}

/**
 * The layers of one graph's node rows. Rows are walked a bounded number per call ({@link rows}): that loop is then
 * compiled as a whole function once it is hot, not on the stack in the middle of one long call, where the optimized
 * code would meet the code after the loop without feedback for it and fall back to the interpreter.
 */
class GraphLayers {
  /** Values that weight-path ops (DequantizeLinear, Cast, Transpose…) produce from a stored weight. */
  private readonly traced = new Map<string, Traced>();
  private readonly chain: readonly ReadonlyMap<string, TensorInfo>[];
  private readonly filters: readonly Uint8Array[];
  private readonly table: RawGraph['nodes'];
  private readonly edges: RawGraph['nodes']['inputEdges'];
  private readonly texts: readonly string[];
  /** The node names' spans, as {@link spans}. */
  private readonly nameSpans: Int32Array;
  /** The input edges' spans (text, start, end per edge), read directly: `inspect` runs with TurboFan's inlining off (src/cli/launcher.ts), so a method call per edge stays a call. */
  private readonly spans: Int32Array;
  /** The side tensors of the tensor {@link trace} returned last. */
  private tracedExtras: readonly TensorInfo[] = NO_EXTRAS;
  private readonly result: RoleResult = { role: 'other', block: undefined, expert: undefined };
  // A node's stored inputs (input index, tensor, side tensors traced with it): scratch reused by every node.
  private readonly foundIndex: number[] = [];
  private readonly foundTensor: TensorInfo[] = [];
  private readonly foundExtras: (readonly TensorInfo[])[] = [];
  /** {@link rowOpKind} of the scan's label ids (ids below {@link SCAN_LABELS}), filled in as the rows meet them. */
  private readonly scannedOpKinds = new Uint8Array(SCAN_LABELS);
  /** {@link opKind} + 1 of the scan's label ids, filled in as layers meet them (0: not met yet). */
  private readonly scannedRoleKinds = new Uint8Array(SCAN_LABELS);
  /**
   * A graph of one scope: a copy of its name filter ({@link Scope}) with the values of {@link traced} added, so that
   * {@link rows} passes over an edge whose entry is 0 without calling {@link trace} (inlining is off: see {@link spans}).
   * Undefined for a subgraph that sees several scopes: its edges are all traced.
   */
  private readonly edgeFilter: Uint8Array | undefined;
  /**
   * The second filter of a graph of one scope, made once {@link edgeFilter} has let {@link NAME_BITS_AFTER_MISSES}
   * edges through that no stored or traced value has: a bit per {@link nameHash} of every name {@link lookup} can
   * find, at `hash >>> nameShift`. An exported graph names its Constant outputs as its activations (`/block.0/Constant_output_0`
   * beside `/block.0/Mul_output_0`, or `t12` beside `t13`): the first filter, by first character and length, then
   * lets most edges through, each a string made and a Map lookup missed. Undefined until then (a graph whose first
   * filter already answers pays nothing).
   */
  private nameBits: Int32Array | undefined = undefined;
  private nameShift = 0;
  /** Edges {@link lookup} found nothing for. */
  private misses = 0;

  constructor(private readonly ctx: LayerContext, private readonly graph: RawGraph, private readonly out: LayerSink) {
    const scopes = ctx.scopes(graph);
    this.chain = scopes.map((scope) => scope.tensors);
    this.filters = scopes.map((scope) => scope.filter);
    this.edgeFilter = scopes.length === 1 ? scopes[0]!.filter.slice() : undefined;
    // Rows of the node table (parse.ts): no node object is made here.
    this.table = graph.nodes;
    this.edges = this.table.inputEdges;
    this.texts = this.table.texts;
    this.spans = this.edges.spanData;
    this.nameSpans = this.table.names.spanData;
  }

  /** The stored tensor input edge `k` reads, if any (its side tensors in {@link tracedExtras}). */
  private trace(k: number): TensorInfo | undefined {
    if (this.edgeFilter !== undefined) return mayBeStored(this.edgeFilter, this.spans, this.texts, k) ? this.lookup(k) : undefined;
    const spans = this.spans;
    const start = spans[3 * k + 1]!;
    const length = spans[3 * k + 2]! - start;
    if (length === 0) return undefined;
    if (this.traced.size > 0) {
      const t = this.traced.get(this.edges.get(k));
      if (t) {
        this.tracedExtras = t.extras;
        return t.weight;
      }
    }
    // Most edges of a large graph are activations: their first character and length already say that a scope
    // does not hold them, without making the edge's string or hashing it for a lookup.
    const slot = (this.texts[spans[3 * k]!]!.charCodeAt(start) & 0x7f) * 64 + (length < 63 ? length : 63);
    const chain = this.chain;
    let value: string | undefined;
    for (let i = 0; i < chain.length; i++) {
      if (this.filters[i]![slot] === 0) continue;
      const stored = chain[i]!.get((value ??= this.edges.get(k)));
      if (stored !== undefined) {
        this.tracedExtras = NO_EXTRAS;
        return stored;
      }
    }
    return undefined;
  }

  /**
   * {@link trace} in a graph of one scope, of an edge that passed its {@link edgeFilter} (the caller's test). Its own
   * method, without the loop over scopes: {@link rows} calls it for the edges that pass the filter, which the first
   * scope mostly holds, so the loop's step had never run when it was optimized (a deoptimization in every run of
   * the bench).
   */
  private lookup(k: number): TensorInfo | undefined {
    const spans = this.spans;
    const start = spans[3 * k + 1]!;
    const end = spans[3 * k + 2]!;
    const text = this.texts[spans[3 * k]!]!;
    // this.edges.get(k), without the call.
    const value = start === 0 && end === text.length ? text : text.substring(start, end);
    if (this.traced.size > 0) {
      const t = this.traced.get(value);
      if (t !== undefined) {
        this.tracedExtras = t.extras;
        return t.weight;
      }
    }
    this.tracedExtras = NO_EXTRAS;
    const stored = this.chain[0]!.get(value);
    if (stored === undefined && ++this.misses === NAME_BITS_AFTER_MISSES) this.makeNameBits();
    return stored;
  }

  /** Makes {@link nameBits} of the one scope's names and the traced values' (at ~16 bits a name, 2^10 to 2^22 bits). */
  private makeNameBits(): void {
    const names = this.chain[0]!;
    const count = names.size + this.traced.size;
    let log = 10;
    while (log < 22 && 1 << log < 16 * count) log++;
    this.nameBits = new Int32Array(1 << (log - 5));
    this.nameShift = 32 - log;
    for (const name of names.keys()) this.addNameBit(name);
    for (const name of this.traced.keys()) this.addNameBit(name);
  }

  private addNameBit(name: string): void {
    const bit = nameHash(name, 0, name.length) >>> this.nameShift;
    this.nameBits![bit >>> 5]! |= 1 << (bit & 31);
  }

  /** Walks rows [from, to). */
  rows(from: number, to: number): void {
    const table = this.table;
    // The table's columns read directly (its inputStart/inputEnd… as plain reads), as the spans above.
    const inputStarts = table.inputStarts.data;
    // Op types and domains as the table's label ids (two per row): a row's strings are read only for its layer.
    const labelIds = table.labelIds.data;
    const labels = table.labels;
    const scannedOpKinds = this.scannedOpKinds;
    const rows = table.length;
    const inputCount = this.edges.length;
    const { foundIndex, foundTensor, foundExtras, edgeFilter, spans, texts, nameBits, nameShift } = this;
    // Most rows of a large graph read no stored tensor: this loop is all they cost. The rest (weight-path steps,
    // layers) is in methods of its own, so this one stays small: it runs cold at first, and its optimized code is
    // compiled twice (a call, and on the stack).
    for (let nodeIndex = from; nodeIndex < to; nodeIndex++) {
      const opId = labelIds[2 * nodeIndex]!;
      let kind = opId < SCAN_LABELS ? scannedOpKinds[opId]! : 0;
      if (kind === 0) {
        kind = rowOpKind(labels.get(opId));
        if (opId < SCAN_LABELS) scannedOpKinds[opId] = kind;
      }
      if (kind === ROW_CONSTANT) {
        const domain = labels.get(labelIds[2 * nodeIndex + 1]!);
        if (domain === '' || domain === 'ai.onnx') continue;
      }
      const first = inputStarts[nodeIndex]!;
      const stop = nodeIndex + 1 < rows ? inputStarts[nodeIndex + 1]! : inputCount;
      let found = 0;
      for (let k = first; k < stop; k++) {
        // trace(k)'s first test, here (edgeFilter): most edges of a large graph are activations (the 45,000-node
        // bench: 45,000 of its 67,500 edges, the first input of each of its 11,250 Identity rows among them), each a
        // call less.
        if (edgeFilter !== undefined) {
          const start = spans[3 * k + 1]!;
          const end = spans[3 * k + 2]!;
          const text = texts[spans[3 * k]!]!;
          if (end === start || edgeFilter[(text.charCodeAt(start) & 0x7f) * 64 + (end - start < 63 ? end - start : 63)] === 0) continue;
          if (nameBits !== undefined) {
            // nameHash(text, start, end), without the call.
            let h = NAME_HASH_BASIS;
            for (let c = start; c < end; c++) h = Math.imul(h ^ text.charCodeAt(c), NAME_HASH_PRIME);
            const bit = h >>> nameShift;
            if ((nameBits[bit >>> 5]! & (1 << (bit & 31))) === 0) continue;
          }
        }
        let tensor: TensorInfo | undefined;
        if (k === first && kind === ROW_WEIGHT_PATH) {
          // A weight step: the row is no layer.
          if (this.weightPath(nodeIndex, first, stop)) break;
          tensor = this.firstTensor;
        } else tensor = edgeFilter !== undefined ? this.lookup(k) : this.trace(k);
        if (tensor === undefined) continue;
        foundIndex[found] = k - first;
        foundTensor[found] = tensor;
        foundExtras[found] = this.tracedExtras;
        found++;
      }
      if (found > 0) this.layer(nodeIndex, opId, labels.get(opId), labels.get(labelIds[2 * nodeIndex + 1]!), found);
    }
  }

  /** What {@link weightPath} traced for a weight-path op's first input edge that is no weight step (its side tensors in {@link tracedExtras}). */
  private firstTensor: TensorInfo | undefined = undefined;

  /**
   * A weight-path op (DequantizeLinear, Cast, Transpose…) whose first input (edge `first`) is a stored weight makes
   * its first output a traced weight, with its other stored inputs as side tensors: true. Else false, with the first
   * input's answer in {@link firstTensor} and {@link tracedExtras} for the node's walk.
   */
  private weightPath(nodeIndex: number, first: number, stop: number): boolean {
    const table = this.table;
    const tensor = (this.firstTensor = this.trace(first));
    const firstOutput = table.outputStart(nodeIndex);
    if (tensor !== undefined && isWeightDtype(tensor.dtype) && table.outputEnd(nodeIndex) > firstOutput) {
      const tracedExtras = this.tracedExtras;
      const extras = tracedExtras.slice();
      for (let k = first + 1; k < stop; k++) {
        const side = this.trace(k);
        if (side) {
          extras.push(side);
          for (const t of this.tracedExtras) extras.push(t);
        }
      }
      const value = table.outputEdges.get(firstOutput);
      this.traced.set(value, { weight: tensor, extras });
      if (this.edgeFilter !== undefined && value !== '') this.edgeFilter[(value.charCodeAt(0) & 0x7f) * 64 + (value.length < 63 ? value.length : 63)] = 1;
      if (this.nameBits !== undefined) this.addNameBit(value);
      return true;
    }
    return false;
  }

  /**
   * The side tensors of main weight `m` (input `mainIndex` of an `op` node) among the node's `found` stored inputs
   * (in the scratch columns): its own traced ones, then the other stored inputs with theirs, each tensor once;
   * undefined when there are none.
   */
  private sideTensors(found: number, mainIndex: number, m: TensorInfo, op: string): TensorInfo[] | undefined {
    const { foundIndex, foundTensor, foundExtras } = this;
    let more: TensorInfo[] | undefined;
    // Indexed loops, not for-of: this runs once per layer, mostly before it is compiled, where for-of makes an iterator.
    for (let f = 0; f < found; f++) {
      if (foundIndex[f] !== mainIndex) continue;
      const extras = foundExtras[f]!;
      for (let e = 0; e < extras.length; e++) more = addSide(more, extras[e]!, m);
    }
    const sides = SIDE_INPUTS.get(op)?.get(mainIndex);
    for (let f = 0; f < found; f++) {
      if (foundIndex[f] === mainIndex || (sides && !sides.includes(foundIndex[f]!))) continue;
      more = addSide(more, foundTensor[f]!, m);
      const extras = foundExtras[f]!;
      for (let e = 0; e < extras.length; e++) more = addSide(more, extras[e]!, m);
    }
    return more;
  }

  /** The layer of row `nodeIndex`, if any, from its `found` stored inputs (in the scratch columns). */
  private layer(nodeIndex: number, opId: number, op: string, domain: string, found: number): void {
    const { foundIndex, foundTensor, foundExtras, result, out } = this;
    let m: TensorInfo | undefined;
    let mainIndex = -1;
    for (let f = 0; f < found; f++) {
      const tensor = foundTensor[f]!;
      // isWeightDtype's remembered answer read here: a call fewer per stored input.
      const dtype = tensor.dtype;
      if ((dtype === weightDtype ? weightDtypeAnswer : isWeightDtype(dtype)) && (!m || tensor.elementCount > m.elementCount)) {
        m = tensor;
        mainIndex = foundIndex[f]!;
      }
    }
    if (!m || m.elementCount < MIN_LAYER_ELEMENTS) return;
    // Most layers of a large graph have one stored input and nothing traced with it: no side tensors to gather.
    const more = found === 1 && foundExtras[0]!.length === 0 ? undefined : this.sideTensors(found, mainIndex, m, op);
    let parameterCount = m.elementCount;
    let byteLength = m.byteLength;
    if (more !== undefined) {
      for (let i = 0; i < more.length; i++) {
        parameterCount += more[i]!.elementCount;
        byteLength += more[i]!.byteLength;
      }
    }
    // table.name(nodeIndex), without its two calls.
    const nameSpans = this.nameSpans;
    const nameText = this.texts[nameSpans[3 * nodeIndex]!]!;
    const nameStart = nameSpans[3 * nodeIndex + 1]!;
    const nameEnd = nameSpans[3 * nodeIndex + 2]!;
    const nodeName = nameStart === 0 && nameEnd === nameText.length ? nameText : nameText.substring(nameStart, nameEnd);
    // opKind of the scan's op ids remembered by id (a Map lookup and a call fewer per layer).
    let kind = opId < SCAN_LABELS ? this.scannedRoleKinds[opId]! - 1 : opKind(op);
    if (kind < 0) this.scannedRoleKinds[opId] = (kind = opKind(op)) + 1;
    roleFor(nodeName, op, kind, m, mainIndex, this.ctx, out.weightMemo, out.nodeMemo, result);
    const role = result.role;
    if (role === 'output_head') out.outputHead = true;
    // One Set operation per layer, not a count per weight in a Map (a get and a set): the bench's 12,500 main
    // weights, each of one layer.
    const mainWeights = out.mainWeights;
    const known = mainWeights.size;
    if (mainWeights.add(m.name).size === known) out.sharedWeights.add(m.name);
    out.layers.push(
      new OnnxLayer(
        domain && domain !== 'ai.onnx' ? `${domain}.${op}` : op,
        role,
        result.block,
        result.expert,
        m.name,
        more !== undefined ? more.map(nameOf) : NO_MORE_WEIGHTS,
        parameterCount,
        byteLength,
        m.dtype,
        m.shape,
        // isQuantizableWeight(role, m.shape, m.dtype), or a low-bit integer weight of such a role and shape: m has a
        // weight dtype (real-valued or a quantized integer), so its dtype needs no further test.
        // The roles are isQuantizableWeight's KEEP_PRECISION (model/roles.ts).
        m.elementCount >= MIN_QUANTIZABLE_ELEMENTS && m.shape.length >= 2 && role !== 'norm' && role !== 'bias' && role !== 'router',
        nodeName,
        this.graph,
        nodeIndex,
      ),
    );
  }
}

/** {@link GraphLayers.lookup}'s misses after which a graph's edges are also filtered by {@link GraphLayers.nameBits}. */
const NAME_BITS_AFTER_MISSES = 512;
const NAME_HASH_BASIS = 0x811c9dc5;
const NAME_HASH_PRIME = 0x01000193;

/** FNV-1a of the UTF-16 units `text[start, end)`: its top bits index {@link GraphLayers.nameBits}. */
function nameHash(text: string, start: number, end: number): number {
  let h = NAME_HASH_BASIS;
  for (let c = start; c < end; c++) h = Math.imul(h ^ text.charCodeAt(c), NAME_HASH_PRIME);
  return h;
}

/** False when input edge `k` (its span in `spans`, cut from `texts`) is empty or its `filter` entry is 0: no stored or traced value. */
function mayBeStored(filter: Uint8Array, spans: Int32Array, texts: readonly string[], k: number): boolean {
  const start = spans[3 * k + 1]!;
  const length = spans[3 * k + 2]! - start;
  return length !== 0 && filter[(texts[spans[3 * k]!]!.charCodeAt(start) & 0x7f) * 64 + (length < 63 ? length : 63)] !== 0;
}

/** `more` with `t` appended when it is a side tensor other than `main` not in it yet (a new list when `more` is undefined). */
function addSide(more: TensorInfo[] | undefined, t: TensorInfo, main: TensorInfo): TensorInfo[] | undefined {
  if (t === main || !isSideTensor(t.dtype) || (more !== undefined && more.includes(t))) return more;
  if (more === undefined) return [t];
  more.push(t);
  return more;
}

function nameOf(t: TensorInfo): string {
  return t.name;
}

/**
 * A layer is named after its node when that node name is unique among all nodes of all graphs, else
 * `<op>_<index>` (prefixed by the graph path in a subgraph); {@link UniqueNames} settles clashes in layer order.
 * Only the layers' node names are counted: a large graph has a few layers among many nodes.
 */
function nameLayers(layers: readonly OnnxLayer[], graphs: readonly RawGraph[]): void {
  let named = false;
  for (let i = 0; i < layers.length && !named; i++) if (layers[i]!.name !== '') named = true;
  // One graph whose node names are all distinct and non-empty (exporters name every node uniquely): every count is 1,
  // found by the node table (by the names' hashes, or one native Set of the names) instead of a count per name. Then
  // every layer keeps its node's name (given when it was made), and no two alike: nothing to settle.
  if (named && graphs.length === 1 && graphs[0]!.nodes.distinctNames()) return;
  const nameCounts = new Map<string, number>();
  if (named) {
    for (let i = 0; i < layers.length; i++) if (layers[i]!.name !== '') nameCounts.set(layers[i]!.name, 0);
    for (const g of graphs) {
      for (const name of g.nodes.names.all()) {
        const count = name !== '' ? nameCounts.get(name) : undefined;
        if (count !== undefined) nameCounts.set(name, count + 1);
      }
    }
  }
  const used = new UniqueNames();
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i]!;
    layer.name = used.claim(layer.nameAfterNode(layer.name !== '' && nameCounts.get(layer.name) === 1));
  }
}

/**
 * A weight tensor used by several nodes (ONNX Runtime's optimizer deduplicates identical initializers — e.g. every
 * LayerNorm gamma of a freshly initialised model is the same tensor) names one block, but each node sits in its own.
 * For such layers the block comes from graph order instead: the block of the nearest preceding layer whose weight is
 * its own. Layers without a block (embeddings, a tied output head) keep none. `shared`: the main weights of two layers
 * or more (a model whose weights each have one layer changes nothing, and is not walked).
 */
function blocksForSharedWeights(layers: readonly Draft[], shared: ReadonlySet<string>): void {
  let previous: number | undefined;
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i]!;
    if (!shared.has(l.weight!)) {
      if (l.block !== undefined) previous = l.block;
    } else if (l.block !== undefined && previous !== undefined && l.block !== previous) {
      l.block = previous;
    }
  }
}

/** Ops between the LM head and the `logits` output that do not change which layer produced it. */
const HEAD_PASSTHROUGH: ReadonlySet<string> = new Set(['Add', 'Reshape', 'Cast', 'Transpose', 'Identity', 'Squeeze', 'Unsqueeze', 'Mul', 'Div', 'Softcap', 'Tanh', 'Slice', 'Gather']);

/**
 * When no layer is already an output head, the linear layer that produces a main-graph output named like
 * `logits` (through a few reshapes/casts/bias adds) becomes the output head.
 */
function markOutputHead(layers: readonly Draft[], ctx: LayerContext): void {
  const main = ctx.graphs[0];
  if (!main || !main.outputs.some((o) => /logits/i.test(o.name))) return;
  const table = main.nodes;
  const producer = new Map<string, number>();
  for (let i = 0; i < table.length; i++) for (let k = table.outputStart(i); k < table.outputEnd(i); k++) producer.set(table.outputEdges.get(k), i);
  const byOutput = new Map<string, number>();
  layers.forEach((l, i) => {
    for (const o of l.outputs) if (!byOutput.has(o)) byOutput.set(o, i);
  });
  for (const out of main.outputs) {
    if (!/logits/i.test(out.name)) continue;
    let value = out.name;
    for (let step = 0; step < 6; step++) {
      const li = byOutput.get(value);
      if (li !== undefined) {
        const l = layers[li]!;
        // A bias add after the head: the search goes on through it.
        if (l.role !== 'bias') {
          if (l.role === 'linear' || l.role === 'other' || l.role === 'embedding') l.role = 'output_head';
          return;
        }
      }
      const p = producer.get(value);
      if (p === undefined || !HEAD_PASSTHROUGH.has(table.ops[p]!)) break;
      const input = table.inputStart(p) < table.inputEnd(p) ? table.inputEdges.get(table.inputStart(p)) : '';
      if (!input) break;
      value = input;
    }
  }
}
