/**
 * The worst-case graph llama.cpp reserves its compute buffer for (`llama_context::sched_reserve` →
 * `graph_reserve(n_tokens = min(n_ctx, n_ubatch), n_seqs, n_outputs = n_tokens)`), rebuilt tensor by tensor for
 * decoder-only transformers the way `llm_build_llama` / `llm_build_qwen2` / `llm_build_qwen3(moe)` and
 * `llm_graph_context::build_attn`, `build_ffn`, `build_moe_ffn` in src/llama-graph.cpp lay them out
 * (ggml-org/llama.cpp). Only what the allocator sees matters: activations are F32, the KV cache and weights are
 * external, and views share their source's bytes. {@link GgmlGraph} then places the tensors as ggml-alloc does.
 *
 * Attention without flash attention materialises KQ = [n_kv, n_tokens, n_head] F32 (softmax runs in place),
 * then KQV and a contiguous copy; with flash attention one FLASH_ATTN_EXT node writes [head_dim_v, n_head,
 * n_tokens] and the F32 mask is cast to F16. With the V cache stored transposed (no flash attention), writing V
 * takes one I64 row index per element (`ggml_set_rows` on a 1-column view).
 */
import { GgmlGraph } from './ggmlGraph';

/** ggml's KQ mask padding of the token dimension (`GGML_KQ_MASK_PAD`). */
export const KQ_MASK_PAD = 1;

/** One layer of the graph: attention shape, the cells it attends over, and its FFN. */
export interface GraphLayer {
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDimK: number;
  readonly headDimV: number;
  /** Cache cells this layer's attention reads per stream (full cache or its SWA cache). */
  readonly kvCells: number;
  /** Dense FFN width, or the per-expert width for MoE layers. */
  readonly ffn: number;
  /** Routed experts (0 = dense). */
  readonly experts: number;
  readonly expertsUsed: number;
  /** Shared-expert FFN width (0 = none). */
  readonly sharedFfn: number;
  readonly qkvBias: boolean;
  readonly qkNorm: boolean;
  /** Separate Q/K/V projections (false: one fused QKV weight, split by views). */
  readonly fusedQkv: boolean;
}

/** Dimensions of a graph reservation. */
export interface GraphDims {
  readonly embd: number;
  readonly vocab: number;
  readonly layers: readonly GraphLayer[];
  /** Tokens in the micro-batch. */
  readonly tokens: number;
  /** Rows of logits computed (the reservation uses all tokens). */
  readonly outputs: number;
  /** KV streams (sequences with a non-unified cache). */
  readonly streams: number;
  readonly flashAttention: boolean;
  /** MoE weights normalised after top-k (qwen3moe, mixtral: true). */
  readonly normTopK: boolean;
}

