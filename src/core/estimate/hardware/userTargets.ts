/**
 * User-defined targets: a JSON file the user points to (`--targets-file`, the `precisionLens.targetsFile`
 * setting) that adds devices or overrides catalog entries. Untrusted input: size, count and string lengths
 * are bounded, every field is type-checked, unknown keys are refused (they are usually typos), and each
 * problem is one sentence naming the file and the target.
 *
 * Shape (JSON with comments allowed): `{ "targets": [ … ] }` or a bare array. Each entry:
 * ```jsonc
 * {
 *   "id": "my-gpu",                  // lowercase letters, digits, '-', '_', '.'; a catalog id overrides that entry
 *   "extends": "h100",               // optional: start from a catalog (or earlier user) target
 *   "name": "Lab GPU", "vendor": "NVIDIA", "kind": "datacenter-gpu",
 *   "memoryGiB": 80,                 // or "memoryBytes"
 *   "memoryBandwidthGBps": 3350,     // decimal GB/s, or "memoryBandwidthBytesPerSecond"
 *   "throughputTFLOPS": { "bf16": 989.4, "fp8": 1978.9 },   // dense; or "throughput" in FLOP/s
 *   "native": ["bf16", "fp8"],       // default: the keys of the throughput table (plus fp32)
 *   "interconnect": { "name": "NVLink", "GBps": 900 },      // or "bytesPerSecond"; null for none
 *   "overhead": { "GiB": 0.75, "fraction": 0.05, "note": "…" },  // or "bytes"
 *   "sramOnly": false, "source": "…", "confidence": "L", "notes": "…"
 * }
 * ```
 * An entry with a catalog id (or `extends`) may give only the fields it changes; a new target needs memory,
 * bandwidth and at least one throughput figure.
 */
import { isJsonObject } from '../../model/dict';
import { parseJsoncValue } from '../../io/jsonc';
import { DEFAULT_LIMITS } from '../../io/limits';
import { formatError } from '../../errors';
import { COMPUTE_TYPES, type ComputeType } from '../../precision/numberFormats';
import { TARGETS, type Interconnect, type RuntimeOverhead, type Target, type TargetKind } from './catalog';
import { EstimateError } from './errors';

//#region limits (threats: a huge or deeply repetitive file from an untrusted workspace)
/** Largest targets file read. Threat: a multi-gigabyte JSON file exhausting memory in the extension host. */
export const MAX_TARGET_FILE_BYTES = 1024 * 1024;
/** Most targets in one file. Threat: millions of entries making every lookup and listing slow. */
export const MAX_USER_TARGETS = 256;
/** Longest free-text field (name, notes, source). Threat: megabyte strings in tables and the UI. */
export const MAX_TARGET_TEXT_LENGTH = 2000;
/** Largest accepted capacity/bandwidth/rate, far above any device. Threat: 1e308 values overflowing sums to Infinity. */
const MAX_QUANTITY = 1e21;
//#endregion

const KINDS: readonly TargetKind[] = ['datacenter-gpu', 'export-gpu', 'consumer-gpu', 'edge', 'laptop', 'phone', 'accelerator', 'cpu'];
const KEYS = new Set([
  'id', 'extends', 'name', 'vendor', 'kind', 'memoryBytes', 'memoryGiB', 'memoryBandwidthBytesPerSecond', 'memoryBandwidthGBps',
  'throughput', 'throughputTFLOPS', 'native', 'interconnect', 'overhead', 'sramOnly', 'source', 'confidence', 'notes',
]);
const ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * Parses and validates a targets file. Returns complete targets (overrides already merged with the catalog
 * entry or `extends` base); pass them to {@link mergeTargets} or {@link getTarget}'s `extra`.
 * Throws {@link EstimateError} ('bad-target-file') with a one-sentence message.
 */
export function parseUserTargets(jsonText: string, fileName: string): Target[] {
  const fail = (problem: string): never => {
    throw new EstimateError('bad-target-file', formatError(fileName, problem));
  };
  if (jsonText.length > MAX_TARGET_FILE_BYTES) fail(`the targets file is larger than ${MAX_TARGET_FILE_BYTES} bytes`);
  // JSON with comments and trailing commas, like VS Code settings files (users annotate their figures).
  // Depth-gated and built without recursion; keys are own properties, so `__proto__` is an unknown field (io/jsonc.ts).
  const parsed = parseJsoncValue(jsonText, DEFAULT_LIMITS.maxNestingDepth);
  if (parsed.error !== undefined) return fail(parsed.error);
  const doc = parsed.value as Json;
  const list = Array.isArray(doc) ? doc : isObject(doc) && Array.isArray(doc['targets']) ? doc['targets'] : fail('expected an array of targets or an object with a "targets" array');
  if (list.length > MAX_USER_TARGETS) fail(`has ${list.length} targets, more than the limit of ${MAX_USER_TARGETS}`);
  const out: Target[] = [];
  list.forEach((entry, i) => {
    const t = parseEntry(entry, i, out, fail);
    const dup = out.findIndex((o) => o.id === t.id);
    if (dup >= 0) fail(`target ${i + 1} repeats the id '${t.id}'`);
    out.push(t);
  });
  return out;
}

