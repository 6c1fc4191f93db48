import * as path from 'node:path';
import { parseArgs } from 'node:util';
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
  type Estimate,
  type RuntimeOptions,
  type Target,
} from '../../core';
import { openModelFile } from '../../node/fileByteSource';
import { CliError, renderTable, type CliOutput } from '../io';
import { checkPlanFile } from './plan';
import { loadTargetsFile } from './targets';

export const estimateUsage = 'precision-lens estimate FILE --target ID[,ID...] [--batch N] [--context N] [--kv-format F] [--plan PLAN] [--targets-file FILE] [--runtime llama.cpp|ort|vllm] [--flash-attn on|off] [--ubatch N] [--batch-tokens N] [--cpu KIND] [--gpu-memory-utilization F] [--json]';

function positiveInt(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim()) || Number(text) <= 0 || !Number.isSafeInteger(Number(text))) {
    throw new CliError(`--${flag} must be a positive whole number, got '${text.slice(0, 40)}'.`);
  }
  return Number(text);
}

/** Resolves `--target a,b` against the catalog and user targets; unknown ids list the nearest ones. */
export function resolveTargets(spec: string, user: readonly Target[]): Target[] {
  const ids = spec.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (ids.length === 0) throw new CliError('--target needs at least one target id (see precision-lens targets).');
  if (ids.length > 64) throw new CliError(`--target lists ${ids.length} targets, more than the limit of 64.`);
  return ids.map((id) => {
    const t = getTarget(id, user);
    if (!t) {
      const near = nearestTargetIds(id, mergeTargets(TARGETS, user));
      throw new CliError(`unknown target '${id.slice(0, 40)}'; nearest: ${near.join(', ')} (all: precision-lens targets).`);
    }
    return t;
  });
}

const RUNTIMES: readonly string[] = ['llama.cpp', 'ort', 'vllm'];
const CPU_KINDS: readonly string[] = ['x86-amx', 'x86-avx512', 'x86-avx2', 'arm-i8mm', 'arm-dotprod', 'generic'];