/** Builds the reserve graph of a decoder-only transformer. */
export function buildDecoderGraph(d: GraphDims): GgmlGraph {
  const g = new GgmlGraph();
  const n = d.tokens;
  const w = (): number => g.external();
  // Inputs are created as the graph is built; the allocator places them first in order of first use.
  const tokens = g.input('i32', [n]);
  let inpL = g.op('f32', [d.embd, n], [w(), tokens]); // get_rows(tok_embd, tokens)
  const pos = g.input('i32', [n]);
  const masks = new Map<number, { mask: number; cast: number | undefined }>();
  // Row indices for the cache writes: one pair per cache (build_attn_inp_kv), shared by its layers.
  const idxs = new Map<number, { k: number; v: number }>();
  const idxFor = (kv: number, vDim: number): { k: number; v: number } => {
    let x = idxs.get(kv);
    if (!x) {
      x = { k: g.input('i64', [n]), v: g.input('i64', d.flashAttention ? [n] : [n * vDim]) };
      idxs.set(kv, x);
    }
    return x;
  };
  const maskFor = (kv: number): number => {
    let m = masks.get(kv);
    if (!m) {
      const mask = g.input('f32', [kv, padTo(n / d.streams, KQ_MASK_PAD), 1, d.streams]);
      m = { mask, cast: undefined };
      masks.set(kv, m);
    }
    if (!d.flashAttention) return m.mask;
    if (m.cast === undefined) m.cast = g.op('f16', [kv, padTo(n / d.streams, KQ_MASK_PAD), 1, d.streams], [m.mask]);
    return m.cast;
  };
  const outIds = g.input('i32', [d.outputs]);
  d.layers.forEach((L, il) => {
    const last = il === d.layers.length - 1;
    const qDim = L.headDimK * L.heads;
    const kDim = L.headDimK * L.kvHeads;
    const vDim = L.headDimV * L.kvHeads;
    const inpSA = inpL;
    let cur = rmsNorm(g, inpL, [d.embd, n]);
    // Q, K, V projections (+ bias), per-head norms, RoPE.
    const project = (dim: number): number => {
      let t = g.op('f32', [dim, n], [w(), cur]);
      if (L.qkvBias) t = g.op('f32', [dim, n], [t, w()], true);
      return t;
    };
    // build_attn expands Q, then V, then K (each with its reshape, norm and RoPE) before the cache writes.
    let q: number;
    let k: number;
    let v: number;
    const perHeadNorm = (x: number, heads: number): number => (L.qkNorm ? g.op('f32', [L.headDimK, heads, n], [g.op('f32', [L.headDimK, heads, n], [x], true), w()], true) : x);
    const rope = (x: number, heads: number): number => g.op('f32', [L.headDimK, heads, n], [x, pos], true);
    if (L.fusedQkv) {
      const qkv = g.op('f32', [qDim + kDim + vDim, n], [w(), cur]);
      q = rope(perHeadNorm(g.view(qkv), L.heads), L.heads);
      v = g.view(qkv);
      k = rope(perHeadNorm(g.view(qkv), L.kvHeads), L.kvHeads);
    } else {
      q = rope(perHeadNorm(g.view(project(qDim), [L.headDimK, L.heads, n]), L.heads), L.heads);
      v = g.view(project(vDim), [L.headDimV, L.kvHeads, n]);
      k = rope(perHeadNorm(g.view(project(kDim), [L.headDimK, L.kvHeads, n]), L.kvHeads), L.kvHeads);
    }
    // Cache writes: set_rows into views of the (external) cache.
    const idx = idxFor(L.kvCells, vDim);
    g.view(g.external(), undefined, 'f32', [k, idx.k]);
    g.view(g.external(), undefined, 'f32', [v, idx.v]);
    const qv = g.view(q); // permute
    const kc = g.view(g.external());
    const vc = g.view(g.external());
    const mask = maskFor(L.kvCells);
    if (d.flashAttention) {
      const fa = g.op('f32', [L.headDimV, L.heads, n], [qv, kc, vc, mask]);
      cur = g.view(fa, [L.headDimV * L.heads, n]);
    } else {
      let kq = g.op('f32', [L.kvCells, n / d.streams, L.heads, d.streams], [kc, qv]);
      kq = g.op('f32', [L.kvCells, n / d.streams, L.heads, d.streams], [kq, mask], true); // soft_max_ext
      const kqv = g.op('f32', [L.headDimV, n / d.streams, L.heads, d.streams], [vc, kq]);
      cur = g.op('f32', [L.headDimV * L.heads, n], [g.view(kqv)]); // permute + cont_2d
    }
    cur = g.op('f32', [d.embd, n], [w(), cur]); // wo
    let rows = n;
    let residual = inpSA;
    if (last) {
      rows = d.outputs;
      cur = g.op('f32', [d.embd, rows], [cur, outIds]);
      residual = g.op('f32', [d.embd, rows], [inpSA, outIds]);
    }
    const ffnInp = g.op('f32', [d.embd, rows], [cur, residual], true);
    cur = rmsNorm(g, ffnInp, [d.embd, rows]);
    cur = L.experts > 0 ? moeFfn(g, cur, L, d, rows) : denseFfn(g, cur, L.ffn, d.embd, rows);
    inpL = g.op('f32', [d.embd, rows], [cur, ffnInp], true);
  });
  const normed = rmsNorm(g, inpL, [d.embd, d.outputs]);
  const logits = g.op('f32', [d.vocab, d.outputs], [w(), normed]);
  g.markOutput(logits);
  return g;
}

