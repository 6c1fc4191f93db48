/**
 * `npm run bench`: runs every `bench/*.bench.ts` in its own Node process (so each reports its own peak RSS),
 * one after another, and prints their reports. Benchmarks generate their large synthetic models in a
 * temporary folder and delete them afterwards. Pass names to run a subset: `npm run bench -- onnx gguf`.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';

const dir = __dirname;
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();
let failed = 0;
for (const f of files) {
  console.log(`\n=== ${f} ===`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', path.join(dir, f)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
if (failed) {
  console.error(`${failed} benchmark(s) failed.`);
  process.exitCode = 1;
}
