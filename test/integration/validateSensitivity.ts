/**
 * `npm run validate:sensitivity`: for every ONNX model of ../shared/models that onnxruntime-node can run,
 * measures the output degradation of each layer × format and prints the Spearman rank correlation between the
 * static score and the measured degradation (−measuredOutputSqnrDb), per format. Aim: ρ ≥ 0.8.
 * Models it cannot run are listed with the reason.
 *
 * Exit status 1 when the goal is missed: a model cannot be measured, or a format's mean ρ over the models falls
 * below its floor in MIN_MEAN_RHO. The floors are today's means less a margin (measured 2026-12-03 on the 13 corpus
 * models: fp16 0.45, bf16 0.72, fp8_e4m3 0.64, int8 0.70, int4 0.63), not the 0.8 aim: they catch a score
 * regression; reaching 0.8 is open work (FP16 is weakest: most layers lose almost nothing, so its ranking is noise). Uses a private cache folder so numbers are fresh
 * unless `--cached` is given. `--json FILE` also writes the per-layer numbers.
 * `--rescore FILE` (FILE from `--json`) recomputes only the static scores with the current `scoreLayer` from the
 * dumped weight errors and prints the same table in seconds (new ρ, then the dumped score's ρ in parentheses):
 * the loop for tuning the score without re-measuring.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { layerContexts, openModel, scoreLayer, spearman, type LayerFormatSensitivity, type SensitivityReport } from '../../src/core';
import { openModelFile } from '../../src/node/fileByteSource';
import { measureSensitivity } from '../../src/node/measure';
import { SHARED_MODELS } from './sharedModels';

const MODELS = path.join(SHARED_MODELS, 'onnx');
const FORMATS = ['fp16', 'bf16', 'fp8_e4m3', 'int8', 'int4'];
/** Floors for the mean Spearman ρ per format over the measured models (see the header for today's means). */
const MIN_MEAN_RHO: Readonly<Record<string, number>> = { fp16: 0.35, bf16: 0.6, 'fp8_e4m3': 0.5, int8: 0.6, int4: 0.5 };

async function listModels(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listModels(p)));
    else if (e.name.endsWith('.onnx')) out.push(p);
  }
  return out.sort();
}

/**
 * Spearman ρ per format over the layers that were measured. Layers whose lowering never changed any output
 * (measured SQNR at the 300 dB cap in every format while their weights did change: not exercised by the inputs,
 * e.g. an If branch not taken) are left out — no static score can know which branch runs.
 */
export function correlations(report: SensitivityReport): Record<string, { n: number; rho: number | undefined }> {
  const out: Record<string, { n: number; rho: number | undefined }> = {};
  const exercised = report.layers.filter((l) => Object.values(l.formats).some((s) => s.relMse > 0 && s.measuredOutputSqnrDb !== undefined && s.measuredOutputSqnrDb < 300));
  for (const f of report.formats) {
    const rows = exercised.map((l) => l.formats[f]).filter((s) => s?.measuredOutputSqnrDb !== undefined);
    out[f] = { n: rows.length, rho: spearman(rows.map((s) => s!.staticScore), rows.map((s) => -s!.measuredOutputSqnrDb!)) };
  }
  return out;
}

/** Dumped per-model entry of `--json`. */
interface DumpEntry {
  readonly layers: readonly { readonly layer: string; readonly role: string; readonly stats?: SensitivityReport['layers'][number]['stats']; readonly formats: Record<string, LayerFormatSensitivity> }[];
}

