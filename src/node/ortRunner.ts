/**
 * Thin wrapper over onnxruntime-node (CPU): create a session from bytes or a path, run calibration samples,
 * and return every float output as float32. Loaded lazily so the rest of the CLI works without the native addon.
 */
import type * as Ort from 'onnxruntime-node';
import { halfToFloatTable, own, setOwn } from '../core';
import type { CalibrationSample, InputTensor } from './calibration';
import { CalibrationError, RuntimeError } from './errors';

/** One output of one run, as float32. */
export interface OutputTensor {
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

/** All float outputs of one run, by output name. */
export type RunOutputs = Readonly<Record<string, OutputTensor>>;

let ort: typeof Ort | undefined;
/** The onnxruntime-node module, loaded on first use. Throws a readable error when it is not installed. */
export function loadOrt(): typeof Ort {
  if (!ort) {
    try {
      ort = require('onnxruntime-node') as typeof Ort;
    } catch (e) {
      throw new RuntimeError('runtime-unavailable', `onnxruntime-node is not available (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); measured sensitivity needs it.`);
    }
  }
  return ort;
}

/** The runtime measurements come from, as plan files record it: 'onnxruntime-node 1.30.0 (CPU)'. */
export function ortRuntimeName(): string {
  const versions = (loadOrt().env as { readonly versions?: { readonly node?: string } }).versions;
  return `onnxruntime-node ${versions?.node ?? '(version unknown)'} (CPU)`;
}

/** Session options: CPU, quiet, full graph optimizations. */
function sessionOptions(): Ort.InferenceSession.SessionOptions {
  return { executionProviders: ['cpu'], logSeverityLevel: 3, graphOptimizationLevel: 'all', intraOpNumThreads: 1 };
}

/** Creates a CPU session from model bytes (embedded weights) or a path (external data beside it). */
export async function createSession(model: Uint8Array | string): Promise<Ort.InferenceSession> {
  const o = loadOrt();
  return typeof model === 'string' ? o.InferenceSession.create(model, sessionOptions()) : o.InferenceSession.create(model, sessionOptions());
}

const ORT_TYPE: Readonly<Record<string, string>> = {
  float32: 'float32', float64: 'float64', float16: 'float16', bfloat16: 'bfloat16', int64: 'int64', uint64: 'uint64', int32: 'int32',
  uint32: 'uint32', int16: 'int16', uint16: 'uint16', int8: 'int8', uint8: 'uint8', bool: 'bool',
};

function toOrtTensor(t: InputTensor): Ort.Tensor {
  const o = loadOrt();
  const type = ORT_TYPE[t.dtype];
  if (!type) throw new RuntimeError('runtime-failed', `input '${t.name}' has dtype ${t.dtype}, which onnxruntime-node cannot take`);
  return new o.Tensor(type as 'float32', t.data as Float32Array, t.dims as number[]);
}

function toFloat32(t: Ort.Tensor): Float32Array | undefined {
  const d = t.data as unknown;
  switch (t.type) {
    case 'float32': return d as Float32Array;
    case 'float64': return Float32Array.from(d as Float64Array);
    case 'float16': {
      const h = halfToFloatTable();
      const src = d instanceof Uint16Array ? d : new Uint16Array((d as ArrayBufferView).buffer, (d as ArrayBufferView).byteOffset, t.size);
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = h[src[i]!]!;
      return out;
    }
    case 'int8': case 'uint8': case 'int16': case 'uint16': case 'int32': case 'uint32':
      return Float32Array.from(d as Int32Array);
    case 'int64': case 'uint64':
      return Float32Array.from(d as BigInt64Array, (v) => Number(v));
    default: return undefined;
  }
}

/**
 * Runs every sample; returns numeric outputs per sample (non-numeric outputs are left out). `onProgress` is called
 * with 0 first and after each sample.
 */
export async function runSamples(session: Ort.InferenceSession, samples: readonly CalibrationSample[], onProgress?: (done: number, total: number) => void): Promise<RunOutputs[]> {
  const out: RunOutputs[] = [];
  onProgress?.(0, samples.length);
  for (const s of samples) {
    const feeds: Record<string, Ort.Tensor> = {};
    for (const name of session.inputNames) {
      const t = own(s, name);
      if (!t) throw new CalibrationError(`no calibration value for input '${name}'`);
      setOwn(feeds, name, toOrtTensor(t));
    }
    const res = await session.run(feeds);
    const o: Record<string, OutputTensor> = {};
    for (const name of session.outputNames) {
      const t = own(res, name);
      if (!t) continue;
      const data = toFloat32(t);
      if (data) setOwn(o, name, { dims: [...t.dims], data: data.slice() });
      t.dispose?.();
    }
    out.push(o);
    onProgress?.(out.length, samples.length);
  }
  return out;
}

/** Releases a session (best effort). */
export async function releaseSession(session: Ort.InferenceSession): Promise<void> {
  await session.release().catch(() => undefined);
}
