/**
 * A ggml compute graph reduced to what its memory needs: tensor sizes, sources, views, in-place rules, and the
 * allocator that places them. This reproduces `ggml_gallocr_reserve` (ggml/src/ggml-alloc.c, ggml-org/llama.cpp):
 *
 * - graph inputs (`GGML_TENSOR_FLAG_INPUT`: token ids, positions, the KQ mask, cache row indices) are allocated
 *   first, in the order of their first use;
 * - then every node in execution order: a view takes no memory (its bytes belong to its view source); an op that
 *   ggml may run in place (`ggml_op_can_inplace`: ADD, MUL, SCALE, UNARY, ROPE, RMS_NORM, SOFT_MAX …) reuses a
 *   parent of the same layout that it placed itself and whose only remaining consumer it is; anything else
 *   takes the best-fitting free block, or grows the buffer at its end;
 * - after each node, parents with no consumers and no views left are freed (graph outputs never are), and
 *   adjacent free blocks merge.
 *
 * The buffer size is the largest end offset ever used. Tensors already holding data (weights, the KV cache) are
 * external: they are never allocated here and never freed. Sizes are aligned to the buffer type's alignment
 * (32 B on CPU: TENSOR_ALIGNMENT).
 */

/** One tensor of the graph. */
interface GraphTensor {
  readonly bytes: number;
  /** Type + shape + strides identity: in-place reuse needs the same layout (`ggml_are_same_layout`). */
  readonly layout: string;
  readonly srcs: readonly number[];
  /** Index of the tensor whose bytes this view shares. */
  readonly viewOf: number | undefined;
  readonly inplace: boolean;
  readonly input: boolean;
  readonly external: boolean;
  output: boolean;
}

/** Elements → layout key of a contiguous tensor. */
function contiguous(type: string, ne: readonly number[]): string {
  return `${type}[${ne.join(',')}]`;
}

let viewSerial = 0;


/**
 * Builds a graph in execution order. Shapes are ggml order (ne[0], the contiguous row, first); `type` is 'f32',
 * 'f16', 'i32', 'i64' (4, 2, 4, 8 bytes per element) for the tensors the allocator places.
 */
export class GgmlGraph {
  private readonly tensors: GraphTensor[] = [];
  /** Execution order of nodes (ops and views); inputs and externals are leafs. */
  private readonly nodes: number[] = [];

  private add(t: Omit<GraphTensor, 'output'>, isNode: boolean): number {
    this.tensors.push({ ...t, output: false });
    const id = this.tensors.length - 1;
    if (isNode) this.nodes.push(id);
    return id;
  }

  /** A tensor that already has memory elsewhere (a weight, a KV-cache tensor). */
  external(): number {
    return this.add({ bytes: 0, layout: `external${this.tensors.length}`, srcs: [], viewOf: undefined, inplace: false, input: true, external: true }, false);
  }

  /** A graph input set by the runtime before each evaluation. */
  input(type: string, ne: readonly number[]): number {
    return this.add({ bytes: tensorBytes(type, ne), layout: contiguous(type, ne), srcs: [], viewOf: undefined, inplace: false, input: true, external: false }, false);
  }

  /** An op producing a new contiguous tensor. `inplace`: ggml may run it in a parent's memory. */
  op(type: string, ne: readonly number[], srcs: readonly number[], inplace = false): number {
    return this.add({ bytes: tensorBytes(type, ne), layout: contiguous(type, ne), srcs, viewOf: undefined, inplace, input: false, external: false }, true);
  }

  /**
   * A view of `of` (RESHAPE, VIEW, PERMUTE, TRANSPOSE, SET_ROWS' result): no memory of its own. `ne` given =
   * a contiguous reshape with that shape; undefined = a strided view (never the same layout as anything).
   */
  view(of: number, ne?: readonly number[], type = 'f32', extraSrcs: readonly number[] = []): number {
    const root = this.tensors[of]!.viewOf ?? of;
    return this.add({ bytes: 0, layout: ne ? contiguous(type, ne) : `strided${viewSerial++}`, srcs: [of, ...extraSrcs], viewOf: root, inplace: false, input: false, external: false }, true);
  }

  /** Marks a graph output (never freed, never reused in place): logits, embeddings. */
  markOutput(id: number): void {
    this.tensors[id]!.output = true;
  }

