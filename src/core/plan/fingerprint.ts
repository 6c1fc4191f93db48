/**
 * Model fingerprints for plan files: a content hash that detects a stale plan without reading a 100 GB model.
 *
 * Definition (`pl1:` prefix, stable): SHA-256 over
 *   `precision-lens fingerprint v1\n` + `size=<main file bytes>\n` + `files=<path>:<bytes>,...\n` (every file of the
 *   model, sorted by path, external data and shards included) + the first min(size, 1 MiB) bytes of the main file
 *   + the last min(size − head, 1 MiB) bytes of the main file.
 * Files up to 2 MiB are therefore hashed completely. For larger files the head holds the header of every
 * supported format (safetensors JSON, GGUF KVs, ONNX graph before the big initializers for most exports) and
 * the tail holds the last tensor bytes; any re-export, re-quantization or shard change alters the sizes, the
 * header or the tail. Reading 2 MiB takes milliseconds where hashing 100 GB takes minutes.
 */
import type { ByteSource } from '../io/byteSource';
import type { ModelFile } from '../model/types';

/** Bytes hashed at each end of the main file. */
export const FINGERPRINT_EDGE_BYTES = 1024 * 1024;

//#region SHA-256 (FIPS 180-4), incremental
// Constants and state as Int32Array: the same bits as unsigned words, but they load as small integers (a Uint32Array
// word ≥ 2^31 is a float64 in V8), so the rounds run on 32-bit integers.
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** Incremental SHA-256. Pure TypeScript because core may not use `node:crypto` (and WebCrypto is async-only and absent from core's lib). */
export class Sha256 {
  private readonly h = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  private readonly block = new Uint8Array(64);
  private readonly w = new Int32Array(64);
  private used = 0;
  private total = 0;

  /** Adds bytes (or a string, UTF-8 encoded). */
  update(data: Uint8Array | string): this {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    let i = 0;
    this.total += bytes.length;
    // A partial block first, then whole blocks straight from `bytes` (no copy), then the rest into the block.
    if (this.used > 0) {
      const n = Math.min(64 - this.used, bytes.length);
      this.block.set(bytes.subarray(0, n), this.used);
      this.used += n;
      i = n;
      if (this.used < 64) return this;
      compressBlocks(this.h, this.w, this.block, 0, 1);
      this.used = 0;
    }
    const whole = (bytes.length - i) >>> 6;
    if (whole > 0) compressBlocks(this.h, this.w, bytes, i, whole);
    i += whole * 64;
    if (i < bytes.length) {
      this.block.set(bytes.subarray(i), 0);
      this.used = bytes.length - i;
    }
    return this;
  }

  /** Finishes and returns the lowercase hex digest. */
  hex(): string {
    const bitsHigh = Math.floor((this.total * 8) / 2 ** 32);
    const bitsLow = (this.total * 8) >>> 0;
    this.block[this.used++] = 0x80;
    if (this.used > 56) {
      this.block.fill(0, this.used);
      compressBlocks(this.h, this.w, this.block, 0, 1);
      this.used = 0;
    }
    this.block.fill(0, this.used, 56);
    const dv = new DataView(this.block.buffer);
    dv.setUint32(56, bitsHigh);
    dv.setUint32(60, bitsLow);
    compressBlocks(this.h, this.w, this.block, 0, 1);
    return Array.from(this.h, (v) => (v >>> 0).toString(16).padStart(8, '0')).join('');
  }
}

/**
 * The SHA-256 compression of `count` 64-byte blocks of `bytes` from `offset` into the state `H` (`w`: the schedule),
 * a call per block: a call is optimized after a few blocks, where the rounds inside one long loop ran in the
 * interpreter until on-stack replacement, ~30 ms of a cold 2 MiB fingerprint (~17 ms now, ~12 ms warm).
 */
function compressBlocks(H: Int32Array, w: Int32Array, bytes: Uint8Array, offset: number, count: number): void {
  for (let blk = 0, o = offset; blk < count; blk++, o += 64) compressBlock(H, w, bytes, o);
}

/** The compression of the block at `o`. */
function compressBlock(H: Int32Array, w: Int32Array, bytes: Uint8Array, o: number): void {
  for (let t = 0; t < 16; t++) {
    const j = o + 4 * t;
    w[t] = (bytes[j]! << 24) | (bytes[j + 1]! << 16) | (bytes[j + 2]! << 8) | bytes[j + 3]!;
  }
  for (let t = 16; t < 64; t++) {
    const x = w[t - 15]!;
    const y = w[t - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[t] = (w[t - 16]! + s0 + w[t - 7]! + s1) | 0;
  }
  let a = H[0]!, b = H[1]!, c = H[2]!, d = H[3]!, e = H[4]!, f = H[5]!, g = H[6]!, h = H[7]!;
  for (let t = 0; t < 64; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + S1 + ch + K[t]! + w[t]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  H[0] = (H[0]! + a) | 0;
  H[1] = (H[1]! + b) | 0;
  H[2] = (H[2]! + c) | 0;
  H[3] = (H[3]! + d) | 0;
  H[4] = (H[4]! + e) | 0;
  H[5] = (H[5]! + f) | 0;
  H[6] = (H[6]! + g) | 0;
  H[7] = (H[7]! + h) | 0;
}

/** SHA-256 of bytes or a UTF-8 string, lowercase hex. */
export function sha256Hex(data: Uint8Array | string): string {
  return new Sha256().update(data).hex();
}
//#endregion

/**
 * The fingerprint of a model (see the file comment for the exact definition). `files` are the model's files
 * (`Model.files`); pass undefined for a lone file. Reads at most 2 MiB.
 */
export async function modelFingerprint(source: ByteSource, files?: readonly ModelFile[]): Promise<string> {
  const size = source.size;
  const headLength = Math.min(size, FINGERPRINT_EDGE_BYTES);
  const tailLength = Math.min(size - headLength, FINGERPRINT_EDGE_BYTES);
  const list = [...(files ?? [])].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map((f) => `${f.path}:${f.byteLength}`);
  const hash = new Sha256().update(`precision-lens fingerprint v1\nsize=${size}\nfiles=${list.join(',')}\n`);
  if (headLength > 0) hash.update(await source.read(0, headLength));
  if (tailLength > 0) hash.update(await source.read(size - tailLength, tailLength));
  return `pl1:${hash.hex()}`;
}
