/**
 * The slice of the WebAssembly JS API the core's kernels use, and the decoding of their embedded modules (the
 * core's lib has no DOM or Node typings; each kernel module compiles its own bytes once per thread).
 */

/** The WebAssembly constructors the kernels call. */
export interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

/** This runtime's WebAssembly, or undefined where there is none (or it is disabled by policy). */
export function wasmApi(): WasmApi | undefined {
  return (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
}

/**
 * The bytes of a base64 text (a generated module). Node's native decoder when there is one (the loop below ran cold
 * in every new worker: ~5 ms of its start); the loop elsewhere (the webview).
 */
export function base64ToBytes(b64: string): Uint8Array {
  const native = (globalThis as unknown as { Buffer?: { from(text: string, encoding: 'base64'): Uint8Array } }).Buffer;
  if (native && typeof native.from === 'function') return native.from(b64, 'base64');
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const lookup = new Uint8Array(128);
  for (let i = 0; i < alphabet.length; i++) lookup[alphabet.charCodeAt(i)] = i;
  const clean = b64.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let o = 0;
  for (let i = 0; i < clean.length; i += 4) {
    const a = lookup[clean.charCodeAt(i)]!, b = lookup[clean.charCodeAt(i + 1)]!;
    const c = i + 2 < clean.length ? lookup[clean.charCodeAt(i + 2)]! : 0, d = i + 3 < clean.length ? lookup[clean.charCodeAt(i + 3)]! : 0;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = v >> 16;
    if (o < out.length) out[o++] = (v >> 8) & 0xff;
    if (o < out.length) out[o++] = v & 0xff;
  }
  return out;
}

/** The compiled module of a base64 text, or undefined without WebAssembly or when it does not compile (no SIMD). */
export function compileWasm(b64: string): object | undefined {
  const api = wasmApi();
  if (!api) return undefined;
  try {
    return new api.Module(base64ToBytes(b64));
  } catch {
    return undefined;
  }
}

/** The exports of a new instance of `module`, or undefined when it cannot be made (e.g. its memory). */
export function instantiateWasm(module: object, imports: object = {}): unknown {
  const api = wasmApi();
  if (!api) return undefined;
  try {
    return new api.Instance(module, imports).exports;
  } catch {
    return undefined;
  }
}
