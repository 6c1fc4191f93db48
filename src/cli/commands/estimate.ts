import * as path from 'node:path';
import {
  EstimateError,
  TARGETS,
  estimate,
  formatBytes,
  formatCount,
  getTarget,
  mergeTargets,
  modelFingerprint,
  nearestTargetIds,
  openModel,
  readShapeConstants,
  LLAMA_CPU_KINDS,
  RUNTIME_IDS,
  type Estimate,
  type LlamaCpuKind,
  type RuntimeId,
  type RuntimeOptions,
  type Target,
} from '../../core';
import { openModelFile } from '../../node/fileByteSource';
import { CliError, renderTable, type CliOutput } from '../io';
import { checkPlanFile } from './plan';
import { loadTargetsFile } from './targets';
import { formatIds, isFormat } from '../choices';
import { activationsCell, figureNotes, kvCacheCell, runDescription, speedRows, totalCell } from '../figures';
import { JSON_OPTION, flag, positiveInt, quoteArg, str, type CommandSpec, type OptionValues } from '../options';
import { writeJson } from '../jsonOut';

/** Option table of `estimate`. */
export const estimateSpec: CommandSpec = {
  name: 'estimate',
  summary: 'Estimate memory (weights, activations, KV cache, overhead) and speed of a model on one or more targets.',
  positionals: [{ name: 'FILE', description: 'The model: .onnx, .safetensors (or its .index.json), .gguf or .tflite.' }],
  options: [
    { name: 'target', short: 't', type: 'string', value: 'ID[,ID...]', description: 'Hardware targets to compare side by side (ids from precision-lens targets).' },
    { name: 'batch', type: 'string', value: 'N', description: 'Sequences (or samples) processed at once; default 1.' },
    { name: 'context', type: 'string', value: 'N', description: "Context length in tokens for a generative model; default the model's, capped at 4096." },
    { name: 'kv-format', type: 'string', value: 'F', description: 'Number format of the KV cache; default fp16.', choices: formatIds, accepts: isFormat },
    { name: 'plan', type: 'string', value: 'PLAN', description: 'A precision plan (*.precision.json) whose per-layer formats replace the stored ones.' },
    { name: 'targets-file', type: 'string', value: 'FILE', description: 'A JSON file of extra or overriding targets (see README, "Estimate memory and speed").' },
    { name: 'runtime', type: 'string', value: 'R', description: 'Runtime whose memory is modeled; default by format (GGUF: llama.cpp, ONNX/TFLite: ort, safetensors: vllm).', choices: () => RUNTIME_IDS },
    { name: 'flash-attn', type: 'string', value: 'on|off', description: 'Flash attention in llama.cpp (default on, as its auto setting resolves on CPU).', choices: () => ['on', 'off'] },
    { name: 'ubatch', type: 'string', value: 'N', description: 'Micro-batch of llama.cpp (n_ubatch, default 512); its compute buffer scales with it.' },
    { name: 'batch-tokens', type: 'string', value: 'N', description: 'Logical batch of llama.cpp (n_batch, default 2048).', detail: true },
    { name: 'cpu', type: 'string', value: 'KIND', description: 'CPU class deciding which weights llama.cpp repacks (default x86-avx2 on CPU targets, generic elsewhere).', choices: () => LLAMA_CPU_KINDS, detail: true },
    { name: 'gpu-memory-utilization', type: 'string', value: 'F', description: 'Fraction of device memory vLLM takes (default 0.9).', detail: true },
    JSON_OPTION,
  ],
  required: ['target'],
  examples: ['precision-lens estimate model.gguf --target h100,h20,m4-pro --context 8192 --kv-format fp8', 'precision-lens estimate model.onnx --target cpu --batch 8 --plan model.onnx.precision.json --json'],
};

/** Resolves `--target a,b` against the catalog and user targets; unknown ids list the nearest ones. */
export function resolveTargets(spec: string, user: readonly Target[]): Target[] {
  const ids = spec.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (ids.length === 0) throw new CliError('--target needs at least one target id (see precision-lens targets).');
  if (ids.length > 64) throw new CliError(`--target lists ${ids.length} targets, more than the limit of 64.`);
  return ids.map((id) => {
    const t = getTarget(id, user);
    if (!t) {
      const all = mergeTargets(TARGETS, user);
      const near = nearestTargetIds(id, all);
      throw new CliError(`unknown target ${quoteArg(id)}; nearest: ${near.join(', ')}; valid: ${all.map((t) => t.id).join(', ')} (details: precision-lens targets).`);
    }
    return t;
  });
}