function padTo(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}

/** rms_norm then × weight (both in place when they can). */
function rmsNorm(g: GgmlGraph, x: number, ne: readonly number[]): number {
  return g.op('f32', ne, [g.op('f32', ne, [x], true), g.external()], true);
}

/** up and gate projections, SwiGLU (a GLU op: a new tensor), down projection. */
function denseFfn(g: GgmlGraph, x: number, ffn: number, embd: number, n: number): number {
  // swiglu_split(gate, up): the graph walk reaches the gate projection first.
  const gate = g.op('f32', [ffn, n], [g.external(), x]);
  const up = g.op('f32', [ffn, n], [g.external(), x]);
  const act = g.op('f32', [ffn, n], [gate, up]);
  return g.op('f32', [embd, n], [g.external(), act]);
}

/** `build_moe_ffn`: router softmax, top-k, per-expert matmuls (MUL_MAT_ID), weighting, sum of the k outputs. */
function moeFfn(g: GgmlGraph, x: number, L: GraphLayer, d: GraphDims, n: number): number {
  // Order of the graph walk from the weighted sum: router, top-k, gate/up/down per expert, then the weights.
  const e = L.experts;
  const k = L.expertsUsed;
  const x3 = g.view(x, [d.embd, 1, n]);
  const logits = g.op('f32', [e, n], [g.external(), x]);
  const probs = g.op('f32', [e, n], [logits], true); // soft_max
  const order = g.op('i32', [e, n], [probs]); // argsort
  const selected = g.view(order); // top-k view
  const gate = g.op('f32', [L.ffn, k, n], [g.external(), x3, selected]);
  const up = g.op('f32', [L.ffn, k, n], [g.external(), x3, selected]);
  const act = g.op('f32', [L.ffn, k, n], [gate, up]);
  let experts = g.op('f32', [d.embd, k, n], [g.external(), act, selected]);
  let weights = g.op('f32', [1, k, n], [g.view(probs, [1, e, n]), selected]); // get_rows
  if (d.normTopK) {
    const w2 = g.view(weights, [k, n]);
    const sum = g.op('f32', [1, n], [w2]);
    weights = g.view(g.op('f32', [k, n], [w2, sum], true), [1, k, n]);
  }
  experts = g.op('f32', [d.embd, k, n], [experts, weights], true);
  let out = g.view(experts);
  for (let i = 1; i < k; i++) out = g.op('f32', [d.embd, n], [out, g.view(experts)]);
  if (k === 1) out = g.op('f32', [d.embd, n], [out]);
  if (L.sharedFfn > 0) {
    const shared = denseFfn(g, x, L.sharedFfn, d.embd, n);
    out = g.op('f32', [d.embd, n], [out, shared], true);
  }
  return out;
}


/** Dimensions of a Mamba-1 reserve graph (`llama_model_mamba` + `llm_build_mamba_base::build_mamba_layer`). */
export interface MambaGraphDims {
  readonly embd: number;
  readonly vocab: number;
  readonly layers: number;
  readonly dInner: number;
  readonly dState: number;
  readonly dConv: number;
  readonly dtRank: number;
  readonly tokens: number;
  readonly outputs: number;
  /** Sequences in the micro-batch (each with its own state row). */
  readonly seqs: number;
}

/**
 * The reserve graph of a Mamba-1 model, tensor by tensor as `build_mamba_layer` (src/models/mamba-base.cpp) and
 * `build_rs` (src/llama-graph.cpp) lay it out: per layer RMS norm, the state rows (get_rows of the conv and SSM
 * states by sequence), in_proj → x/z views, concat of the conv state with xᵀ, ssm_conv, bias, SiLU, x_proj,
 * dt_proj + bias, ssm_scan (its output holds y and the new states), y + x·D, SwiGLU(cont(z), y), out_proj, residual;
 * then the final norm and the logits. State writes are copies into views of the (external) state cache.
 */
