/**
 * Proof of apply's opset conversion (issue 14, "apply on older models"): every ONNX model in ../shared/models/onnx
 * and in Debian's libonnx-testdata conformance corpus whose default-domain opset is below what INT8 (13) or INT4
 * (21) storage needs is converted with `convertOnnxOpset` — the same code apply runs — and the original and the
 * converted model are run in onnxruntime-node on the same inputs (the corpus's test_data_set_0, or generated
 * calibration inputs). Outputs must be equal before any quantization. A model the converter refuses must be refused
 * with the operator's name; models onnxruntime cannot run in their original form are counted, not judged.
 *
 * Run: node --import tsx --test test/integration/opsetConversion.test.ts   (OPSET_REPORT=file writes the table)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MemoryByteSource, openModel } from '../../src/core';
import { convertOnnxOpset } from '../../src/node/applyOnnx';
import { generateCalibrationInputs, parseTensorProto, type CalibrationSample, type InputTensor } from '../../src/node/calibration';
import { openModelFile } from '../../src/node/fileByteSource';
import { createSession, releaseSession, runSamples, type RunOutputs } from '../../src/node/ortRunner';
import { SHARED_MODELS } from './sharedModels';

const SHARED = path.join(SHARED_MODELS, 'onnx');
const CORPUS = ['/usr/share/libonnx-testdata/data', '/usr/share/onnx/testdata'].find((d) => existsSync(d));
const TARGETS = [13, 21];

interface Case { readonly name: string; readonly file: string; readonly inputsDir?: string }

function listCases(): Case[] {
  const out: Case[] = [];
  const walk = (dir: string, depth: number): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && depth < 4) walk(p, depth + 1);
      else if (e.isFile() && e.name.endsWith('.onnx')) {
        const data = path.join(dir, 'test_data_set_0');
        out.push({ name: path.relative(path.dirname(SHARED), p).startsWith('..') ? path.relative(CORPUS ?? dir, p) : path.relative(path.dirname(SHARED), p), file: p, ...(existsSync(data) ? { inputsDir: data } : {}) });
      }
    }
  };
  if (existsSync(SHARED)) walk(SHARED, 0);
  if (CORPUS) walk(CORPUS, 0);
  return out;
}

async function inputsFor(c: Case, bytes: Uint8Array, session: import('onnxruntime-node').InferenceSession): Promise<CalibrationSample[]> {
  if (c.inputsDir) {
    const files = readdirSync(c.inputsDir).filter((f) => /^input_\d+\.pb$/.test(f)).sort((a, b) => Number(a.slice(6, -3)) - Number(b.slice(6, -3)));
    const sample: Record<string, InputTensor> = {};
    files.forEach((f, i) => {
      const t = parseTensorProto(new Uint8Array(require('node:fs').readFileSync(path.join(c.inputsDir!, f)) as Buffer), f);
      const name = session.inputNames.includes(t.name) ? t.name : session.inputNames[i]!;
      sample[name] = { ...t, name };
    });
    return [sample];
  }
  const opened = await openModelFile(c.file);
  try {
    const model = await openModel(opened.source, { siblings: opened.siblings });
    return generateCalibrationInputs(model, 2, 1, 0).samples as CalibrationSample[];
  } catch {
    return generateCalibrationInputs(await openModel(new MemoryByteSource(path.basename(c.file), bytes)), 2, 1, 0).samples as CalibrationSample[];
  } finally {
    await opened.close();
  }
}

function sameOutputs(a: readonly RunOutputs[], b: readonly RunOutputs[]): { equal: boolean; maxAbsDiff: number; detail: string } {
  let maxAbsDiff = 0;
  for (let s = 0; s < a.length; s++) {
    const keys = Object.keys(a[s]!);
    for (const k of keys) {
      const x = a[s]![k]!;
      const y = b[s]?.[k];
      if (!y) return { equal: false, maxAbsDiff: Infinity, detail: `output '${k}' missing` };
      if (x.dims.join('x') !== y.dims.join('x')) return { equal: false, maxAbsDiff: Infinity, detail: `output '${k}' dims ${x.dims.join('x')} vs ${y.dims.join('x')}` };
      for (let i = 0; i < x.data.length; i++) {
        const u = x.data[i]!;
        const v = y.data[i]!;
        if (Number.isNaN(u) && Number.isNaN(v)) continue;
        if (u === v) continue;
        const d = Math.abs(u - v);
        if (!(d <= maxAbsDiff)) maxAbsDiff = Number.isNaN(d) ? Infinity : Math.max(maxAbsDiff, d);
      }
    }
  }
  return { equal: maxAbsDiff === 0, maxAbsDiff, detail: '' };
}

test('opset conversion keeps every converted model\'s outputs equal in onnxruntime (shared models + conformance corpus)', { timeout: 60 * 60 * 1000 }, async () => {
  const cases = listCases();
  assert.ok(cases.length > 10, 'no models found');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-opset-'));
  const rows: string[] = [];
  const tally = { models: cases.length, atTarget: 0, originalFails: 0, converted: 0, equal: 0, nearlyEqual: 0, different: 0, refused: 0, convertedFails: 0 };
  const failures: string[] = [];
  try {
    for (const c of cases) {
      const bytes = new Uint8Array(await fs.readFile(c.file));
      let session;
      try {
        session = await createSession(c.file);
      } catch (e) {
        tally.originalFails++;
        rows.push(`${c.name}\t-\t-\toriginal does not load in onnxruntime: ${(e as Error).message.split('\n')[0]!.slice(0, 100)}`);
        continue;
      }
      let samples: CalibrationSample[];
      let reference: RunOutputs[];
      try {
        samples = await inputsFor(c, bytes, session);
        reference = await runSamples(session, samples);
      } catch (e) {
        tally.originalFails++;
        rows.push(`${c.name}\t-\t-\toriginal does not run: ${(e as Error).message.split('\n')[0]!.slice(0, 100)}`);
        continue;
      } finally {
        await releaseSession(session);
      }
      for (const to of TARGETS) {
        let conv;
        try {
          conv = convertOnnxOpset(bytes, to, path.basename(c.file));
        } catch (e) {
          tally.refused++;
          const msg = (e as Error).message;
          rows.push(`${c.name}\t?\t${to}\trefused: ${msg}`);
          if (!/cannot convert the model to opset \d+: (op ')?[A-Z][A-Za-z0-9]+/.test(msg)) failures.push(`${c.name} → ${to}: refusal does not name the operator: ${msg}`);
          continue;
        }
        if (conv.from >= to || conv.from === 0) {
          tally.atTarget++;
          continue;
        }
        tally.converted++;
        // Beside the original so relative external-data locations still resolve.
        const out = path.join(path.dirname(c.file).startsWith(SHARED) ? dir : dir, `${tally.converted}.onnx`);
        const target = existsSync(path.join(path.dirname(c.file), 'model.onnx_data')) || c.file.includes('external') ? path.join(path.dirname(c.file), `.pl-opset-${process.pid}-${to}.onnx`) : out;
        await fs.writeFile(target, conv.bytes);
        try {
          const s2 = await createSession(target);
          try {
            const got = await runSamples(s2, samples);
            const cmp = sameOutputs(reference, got);
            if (cmp.equal) tally.equal++;
            else if (cmp.maxAbsDiff < 1e-5) tally.nearlyEqual++;
            else {
              tally.different++;
              failures.push(`${c.name} ${conv.from}→${to}: outputs differ (max |Δ| ${cmp.maxAbsDiff}) ${cmp.detail}`);
            }
            rows.push(`${c.name}\t${conv.from}\t${to}\t${cmp.equal ? 'equal' : cmp.maxAbsDiff < 1e-5 ? `max |Δ| ${cmp.maxAbsDiff.toExponential(1)}` : `DIFFERENT ${cmp.maxAbsDiff} ${cmp.detail}`}${conv.notes.length ? ` (${conv.notes.join(' ')})` : ''}`);
          } finally {
            await releaseSession(s2);
          }
        } catch (e) {
          tally.convertedFails++;
          failures.push(`${c.name} ${conv.from}→${to}: converted model does not run: ${(e as Error).message.split('\n')[0]}`);
          rows.push(`${c.name}\t${conv.from}\t${to}\tCONVERTED FAILS: ${(e as Error).message.split('\n')[0]!.slice(0, 160)}`);
        } finally {
          if (target !== out) await fs.rm(target, { force: true });
        }
      }
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
    const report = [`# opset conversion: ${JSON.stringify(tally)}`, 'model\tfrom\tto\tresult', ...rows].join('\n');
    if (process.env['OPSET_REPORT']) await fs.writeFile(process.env['OPSET_REPORT'], `${report}\n`);
    console.log(`opset conversion: ${JSON.stringify(tally)}`);
  }
  assert.deepEqual(failures, [], failures.slice(0, 20).join('\n'));
});
