import { analyzeSensitivityChunk, floatToHalfBits } from './src/core';
const n = 4096 * 4096;
const h = new Uint16Array(n);
let s = 1; for (let i = 0; i < n; i++) { s = (Math.imul(s, 1103515245) + 12345) >>> 0; h[i] = floatToHalfBits(((s / 2 ** 32) - 0.5) * 0.05); }
const bytes = new Uint8Array(h.buffer);
for (const f of [[], ['fp16'], ['bf16'], ['fp8_e4m3'], ['int8'], ['int4'], ['int8_tensor']]) {
  for (let rep = 0; rep < 2; rep++) {
    const t = performance.now();
    analyzeSensitivityChunk({ id: 0, dtype: 'float16', encoding: 'raw', elementCount: n, bytes, shape: [4096, 4096], rowOffset: 0, quant: undefined, transpose: false, formats: f, wantColumnAbsMax: false });
    if (rep) console.log(f.join() || 'decode+stats', ((performance.now() - t) / n * 1e9 / 1e3).toFixed(2), 'ns/elem');
  }
}