  /** Peak bytes `ggml_gallocr_reserve` needs for this graph at `alignment`. */
  reserveBytes(alignment = 32): number {
    const n = this.tensors.length;
    const children = new Int32Array(n);
    const views = new Int32Array(n);
    const allocated = new Uint8Array(n);
    const offsetOf = new Float64Array(n);
    const heap = new BestFitHeap(alignment);
    const own = (i: number): boolean => allocated[i] === 1;
    const allocate = (i: number): void => {
      const t = this.tensors[i]!;
      if (t.external || t.viewOf !== undefined || own(i)) return;
      if (t.inplace) {
        // Only a parent this allocator placed itself qualifies (`ggml_gallocr_is_own`). Views are never placed, so
        // ggml's "reuse through a view" branch cannot fire: an op on a reshape of a fresh tensor gets new memory.
        for (const p of t.srcs) {
          const pt = this.tensors[p]!;
          if (!own(p) || pt.output) continue;
          if (pt.layout !== t.layout || children[p] !== 1 || views[p] !== 0) continue;
          offsetOf[i] = offsetOf[p]!;
          allocated[p] = 0;
          allocated[i] = 1;
          return;
        }
      }
      offsetOf[i] = heap.alloc(t.bytes);
      allocated[i] = 1;
    };
    const free = (i: number): void => {
      const t = this.tensors[i]!;
      if (t.output) return;
      heap.free(offsetOf[i]!, t.bytes);
      allocated[i] = 0;
    };
    // Count consumers and views; allocate graph inputs in order of first use.
    for (const id of this.nodes) {
      const t = this.tensors[id]!;
      if (t.viewOf !== undefined) views[t.viewOf]! += 1;
      for (const s of t.srcs) {
        children[s]! += 1;
        if (this.tensors[s]!.input) allocate(s);
      }
    }
    for (const id of this.nodes) {
      const t = this.tensors[id]!;
      for (const s of t.srcs) allocate(s);
      allocate(id);
      for (const p of t.srcs) {
        children[p]! -= 1;
        if (children[p] !== 0 || views[p] !== 0) continue;
        const pt = this.tensors[p]!;
        if (pt.viewOf !== undefined) {
          const root = pt.viewOf;
          views[root]! -= 1;
          if (views[root] === 0 && children[root] === 0 && own(root)) free(root);
        } else if (own(p)) {
          free(p);
        }
      }
    }
    return heap.maxBytes;
  }
}

const ELEMENT_BYTES: Readonly<Record<string, number>> = { f32: 4, f16: 2, i32: 4, i64: 8 };

function tensorBytes(type: string, ne: readonly number[]): number {
  return ne.reduce((a, b) => a * b, 1) * (ELEMENT_BYTES[type] ?? 4);
}

/** `ggml_dyn_tallocr`: best fit among free blocks except the last, else the last (unbounded) block. */
class BestFitHeap {
  private readonly blocks: { offset: number; size: number }[] = [{ offset: 0, size: Number.MAX_SAFE_INTEGER }];
  maxBytes = 0;
  constructor(private readonly alignment: number) {}

  private align(size: number): number {
    return Math.ceil(size / this.alignment) * this.alignment;
  }

  alloc(bytes: number): number {
    const size = this.align(bytes);
    let best = -1;
    let bestSize = Number.MAX_SAFE_INTEGER;
    for (let i = 0; i < this.blocks.length - 1; i++) {
      const b = this.blocks[i]!;
      if (b.size >= size && b.size <= bestSize) {
        best = i;
        bestSize = b.size;
      }
    }
    if (best === -1) best = this.blocks.length - 1;
    const block = this.blocks[best]!;
    const offset = block.offset;
    block.offset += size;
    block.size -= size;
    if (block.size === 0) this.blocks.splice(best, 1);
    this.maxBytes = Math.max(this.maxBytes, offset + size);
    return offset;
  }

  free(offset: number, bytes: number): void {
    const size = this.align(bytes);
    for (let i = 0; i < this.blocks.length; i++) {
      const b = this.blocks[i]!;
      if (b.offset + b.size === offset) {
        b.size += size;
        const next = this.blocks[i + 1];
        if (next && b.offset + b.size === next.offset) {
          b.size += next.size;
          this.blocks.splice(i + 1, 1);
        }
        return;
      }
      if (offset + size === b.offset) {
        b.offset = offset;
        b.size += size;
        const prev = this.blocks[i - 1];
        if (prev && prev.offset + prev.size === b.offset) {
          prev.size += b.size;
          this.blocks.splice(i, 1);
        }
        return;
      }
    }
    let at = 0;
    while (at < this.blocks.length && this.blocks[at]!.offset < offset) at++;
    this.blocks.splice(at, 0, { offset, size });
  }
}