/** Runtime flags → estimate options (validated again in core). */
function parseRuntimeOptions(values: Readonly<Record<string, string | boolean | undefined>>): RuntimeOptions {
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const runtime = str('runtime');
  if (runtime !== undefined && !RUNTIMES.includes(runtime)) throw new CliError(`--runtime must be one of ${RUNTIMES.join(', ')}, got '${runtime.slice(0, 40)}'.`);
  const fa = str('flash-attn');
  if (fa !== undefined && fa !== 'on' && fa !== 'off') throw new CliError(`--flash-attn must be on or off, got '${fa.slice(0, 40)}'.`);
  const cpu = str('cpu');
  if (cpu !== undefined && !CPU_KINDS.includes(cpu)) throw new CliError(`--cpu must be one of ${CPU_KINDS.join(', ')}, got '${cpu.slice(0, 40)}'.`);
  const util = str('gpu-memory-utilization');
  const utilValue = util === undefined ? undefined : Number(util);
  if (utilValue !== undefined && !(utilValue > 0 && utilValue <= 1)) throw new CliError(`--gpu-memory-utilization must be a number in (0, 1], got '${util!.slice(0, 40)}'.`);
  const ubatch = positiveInt('ubatch', str('ubatch'));
  const batchTokens = positiveInt('batch-tokens', str('batch-tokens'));
  return {
    ...(runtime !== undefined ? { runtime: runtime as RuntimeOptions['runtime'] & string } : {}),
    ...(fa !== undefined ? { flashAttention: fa === 'on' } : {}),
    ...(cpu !== undefined ? { cpu: cpu as NonNullable<RuntimeOptions['cpu']> } : {}),
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

const tps = (n: number): string => (n >= 1000 ? formatCount(Math.round(n)) : n >= 10 ? n.toFixed(0) : n.toFixed(2));

/** `precision-lens estimate`: memory fit and roofline speed on one or more targets. */
export async function estimateCommand(argv: readonly string[], io: CliOutput): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      target: { type: 'string', short: 't' },
      batch: { type: 'string' },
      context: { type: 'string' },
      'kv-format': { type: 'string' },
      plan: { type: 'string' },
      'targets-file': { type: 'string' },
      runtime: { type: 'string' },
      'flash-attn': { type: 'string' },
      ubatch: { type: 'string' },
      'batch-tokens': { type: 'string' },
      cpu: { type: 'string' },
      'gpu-memory-utilization': { type: 'string' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  if (positionals.length !== 1 || !values.target) throw new CliError(`Usage: ${estimateUsage}`);
  const batch = positiveInt('batch', values.batch);
  const context = positiveInt('context', values.context);
  const user = await loadTargetsFile(values['targets-file']);
  const targets = resolveTargets(values.target, user);
  const runtimeOptions = parseRuntimeOptions(values);

  const opened = await openModelFile(positionals[0]!);
  let estimates: Estimate[];
  let fileName: string;
  try {
    const model = await openModel(opened.source, { siblings: opened.siblings });
    fileName = model.fileName;
    const constants = model.graphs.length > 0 ? await readShapeConstants(model, opened.source, opened.siblings) : {};
    // --plan: checked against this model (fingerprint, layers, formats, target) as apply and export check it.
    const plan = values.plan ? await checkPlanFile(values.plan, model, await modelFingerprint(opened.source, model.files), io, user) : undefined;
    try {
      estimates = targets.map((t) =>
        estimate(model, t, {
          ...(batch !== undefined ? { batch } : {}),
          ...(context !== undefined ? { context } : {}),
          ...(values['kv-format'] !== undefined ? { kvFormat: values['kv-format'] } : {}),
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

  if (values.json) {
    io.out(JSON.stringify({ file: fileName, estimates }, null, 2));
    return 0;
  }
  const first = estimates[0]!;
  io.out(`${fileName}: ${formatCount(first.parameterCount)} parameters${first.activeParameterCount !== first.parameterCount ? ` (${formatCount(first.activeParameterCount)} active)` : ''} · batch ${first.batch} · context ${first.context} · KV ${first.kvFormat}${values.plan ? ` · plan ${path.basename(values.plan)}` : ''}`);
  io.out(`runtime ${first.runtime.runtime}${first.runtime.measured ? '' : ' (not measured here)'} · attention: ${first.attention ?? 'none'} · KV per token ${formatBytes(first.kvBytesPerToken)}${runtimeSettings(first)}`);
  io.out('');
  const row = (label: string, f: (e: Estimate) => string): string[] => [label, ...estimates.map(f)];
  io.out(
    renderTable(
      ['', ...estimates.map((e) => e.target)],
      [
        row('weights', (e) => formatBytes(e.weightBytes)),
        ...weightBufferRows(estimates, row),
        row('activations', (e) => formatBytes(e.activationBytes)),
        row('  compute buffer', (e) => formatBytes(e.computeBytes)),
        ...(estimates.some((e) => e.outputBytes > 0) ? [row('  output buffer', (e) => formatBytes(e.outputBytes))] : []),
        row('KV cache', (e) => formatBytes(e.kvCacheBytes)),
        row('overhead', (e) => formatBytes(e.overheadBytes)),
        row('total', (e) => formatBytes(e.totalBytes)),
        row('capacity', (e) => formatBytes(e.capacityBytes)),
        row('fits', (e) => (e.fits ? 'yes' : 'no')),
        row('devices needed', (e) => String(e.devicesNeeded)),
        row('interconnect', (e) => (e.devicesNeeded > 1 ? (e.interconnect ? `${e.interconnect.name}${e.interconnect.bytesPerSecond ? ` ${e.interconnect.bytesPerSecond / 1e9} GB/s` : ''}` : 'none') : '-')),
        row('decode tok/s', (e) => `${tps(e.decodeTokensPerSecond)} (${e.decodeBound})`),
        row('prefill tok/s', (e) => tps(e.prefillTokensPerSecond)),
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
  const warnings = new Set(estimates.flatMap((e) => e.warnings));
  for (const w of warnings) io.out(`warning: ${w}`);
  io.out('');
  io.out('Assumptions:');
  const seen = new Set<string>();
  for (const e of estimates) for (const a of e.assumptions) if (!seen.has(a)) { seen.add(a); io.out(`  - ${estimates.length > 1 && !estimates.every((x) => x.assumptions.includes(a)) ? `[${e.target}] ` : ''}${a}`); }
  return 0;
}
