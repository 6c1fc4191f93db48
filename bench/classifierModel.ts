/**
 * A synthetic image classifier for the measured-sensitivity benchmark: a MobileNet-like stack of 40 weighted
 * layers (3×3 stem, depthwise 3×3 + pointwise 1×1 pairs, a final Gemm) on a 1×3×224×224 input, ~145k float32
 * weights (~580 KB). Weights are seeded random with He scaling so activations stay in range through ReLU.
 */
import { attr, encodeModel, graph, model, node, rawTensor, value } from '../test/fixtures/buildOnnx';
import { seededRandom } from '../src/core';

export interface ClassifierSpec { readonly pointwisePairs: number; readonly classes: number; readonly seed: number }

/** Encodes the classifier; returns the model bytes and its number of weighted layers. */
export function buildClassifier(spec: ClassifierSpec = { pointwisePairs: 19, classes: 100, seed: 7 }): { bytes: Uint8Array; weightedLayers: number } {
  const rand = seededRandom(spec.seed);
  const gauss = (): number => {
    const u = Math.max(rand(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
  const inits: ReturnType<typeof rawTensor>[] = [];
  const nodes: ReturnType<typeof node>[] = [];
  const weight = (name: string, dims: number[], fanIn: number): string => {
    const n = dims.reduce((p, d) => p * d, 1);
    const w = new Float32Array(n);
    const s = Math.sqrt(2 / fanIn);
    for (let i = 0; i < n; i++) w[i] = gauss() * s;
    inits.push(rawTensor(name, dims, { raw: new Uint8Array(w.buffer) }));
    return name;
  };
  const bias = (name: string, c: number): string => {
    inits.push(rawTensor(name, [c], { raw: new Uint8Array(new Float32Array(c).fill(0.01).buffer) }));
    return name;
  };
  let x = 'image';
  let c = 16;
  let layers = 0;
  const conv = (out: number, k: number, stride: number, group: number, inC: number): void => {
    const id = layers++;
    const w = weight(`conv${id}.weight`, [out, inC / group, k, k], (inC / group) * k * k);
    const b = bias(`conv${id}.bias`, out);
    nodes.push(node('Conv', [x, w, b], [`c${id}`], { name: `conv${id}`, attributes: [attr('kernel_shape', 'ints', [k, k]), attr('strides', 'ints', [stride, stride]), attr('pads', 'ints', [k >> 1, k >> 1, k >> 1, k >> 1]), attr('group', 'i', group)] }));
    nodes.push(node('Relu', [`c${id}`], [`r${id}`], { name: `relu${id}` }));
    x = `r${id}`;
  };
  conv(16, 3, 2, 1, 3);
  const widths = [32, 64, 64, 128, 128, 128, 128, 128, 128, 128, 128, 192, 192, 192, 192, 192, 192, 192, 192];
  const strides = new Set([1, 3, 5, 11]);
  for (let i = 0; i < spec.pointwisePairs; i++) {
    conv(c, 3, strides.has(i) ? 2 : 1, c, c);
    const out = widths[Math.min(i, widths.length - 1)]!;
    conv(out, 1, 1, 1, c);
    c = out;
  }
  nodes.push(node('GlobalAveragePool', [x], ['pooled'], { name: 'pool' }));
  nodes.push(node('Flatten', ['pooled'], ['flat'], { name: 'flatten' }));
  const fc = weight('fc.weight', [spec.classes, c], c);
  const fcb = bias('fc.bias', spec.classes);
  nodes.push(node('Gemm', ['flat', fc, fcb], ['logits'], { name: 'fc', attributes: [attr('transB', 'i', 1)] }));
  layers++;
  const g = graph(nodes, { name: 'classifier', initializers: inits, inputs: [value('image', 'FLOAT', [1, 3, 224, 224])], outputs: [value('logits', 'FLOAT', [1, spec.classes])] });
  return { bytes: encodeModel(model(g, { opset: 13 })), weightedLayers: layers };
}
