import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { COMPUTE_TYPES, EstimateError, MAX_TARGET_FILE_BYTES, TARGETS, formatBytes, mergeTargets, parseUserTargets, type Target } from '../../core';
import { readRegularTextFile } from '../../node/fileByteSource';
import { CliError, renderTable, type CliOutput } from '../io';
import { JSON_OPTION, flag, str, type CommandSpec, type OptionValues } from '../options';

/** Option table of `targets`. */
export const targetsSpec: CommandSpec = {
  name: 'targets',
  summary: 'List the hardware catalog: memory, bandwidth, peak rate per number type, native formats and confidence.',
  positionals: [],
  options: [
    { name: 'targets-file', type: 'string', value: 'FILE', description: 'A JSON file of extra or overriding targets, listed with the catalog.' },
    JSON_OPTION,
  ],
};

/**
 * Reads and validates a user targets file (`--targets-file`). Errors (missing file, too large, invalid) become
 * a {@link CliError} with exit status 2.
 */
export async function loadTargetsFile(file: string | undefined): Promise<Target[]> {
  if (!file) return [];
  const name = path.basename(file);
  let st;
  try {
    st = await fs.stat(file);
  } catch {
    throw new CliError(`${name}: the targets file does not exist.`);
  }
  if (st.size > MAX_TARGET_FILE_BYTES) throw new CliError(`${name}: the targets file is larger than ${MAX_TARGET_FILE_BYTES} bytes.`);
  const text = await readRegularTextFile(file, MAX_TARGET_FILE_BYTES);
  try {
    return parseUserTargets(text, name);
  } catch (e) {
    if (e instanceof EstimateError) throw new CliError(e.message);
    throw e;
  }
}

const tflops = (t: Target, k: keyof Target['throughput']): string => {
  const v = t.throughput[k];
  return v === undefined ? '-' : v >= 100e12 ? String(Math.round(v / 1e12)) : String(Math.round((v / 1e12) * 10) / 10);
};

/** `precision-lens targets`: the hardware catalog (plus user targets) as a table or JSON. */
export async function targetsCommand(values: OptionValues, _positionals: readonly string[], io: CliOutput): Promise<number> {
  const user = await loadTargetsFile(str(values, 'targets-file'));
  const all = mergeTargets(TARGETS, user);
  if (flag(values, 'json')) {
    io.out(JSON.stringify({ computeTypes: COMPUTE_TYPES, targets: all }, null, 2));
    return 0;
  }
  io.out(
    renderTable(
      ['id', 'name', 'kind', 'memory', 'GB/s', 'FP32', 'BF16', 'FP16', 'FP8', 'INT8', 'FP4', 'native', 'conf'],
      all.map((t) => [
        t.id,
        t.name,
        t.kind,
        formatBytes(t.memoryBytes),
        String(Math.round(t.memoryBandwidthBytesPerSecond / 1e9)),
        tflops(t, 'fp32'),
        tflops(t, 'bf16'),
        tflops(t, 'fp16'),
        t.throughput.fp8 !== undefined ? tflops(t, 'fp8') : tflops(t, 'fp8_fnuz'),
        tflops(t, 'int8'),
        t.throughput.nvfp4 !== undefined ? tflops(t, 'nvfp4') : tflops(t, 'mxfp4'),
        t.native.join(','),
        t.confidence,
      ]),
      [3, 4, 5, 6, 7, 8, 9, 10],
    ),
  );
  io.out('');
  io.out('Dense peak TFLOPS/TOPS; "-" = not published. Memory per device (SRAM for groq-lpu, cerebras-wse3).');
  io.out('Sources and confidence: precision-lens targets --json (fields source, confidence, notes).');
  return 0;
}
