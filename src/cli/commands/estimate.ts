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
  type Target,
} from '../../core';
import { openModelFile } from '../../node/fileByteSource';
import { CliError, renderTable, type CliOutput } from '../io';
import { checkPlanFile } from './plan';
import { loadTargetsFile } from './targets';

export const estimateUsage = 'precision-lens estimate FILE --target ID[,ID...] [--batch N] [--context N] [--kv-format F] [--plan PLAN] [--targets-file FILE] [--json]';

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
      json: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  if (positionals.length !== 1 || !values.target) throw new CliError(`Usage: ${estimateUsage}`);
  const batch = positiveInt('batch', values.batch);
  const context = positiveInt('context', values.context);
  const user = await loadTargetsFile(values['targets-file']);
  const targets = resolveTargets(values.target, user);

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
  const notActive = [
    first.mtpParameterCount > 0 ? `multi-token prediction ${formatCount(first.mtpParameterCount)}` : '',
    first.visionParameterCount > 0 ? `vision tower ${formatCount(first.visionParameterCount)}` : '',
    first.audioParameterCount > 0 ? `audio tower ${formatCount(first.audioParameterCount)}` : '',
  ].filter(Boolean);
  if (notActive.length > 0) io.out(`stored, not active per token: ${notActive.join(' · ')}`);
  if (first.attention) io.out(`attention: ${first.attention} · ${formatBytes(first.kvBytesPerToken)} KV per token (${first.kvFormat})${first.recurrentStateBytes > 0 ? ` + ${formatBytes(first.recurrentStateBytes)} recurrent state` : ''}`);
  io.out('');
  const row = (label: string, f: (e: Estimate) => string): string[] => [label, ...estimates.map(f)];
  io.out(
    renderTable(
      ['', ...estimates.map((e) => e.target)],
      [
        row('weights', (e) => formatBytes(e.weightBytes)),
        row('activations', (e) => formatBytes(e.activationBytes)),
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