function parseEntry(entry: Json, index: number, earlier: readonly Target[], failFile: (p: string) => never): Target {
  if (!isObject(entry)) return failFile(`target ${index + 1} is not an object`);
  const rawId = entry['id'];
  if (typeof rawId !== 'string' || !ID_PATTERN.test(rawId)) {
    return failFile(`target ${index + 1} needs an "id" of lowercase letters, digits, '-', '_' or '.' (at most 64 characters)`);
  }
  const id = rawId;
  const fail = (problem: string): never => failFile(`target '${id}': ${problem}`);
  for (const k of Object.keys(entry)) if (!KEYS.has(k)) fail(`unknown field "${k.slice(0, 60)}"`);

  let base: Target | undefined = TARGETS.find((t) => t.id === id);
  const ext = entry['extends'];
  if (ext !== undefined) {
    if (typeof ext !== 'string') fail('"extends" must be a target id');
    base = earlier.find((t) => t.id === ext) ?? TARGETS.find((t) => t.id === ext);
    if (!base) fail(`"extends" names the unknown target '${String(ext).slice(0, 64)}'`);
  }

  const text = (key: string): string | undefined => {
    const v = entry[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length > MAX_TARGET_TEXT_LENGTH) return fail(`"${key}" must be a string of at most ${MAX_TARGET_TEXT_LENGTH} characters`);
    return v;
  };
  const quantity = (key: string, v: Json | undefined, scale: number, allowZero = false): number | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0) || v * scale > MAX_QUANTITY) {
      return fail(`"${key}" must be a ${allowZero ? 'non-negative' : 'positive'} number`);
    }
    return v * scale;
  };
  const either = (a: string, b: string, scaleB: number): number | undefined => {
    if (entry[a] !== undefined && entry[b] !== undefined) fail(`give either "${a}" or "${b}", not both`);
    return quantity(a, entry[a], 1) ?? quantity(b, entry[b], scaleB);
  };

  const memoryBytes = either('memoryBytes', 'memoryGiB', 2 ** 30) ?? base?.memoryBytes ?? fail('needs "memoryGiB" or "memoryBytes"');
  const memoryBandwidthBytesPerSecond =
    either('memoryBandwidthBytesPerSecond', 'memoryBandwidthGBps', 1e9) ?? base?.memoryBandwidthBytesPerSecond ?? fail('needs "memoryBandwidthGBps" or "memoryBandwidthBytesPerSecond"');

  if (entry['throughput'] !== undefined && entry['throughputTFLOPS'] !== undefined) fail('give either "throughput" or "throughputTFLOPS", not both');
  const tpKey = entry['throughputTFLOPS'] !== undefined ? 'throughputTFLOPS' : 'throughput';
  const tpRaw = entry[tpKey];
  let throughput: Partial<Record<ComputeType, number>> | undefined;
  if (tpRaw !== undefined) {
    if (!isObject(tpRaw)) fail(`"${tpKey}" must be an object of compute type → rate`);
    throughput = {};
    for (const [k, v] of Object.entries(tpRaw as Record<string, Json>)) {
      const type = computeType(k, fail);
      throughput[type] = quantity(`${tpKey}.${k}`, v, tpKey === 'throughputTFLOPS' ? 1e12 : 1) ?? 0;
    }
  }
  throughput = throughput ?? (base ? { ...base.throughput } : undefined);
  if (!throughput || Object.keys(throughput).length === 0) fail(`needs at least one "throughputTFLOPS" entry (${COMPUTE_TYPES.join(', ')})`);

  let native: ComputeType[] | undefined;
  const nativeRaw = entry['native'];
  if (nativeRaw !== undefined) {
    if (!Array.isArray(nativeRaw) || nativeRaw.length > COMPUTE_TYPES.length * 2) fail(`"native" must be an array of compute types (${COMPUTE_TYPES.join(', ')})`);
    native = [...new Set((nativeRaw as Json[]).map((v) => (typeof v === 'string' ? computeType(v, fail) : fail('"native" must hold compute type names'))))];
  }
  native = native ?? (base ? [...base.native] : [...new Set<ComputeType>(['fp32', ...(Object.keys(throughput!) as ComputeType[])])]);

  const kindRaw = entry['kind'];
  if (kindRaw !== undefined && (typeof kindRaw !== 'string' || !KINDS.includes(kindRaw as TargetKind))) fail(`"kind" must be one of ${KINDS.join(', ')}`);
  const confRaw = entry['confidence'];
  if (confRaw !== undefined && confRaw !== 'H' && confRaw !== 'M' && confRaw !== 'L') fail('"confidence" must be "H", "M" or "L"');
  const sramRaw = entry['sramOnly'];
  if (sramRaw !== undefined && typeof sramRaw !== 'boolean') fail('"sramOnly" must be true or false');

  let interconnect: Interconnect | undefined = base?.interconnect;
  const icRaw = entry['interconnect'];
  if (icRaw === null) interconnect = undefined;
  else if (icRaw !== undefined) {
    if (!isObject(icRaw)) fail('"interconnect" must be an object with "name" and "GBps" (or "bytesPerSecond"), or null');
    const ic = icRaw as Record<string, Json>;
    for (const k of Object.keys(ic)) if (!['name', 'GBps', 'bytesPerSecond'].includes(k)) fail(`unknown field "interconnect.${k.slice(0, 60)}"`);
    const name = ic['name'];
    if (typeof name !== 'string' || name.length > MAX_TARGET_TEXT_LENGTH) fail('"interconnect.name" must be a string');
    if (ic['GBps'] !== undefined && ic['bytesPerSecond'] !== undefined) fail('give either "interconnect.GBps" or "interconnect.bytesPerSecond", not both');
    const bps = quantity('interconnect.bytesPerSecond', ic['bytesPerSecond'], 1) ?? quantity('interconnect.GBps', ic['GBps'], 1e9) ?? null;
    interconnect = { name: name as string, bytesPerSecond: bps };
  }

  let overhead: RuntimeOverhead = base?.overhead ?? { bytes: 512 * 2 ** 20, fraction: 0.05, note: 'Default for user targets: 512 MiB runtime plus 5%.' };
  const ovRaw = entry['overhead'];
  if (ovRaw !== undefined) {
    if (!isObject(ovRaw)) fail('"overhead" must be an object with "GiB" (or "bytes"), "fraction" and "note"');
    const ov = ovRaw as Record<string, Json>;
    for (const k of Object.keys(ov)) if (!['GiB', 'bytes', 'fraction', 'note'].includes(k)) fail(`unknown field "overhead.${k.slice(0, 60)}"`);
    if (ov['GiB'] !== undefined && ov['bytes'] !== undefined) fail('give either "overhead.GiB" or "overhead.bytes", not both');
    const bytes = quantity('overhead.bytes', ov['bytes'], 1, true) ?? quantity('overhead.GiB', ov['GiB'], 2 ** 30, true) ?? overhead.bytes;
    const fraction = quantity('overhead.fraction', ov['fraction'], 1, true) ?? overhead.fraction;
    if (fraction > 1) fail('"overhead.fraction" must be between 0 and 1');
    const note = ov['note'];
    if (note !== undefined && (typeof note !== 'string' || note.length > MAX_TARGET_TEXT_LENGTH)) fail('"overhead.note" must be a string');
    overhead = { bytes, fraction, note: typeof note === 'string' ? note : 'Set in the targets file.' };
  }
  if (overhead.bytes >= memoryBytes) fail('"overhead" leaves no memory for the model');

  return {
    id,
    name: text('name') ?? base?.name ?? id,
    vendor: text('vendor') ?? base?.vendor ?? 'user',
    kind: (kindRaw as TargetKind | undefined) ?? base?.kind ?? 'accelerator',
    memoryBytes,
    memoryBandwidthBytesPerSecond,
    throughput: throughput!,
    native,
    interconnect,
    overhead,
    sramOnly: (sramRaw as boolean | undefined) ?? base?.sramOnly ?? false,
    source: text('source') ?? (base ? `${base.source} (edited by a targets file)` : 'targets file'),
    confidence: (confRaw as 'H' | 'M' | 'L' | undefined) ?? base?.confidence ?? 'L',
    notes: text('notes') ?? base?.notes ?? '',
  };
}

function computeType(k: string, fail: (p: string) => never): ComputeType {
  if ((COMPUTE_TYPES as readonly string[]).includes(k)) return k as ComputeType;
  return fail(`unknown compute type '${k.slice(0, 40)}' (known: ${COMPUTE_TYPES.join(', ')})`);
}


function isObject(v: Json | undefined): v is { [k: string]: Json } {
  return isJsonObject(v);
}
