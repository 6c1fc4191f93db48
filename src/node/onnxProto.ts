/**
 * protobufjs message types for ONNX, built from the project's generated descriptor
 * (src/core/formats/onnx/gen/onnx.schema.json: onnx-ml.proto plus IR 9–13 additions — FLOAT8*, INT4/UINT4,
 * FLOAT4E2M1 …). The npm `onnx-proto` package stops at onnx 1.10 (IR 8): decoding an IR 10 model with it and
 * re-encoding would silently drop newer fields, so every full decode/encode in src/node goes through here.
 * Only for whole-model rewrites that hold the model in memory (apply, measured sensitivity); the reader in
 * src/core walks the wire format instead.
 */
import type * as protobuf from 'protobufjs';
import { ONNX_SCHEMA_DESCRIPTOR } from '../core';

/** The ONNX message types used by node-side rewriters. */
export interface OnnxTypes {
  readonly Model: protobuf.Type;
  readonly Tensor: protobuf.Type;
}

let cached: OnnxTypes | undefined;

/**
 * Lazily builds the types once per process. protobufjs itself is loaded here, on first use: evaluating its
 * modules cost every CLI command ~6 ms of start-up (`inspect`, `estimate` and `--version` never decode a whole model).
 */
export function onnxTypes(): OnnxTypes {
  if (!cached) {
    const root = (require('protobufjs') as typeof protobuf).Root.fromJSON(ONNX_SCHEMA_DESCRIPTOR as protobuf.INamespace);
    cached = { Model: root.lookupType('onnx.ModelProto'), Tensor: root.lookupType('onnx.TensorProto') };
  }
  return cached;
}

/** Decodes bytes into a plain mutable message object (longs as numbers, bytes as Uint8Array, defaults omitted). */
export function decodeMessage<T = Record<string, unknown>>(type: protobuf.Type, bytes: Uint8Array): T {
  return type.toObject(type.decode(bytes), { longs: Number, bytes: Uint8Array as unknown as typeof String, defaults: false, arrays: true }) as T;
}
