/**
 * Graph-aware facts for the static sensitivity score (see sensitivity.ts, `scoreLayer`). Everything here is
 * static: it reads the IR (layer shapes, graph edges), never weights or activations, and is O(layers + nodes).
 *
 * - {@link isOffsetVector}: a layer whose lowered weight is a vector (a bias, an LSTM bias slice, a constant
 *   added to an activation) adds its error to a signal that is usually much larger than the offset itself, so
 *   its relative weight error reaches the output strongly attenuated. Measured on the ONNX corpus
 *   (`npm run validate:sensitivity`): MNIST's bias adds −5 to −21 dB, Silero VAD's LSTM bias slices −25 to −70 dB
 *   below their weight SQNR, while the matrices next to them pass their error on at −5 to +30 dB.
 */
import type { Layer } from '../model/types';

/** Ops whose weight multiplies the signal: a vector weight there is a real map or a scale, not an offset. */
const MULTIPLICATIVE_OPS: ReadonlySet<string> = new Set([
  'MatMul', 'Gemm', 'Conv', 'ConvTranspose', 'ConvInteger', 'MatMulInteger', 'QLinearConv', 'QLinearMatMul', 'FusedMatMul',
  'Mul', 'Div', 'Gather', 'Einsum', 'LSTM', 'GRU', 'RNN', 'PRelu', 'tensor',
]);

/**
 * True when the layer adds a vector to a signal: its main weight has at most one dimension larger than 1 and
 * its op does not multiply the signal by it (Add/Sub of a bias, a Slice of an LSTM bias, …).
 */
export function isOffsetVector(layer: Pick<Layer, 'shape' | 'op'>): boolean {
  const shape = layer.shape;
  if (!shape || shape.length === 0 || MULTIPLICATIVE_OPS.has(layer.op)) return false;
  return shape.filter((d) => d > 1).length <= 1;
}