/** Runtime flags → estimate options (values already checked against the option table's choices; core checks again). */
function parseRuntimeOptions(values: OptionValues): RuntimeOptions {
  const runtime = str(values, 'runtime');
  const fa = str(values, 'flash-attn');
  const cpu = str(values, 'cpu');
  const util = str(values, 'gpu-memory-utilization');
  const utilValue = util === undefined ? undefined : Number(util);
  if (utilValue !== undefined && !(utilValue > 0 && utilValue <= 1)) throw new CliError(`--gpu-memory-utilization must be a number in (0, 1], got ${quoteArg(util!)}.`);
  const ubatch = positiveInt(values, 'ubatch');
  const batchTokens = positiveInt(values, 'batch-tokens');
  return {
    ...(runtime !== undefined ? { runtime: runtime as RuntimeId } : {}),
    ...(fa !== undefined ? { flashAttention: fa.toLowerCase() === 'on' } : {}),
    ...(cpu !== undefined ? { cpu: cpu as LlamaCpuKind } : {}),
    ...(utilValue !== undefined ? { gpuMemoryUtilization: utilValue } : {}),
    ...(ubatch !== undefined ? { ubatch } : {}),
    ...(batchTokens !== undefined ? { batchTokens } : {}),
  };
}

/** ` · flash attention on · micro-batch 512 …` from the runtime's settings. */
function runtimeSettings(e: Estimate): string {
  const s = e.runtime.settings;
  if (e.runtime.runtime === 'llama.cpp') return ` · flash attention ${s['flashAttention'] ? 'on' : 'off'} · micro-batch ${String(s['ubatch'])} · ${String(s['cells'])} cells × ${String(s['sequences'])} · CPU ${String(s['cpu'])}`;
  if (e.runtime.runtime === 'vllm') return ` · gpu-memory-utilization ${String(s['gpuMemoryUtilization'])} · block ${String(s['blockSize'])}`;
  return '';
}

/** One indented row per weight buffer when the runtime splits weights into several (llama.cpp: mapped, AMX, repack). */
function weightBufferRows(estimates: readonly Estimate[], row: (label: string, f: (e: Estimate) => string) => string[]): string[][] {
  const ids = [...new Set(estimates.flatMap((e) => e.runtime.components.filter((c) => c.kind === 'weights').map((c) => c.id)))];
  if (ids.length < 2) return [];
  return ids.map((id) => row(`  ${id.replace(/^model:/, '')}`, (e) => formatBytes(e.runtime.components.find((c) => c.id === id)?.bytes ?? 0)));
}

