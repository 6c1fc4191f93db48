/**
 * Before/after check for kernel changes (issue 13): runs `sensitivity --json` (and `plan --json`) of two CLI
 * bundles on every model of ../shared/models plus generated FP16 and BF16 safetensors large enough for the one-pass code
 * kernels (chunks ≥ HISTOGRAM_MIN_ELEMENTS), and reports the largest |Δ SQNR dB|, the largest relative Δ of the
 * static score (harm), and whether any format's layer order by harm, or any plan's chosen formats, changed.
 * Usage: node --import tsx bench/compareSensitivity.ts <before/cli.js> <after/cli.js> [--formats a,b,…] [--max-db 0.01]
 * Exit 1 when an order or a plan changed or |Δ dB| exceeds --max-db (default 0.01: a tenth of the shown digit).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { floatToBf16Bits, floatToHalfBits, seededRandom } from '../src/core';
import { buildSafetensors } from '../test/fixtures/buildSafetensors';

const [before, after] = process.argv.slice(2, 4);
if (!before || !after) throw new Error('usage: compareSensitivity.ts <before/cli.js> <after/cli.js> [--formats ids] [--max-db x]');
const opt = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const formatSets = (opt('--formats') ?? 'default').split(';');
const maxDb = Number(opt('--max-db') ?? 0.01);

function models(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) out.push(...models(p));
    else if (/\.(onnx|safetensors|gguf|tflite)$/.test(e)) out.push(p);
  }
  return out.sort();
}

/** FP16 or BF16 layers of assorted shapes and distributions (Gaussian, heavy outliers, uniform, tiny and huge scales). */
function writeSynthetic(file: string, dtype: 'F16' | 'BF16'): void {
  const enc = dtype === 'F16' ? floatToHalfBits : floatToBf16Bits;
  const r = seededRandom(77);
  const specs: { name: string; dtype: string; shape: number[]; data: Uint16Array }[] = [];
  for (let i = 0; i < 24; i++) {
    const rows = 256 + ((i * 37) % 300), cols = [1024, 1536, 2048, 1000, 4096, 1100][i % 6]!;
    const sigma = [0.02, 0.005, 0.3, 2e-4, 1.5, 0.04][i % 6]!;
    const data = new Uint16Array(rows * cols);
    for (let k = 0; k < data.length; k++) {
      const g = Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());
      const v = i % 4 === 1 ? (r() - 0.5) * sigma : g * sigma * (r() < [0, 1e-4, 1e-3, 1e-2][i % 4]! ? 30 : 1);
      data[k] = enc(v);
    }
    specs.push({ name: `model.layers.${i}.${['self_attn.q_proj', 'self_attn.o_proj', 'mlp.up_proj', 'mlp.down_proj'][i % 4]}.weight`, dtype, shape: [rows, cols], data });
  }
  const built = buildSafetensors(specs.map(({ name, dtype, shape }) => ({ name, dtype, shape })), { omitData: true });
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, built.bytes);
    for (const s of specs) writeSync(fd, new Uint8Array(s.data.buffer));
  } finally {
    closeSync(fd);
  }
}

type Report = { layers: { layer: string; formats: Record<string, { sqnrDb: number; staticScore: number; maxAbsError: number }> }[] };
function run(cli: string, args: string[]): unknown {
  const r = spawnSync(process.execPath, [cli, ...args, '--json'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) return { error: `exit ${r.status}: ${r.stderr.trim().split('\n').pop()}` };
  return JSON.parse(r.stdout);
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-compare-'));
let worstDb = 0, worstScore = 0, worstMax = 0, orderChanges = 0, planChanges = 0, compared = 0;
try {
  const synthetic = path.join(dir, 'synthetic-fp16.safetensors');
  writeSynthetic(synthetic, 'F16');
  const syntheticBf16 = path.join(dir, 'synthetic-bf16.safetensors');
  writeSynthetic(syntheticBf16, 'BF16');
  const files = [...models(path.resolve(__dirname, '../../shared/models')), synthetic, syntheticBf16, ...process.argv.slice(4).filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'))];
  for (const file of files) {
    for (const set of formatSets) {
      const args = ['sensitivity', file, ...(set === 'default' ? [] : ['--formats', set])];
      const a = run(before, args) as Report & { error?: string }, b = run(after, args) as Report & { error?: string };
      if (a.error || b.error) {
        if (a.error !== b.error) { console.log(`${path.basename(file)} [${set}]: before ${a.error ?? 'ok'}, after ${b.error ?? 'ok'}`); orderChanges++; }
        continue;
      }
      let fileDb = 0;
      const ids = new Set(a.layers.flatMap((l) => Object.keys(l.formats)));
      for (const la of a.layers) {
        const lb = b.layers.find((x) => x.layer === la.layer)!;
        for (const [f, fa] of Object.entries(la.formats)) {
          const fb = lb.formats[f]!;
          const d = Math.abs(fa.sqnrDb - fb.sqnrDb);
          if (!(d <= fileDb)) fileDb = Number.isNaN(d) ? (fa.sqnrDb === fb.sqnrDb ? fileDb : Infinity) : d;
          const rs = fa.staticScore === fb.staticScore ? 0 : Math.abs(fa.staticScore - fb.staticScore) / Math.max(Math.abs(fa.staticScore), Math.abs(fb.staticScore));
          const rm = fa.maxAbsError === fb.maxAbsError ? 0 : Math.abs(fa.maxAbsError - fb.maxAbsError) / Math.max(fa.maxAbsError, fb.maxAbsError);
          worstScore = Math.max(worstScore, rs);
          worstMax = Math.max(worstMax, rm);
          compared++;
        }
      }
      for (const f of ids) {
        const order = (r: Report): string => r.layers.filter((l) => l.formats[f]).map((l) => [l.layer, l.formats[f]!.staticScore] as const).sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).map((x) => x[0]).join('\n');
        if (order(a) !== order(b)) { console.log(`${path.basename(file)} [${set}] ${f}: layer order by harm changed`); orderChanges++; }
      }
      worstDb = Math.max(worstDb, fileDb);
      console.log(`${path.basename(file).padEnd(48)} [${set}] ${a.layers.length} layers, max |Δ dB| ${fileDb.toExponential(2)}`);
    }
    // Plans: the chosen format per layer must not change.
    const planArgs = ['plan', file, '--target', 'h100', '--avg-bits', '4.5', '--no-verify', '--dry-run'];
    const pa = run(before, planArgs) as { error?: string; plan?: { layers: { layer: string; format: string }[] } };
    const pb = run(after, planArgs) as typeof pa;
    const pick = (p: typeof pa): string => p.error ?? JSON.stringify((p.plan?.layers ?? []).map((l) => [l.layer, l.format]));
    if (pick(pa) !== pick(pb)) { console.log(`${path.basename(file)}: plan changed`); planChanges++; }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`\n${compared} layer×format figures: max |Δ SQNR dB| ${worstDb.toExponential(2)}, max relative Δ harm ${worstScore.toExponential(2)}, max relative Δ max|d| ${worstMax.toExponential(2)}; layer orders changed: ${orderChanges}; plans changed: ${planChanges}`);
if (orderChanges || planChanges || !(worstDb <= maxDb)) {
  console.error('compareSensitivity: results changed beyond the tolerance.');
  process.exitCode = 1;
}
