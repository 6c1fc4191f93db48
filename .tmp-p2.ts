import { decodeElements, WeightStatsAccumulator, ErrorAccumulator, fakeQuantize, getNumberFormat } from './src/core';
const n = 4096 * 4096;
const bytes = new Uint8Array(n * 2); for (let i = 0; i < n * 2; i += 2) { bytes[i] = i & 0xff; bytes[i + 1] = 0x20 + ((i >> 8) & 0x1f); }
const time = (name: string, fn: () => void) => { fn(); const t = performance.now(); fn(); console.log(name, ((performance.now() - t) / n * 1e6).toFixed(2), 'ns/elem'); };
let v = decodeElements('float16', bytes, n);
time('decode', () => { v = decodeElements('float16', bytes, n); });
time('stats', () => { new WeightStatsAccumulator().add(v); });
const q = fakeQuantize(v, [4096, 4096], getNumberFormat('int8')!);
time('err', () => { new ErrorAccumulator().add(v, q); });
time('int8', () => { fakeQuantize(v, [4096, 4096], getNumberFormat('int8')!); });
time('fp16', () => { fakeQuantize(v, [4096, 4096], getNumberFormat('fp16')!); });
time('bf16', () => { fakeQuantize(v, [4096, 4096], getNumberFormat('bf16')!); });
time('fp8', () => { fakeQuantize(v, [4096, 4096], getNumberFormat('fp8_e4m3')!); });
time('alloc', () => { new Float32Array(n); });
