/**
 * A 10,002-layer safetensors model for planner benchmarks: 1,429 transformer blocks × 7 linear weights
 * (q/k/v/o/gate/up/down, F16, 64×128 or 128×64), seeded Gaussian values with per-tensor scale and a few outliers,
 * so that sensitivity differs by layer. ~160 MiB.
 */
import { writeFileSync } from 'node:fs';
import { buildSafetensors, type StTensorSpec } from '../test/fixtures/buildSafetensors';
import { seededRandom } from '../src/core';

/** Writes the model to `file`; returns its layer count. */
export function writeBigPlanModel(file: string, layers = 10_002): number {
  const roles = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'];
  const specs: StTensorSpec[] = [];
  for (let i = 0; specs.length < layers; i++) {
    const block = Math.floor(i / roles.length);
    const role = roles[i % roles.length]!;
    specs.push({ name: `model.layers.${block}.${role}.weight`, dtype: 'F16', shape: role === 'mlp.down_proj' ? [64, 128] : [128, 64] });
  }
  const built = buildSafetensors(specs, { omitData: true });
  const header = built.bytes;
  const dataBytes = built.totalByteLength - header.length;
  const data = new Uint16Array(dataBytes / 2);
  const r = seededRandom(23);
  const f16 = new Uint16Array(1);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const toF16 = (v: number): number => {
    f32[0] = v;
    const x = u32[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = ((x >>> 23) & 0xff) - 127 + 15;
    if (exp <= 0) return sign;
    if (exp >= 31) return sign | 0x7bff;
    return sign | (exp << 10) | ((x >>> 13) & 0x3ff);
  };
  let k = 0;
  for (let t = 0; t < specs.length; t++) {
    const scale = 0.01 + 0.05 * r();
    const outlierEvery = r() < 0.2 ? 97 : 0;
    for (let i = 0; i < 8192; i++) {
      const u = Math.max(r(), 1e-12);
      let v = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r()) * scale;
      if (outlierEvery && i % outlierEvery === 0) v *= 20;
      data[k++] = toF16(v);
    }
  }
  void f16;
  const out = new Uint8Array(built.totalByteLength);
  out.set(header);
  out.set(new Uint8Array(data.buffer), header.length);
  writeFileSync(file, out);
  return specs.length;
}
