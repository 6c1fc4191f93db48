/**
 * `npm run validate:gguf-sensitivity`: the static sensitivity score against the KL each layer adds when it alone is
 * lowered and the model runs in llama.cpp (src/node/ggufMeasure.ts), on stories260K (a trained model) and on a
 * generated llama GGUF (256-wide rows with outlier channels: test/fixtures/llamaModels.ts). Prints the Spearman
 * rank correlation per model and format and **exits 1** when any is below its threshold: {@link MIN_RHO_TRAINED}
 * for the trained model, {@link MIN_RHO_GENERATED} for the generated one (random weights: which block matters most
 * is set by the draw, e.g. block 0 three times block 1 at equal weight error, which no static score can know).
 *
 * `--json FILE` also writes the measured reports; `--rescore FILE` recomputes only the static scores from such a
 * dump with the current scoreLayer (seconds, no llama.cpp) to tune the score without re-measuring.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { layerContexts, openModel, scoreLayer, spearman, type SensitivityReport } from '../../src/core';
import { openModelFile } from '../../src/node/fileByteSource';
import { measureGgufSensitivity } from '../../src/node/ggufMeasure';
import { STORIES260K, generateLlamaGguf } from './llamaModels';

/** Least Spearman ρ accepted per format on the trained model. */
export const MIN_RHO_TRAINED = 0.6;
/** Least Spearman ρ accepted per format on the generated model (see the module comment). */
export const MIN_RHO_GENERATED = 0.3;
const FORMATS = ['q8_0', 'q4_k', 'q2_k'];

/** ρ per format between the static score and the measured KL, over the layers measured. */
export function klCorrelations(report: SensitivityReport, formats: readonly string[] = FORMATS): Record<string, { n: number; rho: number | undefined }> {
  const out: Record<string, { n: number; rho: number | undefined }> = {};
  for (const f of formats) {
    const rows = report.layers.map((l) => l.formats[f]).filter((s) => s?.klDivergence !== undefined);
    out[f] = { n: rows.length, rho: spearman(rows.map((s) => s!.staticScore), rows.map((s) => s!.klDivergence!)) };
  }
  return out;
}

/** Static scores recomputed with the current scoreLayer (the weight errors of the dump are kept). */
async function rescored(modelPath: string, report: SensitivityReport): Promise<SensitivityReport> {
  const opened = await openModelFile(modelPath);
  const model = await openModel(opened.source, {});
  await opened.close();
  const byName = new Map(model.layers.map((l) => [l.name, l]));
  const contexts = layerContexts(report.layers.map((l) => byName.get(l.layer)).filter((l) => l !== undefined));
  const layers = report.layers.map((l) => {
    const layer = byName.get(l.layer);
    if (!layer || !l.stats) return l;
    const errors = Object.fromEntries(Object.entries(l.formats).map(([f, s]) => [f, { relMse: s.relMse, sqnrDb: s.sqnrDb, maxAbsError: s.maxAbsError, overflowCount: s.overflowCount, count: l.stats?.count ?? 1 }]));
    const position = contexts.get(layer.name);
    const scored = scoreLayer(layer, model, { stats: l.stats, errors, ...(position ? { position } : {}) });
    return { ...l, formats: Object.fromEntries(Object.entries(l.formats).map(([f, s]) => [f, { ...s, staticScore: scored[f]!.staticScore }])) };
  });
  return { ...report, layers };
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
  const rescoreFile = args.includes('--rescore') ? args[args.indexOf('--rescore') + 1] : undefined;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'precision-lens-validate-gguf-'));
  try {
    const generated = path.join(dir, 'generated-llama.gguf');
    generateLlamaGguf(generated, { seed: 1 });
    const models: Record<string, string> = { 'stories260K.gguf': STORIES260K, 'generated-llama.gguf (256-wide, outliers)': generated };
    const thresholds: Record<string, number> = { 'stories260K.gguf': MIN_RHO_TRAINED, 'generated-llama.gguf (256-wide, outliers)': MIN_RHO_GENERATED };
    const reports: Record<string, SensitivityReport> = {};
    if (rescoreFile) {
      const dump = JSON.parse(await fs.readFile(rescoreFile, 'utf8')) as Record<string, SensitivityReport>;
      for (const [name, r] of Object.entries(dump)) reports[name] = await rescored(models[name]!, r);
    } else {
      for (const [name, file] of Object.entries(models)) {
        const started = performance.now();
        reports[name] = await measureGgufSensitivity(file, { formats: FORMATS, layerBudget: 1000 });
        process.stderr.write(`${name}: ${reports[name].measured?.runs} runs in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
      }
      if (jsonOut) await fs.writeFile(jsonOut, JSON.stringify(reports));
    }
    let failed = false;
    console.log(`| model | ${FORMATS.join(' | ')} |`);
    console.log(`|---|${FORMATS.map(() => '---:').join('|')}|`);
    for (const [name, r] of Object.entries(reports)) {
      const c = klCorrelations(r);
      const cells = FORMATS.map((f) => {
        const rho = c[f]?.rho;
        if (rho === undefined || rho < (thresholds[name] ?? MIN_RHO_TRAINED)) failed = true;
        return rho === undefined ? `n/a (n=${c[f]?.n ?? 0})` : `${rho.toFixed(2)} (n=${c[f]!.n})`;
      });
      console.log(`| ${name} | ${cells.join(' | ')} |`);
    }
    console.log(`thresholds: ρ ≥ ${MIN_RHO_TRAINED} (trained) and ≥ ${MIN_RHO_GENERATED} (generated) for every format: ${failed ? 'FAILED' : 'passed'}`);
    return failed ? 1 : 0;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (e: unknown) => {
  console.error(e);
  process.exit(2);
});