/** `--rescore FILE`: static scores recomputed from a `--json` dump (no measurement). */
async function rescore(file: string, only: readonly string[]): Promise<void> {
  const dump = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, DumpEntry>;
  const rows = [`| model | ${FORMATS.join(' | ')} |`, `|---|${FORMATS.map(() => '---:').join('|')}|`];
  const rhos: Record<string, number[]> = Object.fromEntries(FORMATS.map((f) => [f, []]));
  for (const [name, entry] of Object.entries(dump)) {
    if (only.length && !only.some((o) => name.includes(o))) continue;
    const opened = await openModelFile(path.join(MODELS, name));
    const model = await openModel(opened.source, { siblings: opened.siblings });
    await opened.close();
    const byName = new Map(model.layers.map((l) => [l.name, l]));
    const layers = entry.layers.map((l) => byName.get(l.layer)).filter((l) => l !== undefined);
    const contexts = layerContexts(layers);
    const fallbackStats = { count: 0, maxAbs: 0, mean: 0, std: 0, maxOverStd: 0, kurtosis: 0, beyondFp16: 0, zeros: 0, nonFinite: 0 };
    const layersOut = entry.layers.flatMap((l) => {
      const layer = byName.get(l.layer);
      if (!layer) return [];
      const errors = Object.fromEntries(Object.entries(l.formats).map(([f, s]) => [f, { relMse: s.relMse, sqnrDb: s.sqnrDb, maxAbsError: s.maxAbsError, overflowCount: s.overflowCount, count: l.stats?.count ?? 1 }]));
      const position = contexts.get(layer.name);
      const scored = scoreLayer(layer, model, { stats: l.stats ?? fallbackStats, errors, ...(position ? { position } : {}) });
      const formats = Object.fromEntries(Object.entries(l.formats).map(([f, s]) => [f, { ...s, staticScore: scored[f]!.staticScore }]));
      return [{ ...l, formats }];
    });
    const now = correlations({ formats: FORMATS, layers: layersOut } as unknown as SensitivityReport);
    const before = correlations({ formats: FORMATS, layers: entry.layers } as unknown as SensitivityReport);
    const cell = (f: string): string => {
      const a = now[f]?.rho, b = before[f]?.rho;
      if (a !== undefined) rhos[f]!.push(a);
      return `${a === undefined ? 'n/a' : a.toFixed(2)} (${b === undefined ? 'n/a' : b.toFixed(2)})`;
    };
    rows.push(`| ${name} | ${FORMATS.map(cell).join(' | ')} |`);
  }
  const mean = (v: number[]): string => (v.length ? (v.reduce((a, b) => a + b, 0) / v.length).toFixed(2) : 'n/a');
  rows.push(`| **mean** | ${FORMATS.map((f) => mean(rhos[f]!)).join(' | ')} |`);
  console.log(rows.join('\n'));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--rescore')) {
    const file = args[args.indexOf('--rescore') + 1]!;
    await rescore(file, args.filter((a) => !a.startsWith('--') && a !== file));
    return;
  }
  const cacheDir = args.includes('--cached') ? undefined : await fs.mkdtemp(path.join(os.tmpdir(), 'pl-validate-'));
  const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
  const only = args.filter((a) => !a.startsWith('--') && a !== jsonOut);
  const rows: string[] = [];
  const failures: string[] = [];
  const all: Record<string, unknown> = {};
  const rhos: Record<string, number[]> = Object.fromEntries(FORMATS.map((f) => [f, []]));
  rows.push(`| model | layers | ${FORMATS.join(' | ')} | time |`);
  rows.push(`|---|---:|${FORMATS.map(() => '---:').join('|')}|---:|`);
  for (const file of await listModels(MODELS)) {
    const name = path.relative(MODELS, file);
    if (only.length && !only.some((o) => name.includes(o))) continue;
    const t = performance.now();
    try {
      const r = await measureSensitivity(file, { formats: FORMATS, ...(cacheDir ? { cacheDir } : {}), workers: 0 });
      const c = correlations(r);
      all[name] = { correlations: c, measured: r.measured, layers: r.layers.map((l) => ({ layer: l.layer, role: l.role, stats: l.stats, formats: l.formats })) };
      for (const f of FORMATS) if (c[f]?.rho !== undefined) rhos[f]!.push(c[f]!.rho!);
      rows.push(`| ${name} | ${r.layers.length} | ${FORMATS.map((f) => (c[f]?.rho === undefined ? 'n/a' : c[f]!.rho!.toFixed(2))).join(' | ')} | ${((performance.now() - t) / 1000).toFixed(1)} s |`);
    } catch (e) {
      failures.push(`${name}: ${(e as Error).message}`);
    }
  }
  const mean = (v: number[]): string => (v.length ? (v.reduce((a, b) => a + b, 0) / v.length).toFixed(2) : 'n/a');
  rows.push(`| **mean** | | ${FORMATS.map((f) => mean(rhos[f]!)).join(' | ')} | |`);
  console.log(rows.join('\n'));
  if (failures.length) console.log(`\nNot measured:\n${failures.map((f) => `- ${f}`).join('\n')}`);
  console.log('\nn/a: fewer than 3 layers measured, or every layer lossless/identical in that format (no ranking).');
  if (jsonOut) await fs.writeFile(jsonOut, JSON.stringify(all, null, 1));
  if (cacheDir) await fs.rm(cacheDir, { recursive: true, force: true });
  if (only.length) return; // a selection is for exploring; the floors are for the whole corpus
  const misses = [
    ...failures.map((f) => `not measured: ${f}`),
    ...FORMATS.flatMap((f) => {
      const v = rhos[f]!;
      const m = v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN;
      return m >= MIN_MEAN_RHO[f]! ? [] : [`${f}: mean ρ ${Number.isNaN(m) ? 'n/a' : m.toFixed(2)} is below its floor ${MIN_MEAN_RHO[f]}`];
    }),
  ];
  if (misses.length) {
    console.log(`\nGoal missed:\n${misses.map((m) => `- ${m}`).join('\n')}`);
    process.exitCode = 1;
  } else console.log(`\nGoal met: every model measured; mean ρ at or above its floor for every format (${FORMATS.map((f) => `${f} ≥ ${MIN_MEAN_RHO[f]}`).join(', ')}).`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