export function buildMambaGraph(d: MambaGraphDims): GgmlGraph {
  const g = new GgmlGraph();
  const n = d.tokens;
  const s = d.seqs;
  const w = (): number => g.external();
  const tokens = g.input('i32', [n]);
  let inpL = g.op('f32', [d.embd, n], [w(), tokens]); // get_rows(tok_embd)
  const copyMain = g.input('i32', [s]); // build_inp_rs: s_copy_main
  const copyExtra = g.input('i32', [0]); // s_copy_extra: no extra states at reserve time
  const outIds = g.input('i32', [d.outputs]);
  const rConv = (d.dConv - 1) * d.dInner;
  for (let il = 0; il < d.layers; il++) {
    const last = il === d.layers - 1;
    let cur = rmsNorm(g, inpL, [d.embd, n]);
    // build_rs for the conv state: zero one row in place (a view of the cache), get_rows of the used rows, extras copied back.
    const conv = g.op('f32', [rConv, s], [g.view(w()), copyMain]);
    g.view(w(), undefined, 'f32', [g.op('f32', [rConv, 0], [g.view(w()), copyExtra])]);
    const conv3 = g.view(conv, [d.dConv - 1, d.dInner, s]);
    const xz = g.op('f32', [2 * d.dInner, n], [w(), g.view(cur, [d.embd, n / s, s])]);
    const x = g.view(xz);
    const z = g.view(xz);
    const convX = g.op('f32', [d.dConv - 1 + n / s, d.dInner, s], [conv3, g.view(x)]); // concat(conv, xᵀ)
    g.view(w(), undefined, 'f32', [g.view(convX)]); // cpy of the last d_conv − 1 columns into the cache
    let xc = g.op('f32', [d.dInner, n / s, s], [convX, w()]); // ssm_conv
    xc = g.op('f32', [d.dInner, n / s, s], [xc, w()], true); // + conv bias
    xc = g.op('f32', [d.dInner, n / s, s], [xc], true); // silu
    const xdb = g.op('f32', [d.dtRank + 2 * d.dState, n / s, s], [w(), xc]);
    let dt = g.op('f32', [d.dInner, n / s, s], [w(), g.view(xdb)]);
    dt = g.op('f32', [d.dInner, n / s, s], [dt, w()], true);
    const B = g.view(xdb);
    const C = g.view(xdb);
    // build_rs for the SSM state with ssm_scan as the row getter.
    const scan = g.op('f32', [d.dInner * n + d.dState * d.dInner * s], [g.view(w()), g.view(xc), dt, w(), B, C, copyMain]);
    g.view(w(), undefined, 'f32', [g.op('f32', [d.dState * d.dInner, 0], [g.view(w()), copyExtra])]);
    g.view(w(), undefined, 'f32', [g.view(scan)]); // cpy of the new states into the cache
    let y = g.view(scan);
    const xd = g.op('f32', [d.dInner, n / s, s], [xc, w()], true); // x · D
    y = g.op('f32', [d.dInner, n / s, s], [y, xd], true);
    const zc = g.op('f32', [d.dInner, n / s, s], [z]); // cont(z)
    const act = g.op('f32', [d.dInner, n / s, s], [zc, y]); // swiglu_split
    cur = g.view(g.op('f32', [d.embd, n / s, s], [w(), act]), [d.embd, n]);
    let rows = n;
    let residual = inpL;
    if (last) {
      rows = d.outputs;
      cur = g.op('f32', [d.embd, rows], [cur, outIds]);
      residual = g.op('f32', [d.embd, rows], [inpL, outIds]);
    }
    inpL = g.op('f32', [d.embd, rows], [cur, residual], true);
  }
  const normed = rmsNorm(g, inpL, [d.embd, d.outputs]);
  const logits = g.op('f32', [d.vocab, d.outputs], [w(), normed]);
  g.markOutput(logits);
  return g;
}
