/**
 * A hermetic synthetic safetensors model with ~20,000 weight tensors (a 667-block MoE-style decoder of tiny
 * 8×8 FP16 matrices) for the virtual-table performance check, plus one tensor whose name is an XSS probe.
 * Deterministic (seeded), written to a temporary folder; the caller deletes it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The hostile tensor name every renderer must show as text. */
export const XSS_NAME = '<img src=x onerror=alert(1)>';

function f16(v: number): number {
  // Round-to-nearest FP16 bits for small normal values (enough for test data in [-8, 8]).
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  const mant = u & 0x7fffff;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | Math.round(mant / 0x2000);
}

/** Builds the model; returns the file path and the number of tensors. */
export function writeManyLayersModel(blocks = 667, expertsPerBlock = 8): { file: string; dir: string; tensorCount: number } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-many-layers-'));
  const names: string[] = ['model.embed_tokens.weight'];
  for (let b = 0; b < blocks; b++) {
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) names.push(`model.layers.${b}.self_attn.${p}.weight`);
    names.push(`model.layers.${b}.input_layernorm.weight`, `model.layers.${b}.post_attention_layernorm.weight`);
    for (let e = 0; e < expertsPerBlock; e++) for (const p of ['gate_proj', 'up_proj', 'down_proj']) names.push(`model.layers.${b}.mlp.experts.${e}.${p}.weight`);
  }
  names.push('lm_head.weight', XSS_NAME);
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const chunks: Buffer[] = [];
  let offset = 0;
  names.forEach((name, i) => {
    const isNorm = name.includes('layernorm');
    const shape = isNorm ? [8] : [8, 8];
    const n = shape.reduce((a, b) => a * b, 1);
    const buf = Buffer.alloc(n * 2);
    for (let k = 0; k < n; k++) {
      // Every 7th tensor gets an outlier so the sensitivity heat varies.
      const v = k === 0 && i % 7 === 0 ? 7.5 : rand() * 0.05 * (1 + (i % 5));
      buf.writeUInt16LE(f16(v), k * 2);
    }
    header[name] = { dtype: 'F16', shape, data_offsets: [offset, offset + buf.length] };
    offset += buf.length;
    chunks.push(buf);
  });
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const file = path.join(dir, 'many-layers.safetensors');
  writeFileSync(file, Buffer.concat([len, json, ...chunks]));
  return { file, dir, tensorCount: names.length };
}