/** `precision-lens estimate`: memory fit and roofline speed on one or more targets. */
export async function estimateCommand(values: OptionValues, positionals: readonly string[], io: CliOutput): Promise<number> {
  const batch = positiveInt(values, 'batch');
  const context = positiveInt(values, 'context');
  const kvFormat = str(values, 'kv-format');
  const planPath = str(values, 'plan');
  const runtimeOptions = parseRuntimeOptions(values);
  const user = await loadTargetsFile(str(values, 'targets-file'));
  const targets = resolveTargets(str(values, 'target')!, user);

  const opened = await openModelFile(positionals[0]!);
  let estimates: Estimate[];
  let fileName: string;
  try {
    const model = await openModel(opened.source, { siblings: opened.siblings });
    fileName = model.fileName;
    const constants = model.graphs.length > 0 ? await readShapeConstants(model, opened.source, opened.siblings) : {};
    // --plan: checked against this model (fingerprint, layers, formats, target) as apply and export check it.
    const plan = planPath ? await checkPlanFile(planPath, model, await modelFingerprint(opened.source, model.files), io, user) : undefined;
    try {
      estimates = targets.map((t) =>
        estimate(model, t, {
          ...(batch !== undefined ? { batch } : {}),
          ...(context !== undefined ? { context } : {}),
          ...(kvFormat !== undefined ? { kvFormat } : {}),
          ...runtimeOptions,
          ...(plan ? { assignment: plan.assignment } : {}),
          constants,
        }),
      );
    } catch (e) {
      if (e instanceof EstimateError) throw new CliError(e.message);
      throw e;
    }
  } finally {
    await opened.close();
  }

  if (flag(values, 'json')) {
    writeJson(io, { file: fileName, estimates });
    return 0;
  }
  const first = estimates[0]!;
  io.out(`${fileName}: ${formatCount(first.parameterCount)} parameters${first.activeParameterCount !== first.parameterCount ? ` (${formatCount(first.activeParameterCount)} active)` : ''} · ${runDescription(first)}${planPath ? ` · plan ${path.basename(planPath)}` : ''}`);
  const notActive = [
    first.mtpParameterCount > 0 ? `multi-token prediction ${formatCount(first.mtpParameterCount)}` : '',
    first.visionParameterCount > 0 ? `vision tower ${formatCount(first.visionParameterCount)}` : '',
    first.audioParameterCount > 0 ? `audio tower ${formatCount(first.audioParameterCount)}` : '',
  ].filter(Boolean);
  if (notActive.length > 0) io.out(`stored, not active per token: ${notActive.join(' · ')}`);
  if (first.attention) io.out(`attention: ${first.attention} · ${formatBytes(first.kvBytesPerToken)} KV per token (${first.kvFormat})${first.recurrentStateBytes > 0 ? ` + ${formatBytes(first.recurrentStateBytes)} recurrent state` : ''}`);
  io.out(`runtime: ${first.runtime.runtime}${first.runtime.measured ? '' : ' (not measured here)'}${runtimeSettings(first)}`);
  io.out('');
  const row = (label: string, f: (e: Estimate) => string): string[] => [label, ...estimates.map(f)];
  io.out(
    renderTable(
      ['', ...estimates.map((e) => e.target)],
      [
        row('weights', (e) => formatBytes(e.weightBytes)),
        ...weightBufferRows(estimates, row),
        row('activations', activationsCell),
        ...(estimates.some((e) => e.runtime.runtime !== 'ort') ? [row('  compute buffer', (e) => (e.unknownParts.includes('activations') && e.computeBytes === 0 ? 'unknown' : formatBytes(e.computeBytes)))] : []),
        ...(estimates.some((e) => e.outputBytes > 0) ? [row('  output buffer', (e) => formatBytes(e.outputBytes))] : []),
        ...(first.generative ? [row('KV cache', kvCacheCell)] : []),
        row('overhead', (e) => formatBytes(e.overheadBytes)),
        row('total', totalCell),
        row('capacity', (e) => formatBytes(e.capacityBytes)),
        row('fits', (e) => (e.fits ? 'yes' : 'no')),
        row('devices needed', (e) => String(e.devicesNeeded)),
        row('interconnect', (e) => (e.devicesNeeded > 1 ? (e.interconnect ? `${e.interconnect.name}${e.interconnect.bytesPerSecond ? ` ${e.interconnect.bytesPerSecond / 1e9} GB/s` : ''}` : 'none') : '-')),
        ...speedRows(first).map(([label], i) => row(label, (e) => speedRows(e)[i]![1])),
        row('unsupported layers', (e) => String(e.unsupportedFormats.length)),
      ],
      estimates.map((_, i) => i + 1),
    ),
  );
  for (const e of estimates) {
    if (e.unsupportedFormats.length > 0) {
      const byFormat = new Map<string, number>();
      for (const u of e.unsupportedFormats) byFormat.set(`${u.format} → ${u.runsAs}`, (byFormat.get(`${u.format} → ${u.runsAs}`) ?? 0) + 1);
      io.out(`${e.target}: not native, converted: ${[...byFormat].map(([k, n]) => `${k} (${n} layer${n === 1 ? '' : 's'})`).join(', ')}.`);
    }
  }
  for (const [i, e] of estimates.entries()) for (const n of figureNotes(e, targets[i])) io.out(`note: ${n}`);
  const warnings = new Set(estimates.flatMap((e) => e.warnings));
  for (const w of warnings) io.out(`warning: ${w}`);
  io.out('');
  io.out('Assumptions:');
  const seen = new Set<string>();
  for (const e of estimates) for (const a of e.assumptions) if (!seen.has(a)) { seen.add(a); io.out(`  - ${estimates.length > 1 && !estimates.every((x) => x.assumptions.includes(a)) ? `[${e.target}] ` : ''}${a}`); }
  return 0;
}
