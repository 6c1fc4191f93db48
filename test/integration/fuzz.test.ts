/**
 * Bounded mutation run over every reader. Each corpus file (and the hermetic TFLite builder's outputs) is
 * mutated with a seeded PRNG — bit flips, byte overwrites (0xFF/0x00/0x7F/random), truncations, inserted
 * bytes, and inflation of the fields where lengths live (ONNX varint lengths, GGUF/safetensors u64 counts and
 * lengths, safetensors JSON numbers, FlatBuffer u32 offsets/counts), and renaming of tensors/nodes inside the
 * model's bytes to hostile names (`__proto__`, `constructor`, terminal escape sequences, names over maxNameBytes,
 * HTML, bidi controls; ONNX renames keep every reference consistent) — and opened with openModel from memory.
 * Renamed models that open always go on through estimate → sensitivity → plan.
 * Every open must either succeed or throw ModelFormatError, within a time bound, with bounded heap.
 *
 * The run happens in a worker thread with a heap cap, so an endless loop or an out-of-memory in a reader is
 * caught (worker terminated / ERR_WORKER_OUT_OF_MEMORY) and reported with the file and seed instead of
 * hanging or killing the test process.
 *
 * Env: FUZZ_ITERATIONS (total mutations, default 2500), FUZZ_SEED (base seed, default 20240601),
 * FUZZ_BUDGET_MS (wall-clock budget, default 90000: alone on 2 cores 2,500 cases take ~15 s, so a loaded CI
 * machine still runs them all; every one of them must run), FUZZ_REPRO='<file>:<seed>' (run that one mutation and
 * print what it did), FUZZ_VERBOSE=1 (print per-file figures).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  CancelledError, EstimateError, MemoryByteSource, MemorySiblings, ModelFormatError, estimate, getTarget, harmFromSensitivity, openModel, planForTarget,
  type ByteSource, type Model, type SiblingResolver,
} from '../../src/core';
import { onnxTypes } from '../../src/node/onnxProto';
import { analyzeModelSensitivity } from '../../src/node/sensitivityRunner';
import { buildTflite, smallTfliteSpec } from '../fixtures/buildTflite';
import { seededRandom } from '../../src/core';
import { SHARED_MODELS } from './sharedModels';

const MODELS = SHARED_MODELS;
/** Longest a single open may take. */
const MAX_OPEN_MS = 2000;
/** Longest open + estimate + sensitivity + plan of one mutated model. */
const MAX_PIPELINE_MS = 5000;
/** The watchdog kills the worker when no open finished for this long (an endless loop in a reader). */
const HANG_MS = 10_000;
/** Worker heap cap: an unbounded allocation fails the run instead of the machine. */
const HEAP_CAP_MB = 1024;
/** Heap growth over the whole run that counts as a leak. */
const MAX_HEAP_GROWTH_BYTES = 256 * 1024 * 1024;

/** Run estimate → sensitivity → plan on every this-many opened mutations (FUZZ_PIPELINE_EVERY; 0 = never). */
const PIPELINE_EVERY = Number(process.env.FUZZ_PIPELINE_EVERY ?? 3);
/** Models larger than this skip the pipeline stage (its cost is proportional to the weights, not the header). */
const PIPELINE_MAX_BYTES = 2 * 1024 * 1024;

/**
 * The rest of the pipeline on a model that opened: a mutated model must also estimate, score and plan, or refuse
 * with a coded error (ModelFormatError, EstimateError), never crash (issue 14: mutated safetensors crashed
 * `formatSupport`).
 */
async function runPipeline(model: Model, source: ByteSource, siblings: SiblingResolver): Promise<void> {
  const target = getTarget('rtx-4090')!;
  const expected = (e: unknown): boolean => e instanceof ModelFormatError || e instanceof EstimateError || e instanceof CancelledError;
  try {
    estimate(model, target, { context: 512 });
  } catch (e) {
    if (!expected(e)) throw e;
  }
  let report;
  try {
    report = await analyzeModelSensitivity({ model, source, siblings }, { workers: 0, formats: ['fp16', 'int8', 'int4'] });
  } catch (e) {
    if (!expected(e)) throw e;
    return;
  }
  try {
    planForTarget(model, { target, budget: { avgBits: 6 }, context: 512, harm: harmFromSensitivity(report) });
  } catch (e) {
    if (!expected(e)) throw e;
  }
}

//#region inputs and mutations (shared by main thread and worker)
interface FuzzInput {
  readonly label: string;
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly siblings: Readonly<Record<string, Uint8Array>>;
  /** Byte range holding structure (headers, tables) rather than payload: most mutations land here. */
  readonly structureEnd: number;
  /** Positions of length/count/offset fields, with their encoding. */
  readonly lengths: readonly LengthField[];
  /** Where names sit in the bytes (safetensors header keys, GGUF u64-length strings, FlatBuffer u32-length strings). */
  readonly names: readonly NameSite[];
  /** When set, `bytes` is this sibling (e.g. ONNX external data) and the mutation applies to it; the model is `model`. */
  readonly sibling?: { readonly name: string; readonly model: Uint8Array };
}
interface NameSite {
  /** First byte of the string field (the opening quote, or the length prefix). */
  readonly offset: number;
  /** One past its last byte (closing quote, last character; FlatBuffer strings have a NUL after it). */
  readonly end: number;
  readonly kind: 'json-key' | 'u64-string' | 'u32-string';
}

/** Names a hostile file may give its tensors and nodes. */
const HOSTILE_NAMES: readonly string[] = [
  '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', '__defineGetter__',
  '\x1b[31mred\x1b[0m\x07', '\x1b]0;pwned\x07', '\x1b[2J\x1b[H', '\r\noverwritten line', '<script>alert(1)</script>', '"quoted" & <b>',
  'a\u202Egnp.exe', 'x\u0000y', '../../etc/passwd', '', ' ', 'é'.repeat(40), 'n'.repeat(65_536), 'n'.repeat(70_000),
];

interface LengthField {
  readonly offset: number;
  readonly kind: 'u32' | 'u64' | 'varint' | 'digits';
  /** Encoded width in bytes. */
  readonly width: number;
  readonly value: number;
}

function loadInputs(): FuzzInput[] {
  const inputs: FuzzInput[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(full).isDirectory()) walk(full, r);
      else if (/\.(onnx|safetensors|gguf|tflite)$/.test(name)) {
        const siblings: Record<string, Uint8Array> = {};
        for (const s of readdirSync(dir)) if (s !== name && statSync(path.join(dir, s)).isFile() && s.startsWith(name)) siblings[s] = new Uint8Array(readFileSync(path.join(dir, s)));
        const bytes = new Uint8Array(readFileSync(full));
        inputs.push(describe(r, name, bytes, siblings));
        for (const [s, data] of Object.entries(siblings)) {
          inputs.push({ ...describe(`${rel}/${s}`, s, data, {}), name, siblings, sibling: { name: s, model: bytes } });
        }
      }
    }
  };
  walk(MODELS, '');
  inputs.push(describe('builder:tflite-small', 'small.tflite', buildTflite().bytes, {}));
  inputs.push(describe('builder:tflite-external', 'external.tflite', buildTflite(smallTfliteSpec({ externalWeights: true })).bytes, {}));
  return inputs;
}

/** Finds where the structure and the length fields of a file are, per format (a light scan, no readers used). */
function describe(label: string, name: string, bytes: Uint8Array, siblings: Record<string, Uint8Array>): FuzzInput {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengths: LengthField[] = [];
  let structureEnd = bytes.length;
  if (name.endsWith('.safetensors')) {
    const headerBytes = Number(dv.getBigUint64(0, true));
    structureEnd = Math.min(bytes.length, 8 + headerBytes);
    lengths.push({ offset: 0, kind: 'u64', width: 8, value: headerBytes });
    for (let i = 8; i < structureEnd; i++) {
      if (bytes[i]! >= 0x30 && bytes[i]! <= 0x39 && !(bytes[i - 1]! >= 0x30 && bytes[i - 1]! <= 0x39)) {
        let j = i;
        while (j < structureEnd && bytes[j]! >= 0x30 && bytes[j]! <= 0x39) j++;
        lengths.push({ offset: i, kind: 'digits', width: j - i, value: Number(Buffer.from(bytes.subarray(i, j)).toString()) });
      }
    }
  } else if (name.endsWith('.gguf')) {
    structureEnd = Math.min(bytes.length, 1 << 20);
    lengths.push({ offset: 8, kind: 'u64', width: 8, value: Number(dv.getBigUint64(8, true)) });
    lengths.push({ offset: 16, kind: 'u64', width: 8, value: Number(dv.getBigUint64(16, true)) });
    // u64 little-endian values in [1, 2^20] are string/array lengths, counts and dims.
    for (let i = 24; i + 8 <= structureEnd && lengths.length < 20_000; i++) {
      const lo = dv.getUint32(i, true);
      if (lo >= 1 && lo <= 1 << 20 && dv.getUint32(i + 4, true) === 0) lengths.push({ offset: i, kind: 'u64', width: 8, value: lo });
    }
  } else if (name.endsWith('.tflite')) {
    // FlatBuffer uoffsets and vector counts are 4-aligned u32s.
    for (let i = 0; i + 4 <= bytes.length && lengths.length < 20_000; i += 4) {
      const v = dv.getUint32(i, true);
      if (v >= 1 && v < bytes.length) lengths.push({ offset: i, kind: 'u32', width: 4, value: v });
    }
  } else if (name.endsWith('.onnx')) {
    scanProtobuf(bytes, 0, bytes.length, 0, lengths);
  }
  return { label, name, bytes, siblings, structureEnd, lengths, names: nameSites(name, bytes, structureEnd) };
}

const printable = (bytes: Uint8Array, from: number, n: number): boolean => {
  for (let i = from; i < from + n; i++) if (bytes[i]! < 0x20 || bytes[i]! > 0x7e) return false;
  return true;
};

/** Where names are, per format (a light scan; ONNX names are renamed through a decode instead). */
function nameSites(name: string, bytes: Uint8Array, structureEnd: number): NameSite[] {
  const out: NameSite[] = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (name.endsWith('.safetensors')) {
    // Keys of the top-level object: strings at depth 1 followed by ':'.
    let depth = 0;
    for (let i = 8; i < structureEnd && out.length < 5000; i++) {
      const c = bytes[i]!;
      if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) depth--;
      else if (c === 0x22) {
        const start = i++;
        while (i < structureEnd && bytes[i] !== 0x22) i += bytes[i] === 0x5c ? 2 : 1;
        let j = i + 1;
        while (bytes[j] === 0x20) j++;
        if (depth === 1 && bytes[j] === 0x3a && !Buffer.from(bytes.subarray(start, i + 1)).toString().startsWith('"__metadata__')) out.push({ offset: start, end: i + 1, kind: 'json-key' });
      }
    }
  } else if (name.endsWith('.gguf')) {
    for (let i = 24; i + 8 <= structureEnd && out.length < 20_000; i++) {
      const n = dv.getUint32(i, true);
      if (n >= 1 && n <= 256 && dv.getUint32(i + 4, true) === 0 && i + 8 + n <= bytes.length && printable(bytes, i + 8, n)) {
        out.push({ offset: i, end: i + 8 + n, kind: 'u64-string' });
        i += 7 + n;
      }
    }
  } else if (name.endsWith('.tflite')) {
    for (let i = 0; i + 4 <= bytes.length && out.length < 20_000; i += 4) {
      const n = dv.getUint32(i, true);
      if (n >= 1 && n <= 256 && i + 4 + n < bytes.length && bytes[i + 4 + n] === 0 && printable(bytes, i + 4, n)) out.push({ offset: i, end: i + 4 + n, kind: 'u32-string' });
    }
  }
  return out;
}

interface OnnxMsg { [k: string]: any } // eslint-disable-line @typescript-eslint/no-explicit-any

/** An ONNX model with one initializer, value or node renamed to `to` everywhere it is referenced (main graph). */
function renameInOnnx(bytes: Uint8Array, to: string, pickIndex: (n: number) => number): { bytes: Uint8Array; what: string } | undefined {
  const M = onnxTypes().Model;
  let m: OnnxMsg;
  try {
    m = M.decode(bytes) as unknown as OnnxMsg;
  } catch {
    return undefined;
  }
  const g = m.graph as OnnxMsg | undefined;
  if (!g) return undefined;
  const nodes: OnnxMsg[] = g.node ?? [];
  const candidates: { kind: string; name: string }[] = [];
  for (const t of g.initializer ?? []) candidates.push({ kind: 'initializer', name: t.name });
  for (const n of nodes) for (const o of n.output ?? []) if (o) candidates.push({ kind: 'value', name: o });
  for (const n of nodes) if (n.name) candidates.push({ kind: 'node', name: n.name });
  if (candidates.length === 0) return undefined;
  const c = candidates[pickIndex(candidates.length)]!;
  if (c.kind === 'node') {
    for (const n of nodes) if (n.name === c.name) n.name = to;
  } else {
    const swap = (xs: string[] | undefined): string[] | undefined => xs?.map((x) => (x === c.name ? to : x));
    for (const n of nodes) {
      n.input = swap(n.input);
      n.output = swap(n.output);
    }
    for (const list of [g.initializer, g.input, g.output, g.value_info]) for (const v of list ?? []) if (v.name === c.name) v.name = to;
  }
  return { bytes: new Uint8Array(M.encode(m as never).finish()), what: `${c.kind} '${c.name.slice(0, 40)}'` };
}

function readVarint(bytes: Uint8Array, pos: number, end: number): { value: number; next: number } | undefined {
  let value = 0;
  let mul = 1;
  for (let i = pos; i < end && i < pos + 10; i++) {
    value += (bytes[i]! & 0x7f) * mul;
    mul *= 128;
    if ((bytes[i]! & 0x80) === 0) return { value, next: i + 1 };
  }
  return undefined;
}

/** Records the position of every length-delimited field's length varint, recursing into plausible sub-messages. */
function scanProtobuf(bytes: Uint8Array, start: number, end: number, depth: number, out: LengthField[]): boolean {
  let pos = start;
  while (pos < end) {
    const tag = readVarint(bytes, pos, end);
    if (!tag || tag.value < 8) return false;
    pos = tag.next;
    switch (tag.value % 8) {
      case 0: {
        const v = readVarint(bytes, pos, end);
        if (!v) return false;
        pos = v.next;
        break;
      }
      case 1: pos += 8; break;
      case 5: pos += 4; break;
      case 2: {
        const len = readVarint(bytes, pos, end);
        if (!len || len.next + len.value > end) return false;
        if (out.length < 20_000) out.push({ offset: pos, kind: 'varint', width: len.next - pos, value: len.value });
        if (depth < 12 && len.value > 1 && len.value < 1 << 16) {
          const mark = out.length;
          if (!scanProtobuf(bytes, len.next, len.next + len.value, depth + 1, out)) out.length = mark; // not a message (a string or raw bytes)
        }
        pos = len.next + len.value;
        break;
      }
      default:
        return false;
    }
  }
  return pos === end;
}


/** A mutated file as segments over the original bytes (no copy of large files per mutation). */
interface Mutation {
  readonly description: string;
  /** A rename to a hostile name (these always go through the pipeline when they open). */
  readonly renamed?: boolean;
  readonly segments: readonly (readonly [number, number] | Uint8Array)[];
}

function encodeLength(kind: LengthField['kind'], value: number, width: number): Uint8Array {
  switch (kind) {
    case 'u32': {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, value >>> 0, true);
      return b;
    }
    case 'u64': {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(Math.floor(value))), true);
      return b;
    }
    case 'digits':
      return new Uint8Array(Buffer.from(value === -1 ? '-1' : value >= 1e21 ? '99999999999999999999999' : String(value)));
    case 'varint': {
      const out: number[] = [];
      let v = BigInt.asUintN(64, BigInt(Math.floor(value)));
      do {
        let byte = Number(v & 0x7fn);
        v >>= 7n;
        if (v > 0n) byte |= 0x80;
        out.push(byte);
      } while (v > 0n);
      void width;
      return new Uint8Array(out);
    }
  }
}

/** The mutation for (input, seed): fully determined by them. */
function mutationFor(input: FuzzInput, seed: number): Mutation {
  const rnd = seededRandom(seed);
  const size = input.bytes.length;
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const position = (): number => {
    const r = rnd();
    if (r < 0.4 && input.lengths.length > 0) return Math.min(size - 1, pick(input.lengths).offset + int(8));
    if (r < 0.85) return int(Math.max(1, input.structureEnd));
    return int(size);
  };
  const replace = (at: number, removed: number, bytes: Uint8Array, description: string): Mutation => ({
    description,
    segments: [[0, at], bytes, [Math.min(size, at + removed), size]],
  });
  const kind = int(7);
  if (kind === 6) {
    const to = pick(HOSTILE_NAMES);
    const label = JSON.stringify(to.length > 24 ? `${to.slice(0, 12)}…(${to.length} chars)` : to);
    const toBytes = new Uint8Array(Buffer.from(to));
    if (input.name.endsWith('.onnx') && !input.sibling) {
      const r = renameInOnnx(input.bytes, to, int);
      if (r) return { description: `rename ${r.what} to ${label}`, segments: [r.bytes], renamed: true };
    } else if (input.names.length > 0 && !input.sibling) {
      const site = pick(input.names);
      if (site.kind === 'json-key') {
        const key = new Uint8Array(Buffer.from(JSON.stringify(to)));
        const headerLength = Number(new DataView(input.bytes.buffer, input.bytes.byteOffset).getBigUint64(0, true)) + key.length - (site.end - site.offset);
        return { description: `rename safetensors tensor at ${site.offset} to ${label}`, segments: [encodeLength('u64', headerLength, 8), [8, site.offset], key, [site.end, size]], renamed: true };
      }
      if (site.kind === 'u64-string') {
        return { description: `rename GGUF string at ${site.offset} to ${label}`, segments: [[0, site.offset], encodeLength('u64', toBytes.length, 8), toBytes, [site.end, size]], renamed: true };
      }
      // FlatBuffer strings cannot grow in place: a shorter name is written over the old one (length, bytes, NUL, zero padding).
      const room = site.end - site.offset - 4;
      const fit = toBytes.length <= room ? toBytes : toBytes.subarray(0, room);
      const patch = new Uint8Array(4 + room);
      new DataView(patch.buffer).setUint32(0, fit.length, true);
      patch.set(fit, 4);
      return { description: `rename TFLite string at ${site.offset} to ${label}${fit.length < toBytes.length ? ` (cut to ${fit.length} bytes)` : ''}`, segments: [[0, site.offset], patch, [site.end, size]], renamed: true };
    }
  }
  switch (kind) {
    case 0: {
      // Flip 1-8 bits near one place.
      const at = position();
      const n = 1 + int(8);
      const span = Math.min(16, size - at);
      const patch = input.bytes.slice(at, at + span);
      const bits: string[] = [];
      for (let i = 0; i < n; i++) {
        const bit = int(span * 8);
        patch[bit >> 3]! ^= 1 << (bit & 7);
        bits.push(String(at * 8 + bit));
      }
      return replace(at, span, patch, `flip bits ${bits.join(',')}`);
    }
    case 1: {
      const at = position();
      const n = Math.min(1 + int(16), size - at);
      const fill = pick([0xff, 0x00, 0x7f, -1]);
      const patch = new Uint8Array(n).map(() => (fill < 0 ? int(256) : fill));
      return replace(at, n, patch, `overwrite ${n} bytes at ${at} with ${fill < 0 ? 'random' : `0x${fill.toString(16)}`}`);
    }
    case 2: {
      const to = rnd() < 0.7 ? int(Math.max(1, input.structureEnd)) : int(size);
      return { description: `truncate to ${to} bytes`, segments: [[0, to]] };
    }
    case 3: {
      const at = position();
      const n = 1 + int(64);
      const fill = pick([0xff, 0x00, -1]);
      const patch = new Uint8Array(n).map(() => (fill < 0 ? int(256) : fill));
      return replace(at, 0, patch, `insert ${n} bytes (${fill < 0 ? 'random' : `0x${fill.toString(16)}`}) at ${at}`);
    }
    default: {
      // Inflate (or zero / negate) a length field where the format keeps lengths.
      if (input.lengths.length === 0) {
        const to = int(size);
        return { description: `truncate to ${to} bytes`, segments: [[0, to]] };
      }
      const f = pick(input.lengths);
      const value = pick([0xffffffff, 0x80000000, 0x7fffffff, f.value + 1, f.value * 2, f.value * 1000, size, size - f.offset, 0, 2 ** 53, 2 ** 63, 2 ** 64 - 1, -1]);
      const encoded = f.kind === 'u32' && value > 0xffffffff ? encodeLength('u32', 0xffffffff, 4) : encodeLength(f.kind, value < 0 && f.kind !== 'digits' ? 2 ** 64 - 1 : value, f.width);
      return replace(f.offset, f.width, encoded, `set ${f.kind} length at ${f.offset} from ${f.value} to ${value}`);
    }
  }
}

/** ByteSource over a mutation's segments. */
class MutatedSource implements ByteSource {
  readonly size: number;
  constructor(readonly name: string, private readonly base: Uint8Array, private readonly segments: Mutation['segments']) {
    let n = 0;
    for (const s of segments) n += s instanceof Uint8Array ? s.length : Math.max(0, s[1] - s[0]);
    this.size = n;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      return Promise.reject(new ModelFormatError('truncated', `${this.name}: needs bytes ${offset}..${offset + length} but the file has ${this.size} bytes.`, offset));
    }
    const out = new Uint8Array(length);
    let pos = 0; // position in the mutated file of the current segment start
    let done = 0;
    for (const s of this.segments) {
      const bytes = s instanceof Uint8Array ? s : this.base.subarray(s[0], Math.max(s[0], s[1]));
      const segEnd = pos + bytes.length;
      const from = Math.max(offset + done, pos);
      if (from < segEnd && done < length) {
        const n = Math.min(segEnd - from, length - done);
        out.set(bytes.subarray(from - pos, from - pos + n), done);
        done += n;
      }
      pos = segEnd;
      if (done >= length) break;
    }
    return Promise.resolve(out);
  }
}
//#endregion

//#region worker
interface Failure {
  readonly file: string;
  readonly seed: number;
  readonly mutation: string;
  readonly error: string;
}
interface Summary {
  readonly run: number;
  readonly opened: number;
  readonly rejected: number;
  /** Opened mutations also run through estimate, sensitivity and plan. */
  readonly pipelined: number;
  /** Renames to hostile names: run, opened, and run through the pipeline. */
  readonly renamed: { readonly run: number; readonly opened: number; readonly pipelined: number };
  /** Peak RSS of the process (worker included), KiB. */
  readonly maxRssKB: number;
  readonly failures: readonly Failure[];
  readonly slowest: { readonly file: string; readonly seed: number; readonly ms: number };
  readonly heapGrowthBytes: number;
  readonly elapsedMs: number;
  readonly perFile: Readonly<Record<string, { run: number; opened: number; maxMs: number }>>;
}
type WorkerMessage = { type: 'start'; file: string; seed: number; mutation: string } | { type: 'done'; summary: Summary };

async function runWorker(): Promise<void> {
  const { iterations, baseSeed, budgetMs, repro } = workerData as { iterations: number; baseSeed: number; budgetMs: number; repro: string | undefined };
  const inputs = loadInputs();
  // Exposes gc() so the heap figures compare live data, not garbage (flags cannot go in a worker's execArgv).
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  gc?.();
  const heapStart = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const failures: Failure[] = [];
  const perFile: Record<string, { run: number; opened: number; maxMs: number }> = {};
  let run = 0;
  let opened = 0;
  let rejected = 0;
  let pipelined = 0;
  const renamed = { run: 0, opened: 0, pipelined: 0 };
  let slowest = { file: '', seed: 0, ms: 0 };
  const jobs: { input: FuzzInput; seed: number }[] = [];
  if (repro) {
    const at = repro.lastIndexOf(':');
    const input = inputs.find((i) => i.label === repro.slice(0, at));
    if (!input) throw new Error(`FUZZ_REPRO: no input '${repro.slice(0, at)}'.`);
    jobs.push({ input, seed: Number(repro.slice(at + 1)) });
  }
  for (let i = 0; !repro && i < iterations; i++) jobs.push({ input: inputs[i % inputs.length]!, seed: (baseSeed + i) >>> 0 });
  for (const { input, seed } of jobs) {
    if (!repro && performance.now() - t0 > budgetMs) break;
    const m = mutationFor(input, seed);
    parentPort!.postMessage({ type: 'start', file: input.label, seed, mutation: m.description } satisfies WorkerMessage);
    let source: ByteSource = new MutatedSource(input.name, input.bytes, m.segments);
    let siblings = input.siblings;
    if (input.sibling) {
      siblings = { ...siblings, [input.sibling.name]: materialize(input.bytes, m) };
      source = new MemoryByteSource(input.name, input.sibling.model);
    }
    const start = performance.now();
    const stats = (perFile[input.label] ??= { run: 0, opened: 0, maxMs: 0 });
    let outcome = 'opened';
    try {
      const resolver = new MemorySiblings(input.name, siblings);
      const model = await openModel(source, { siblings: resolver });
      opened++;
      stats.opened++;
      if (m.renamed) renamed.opened++;
      if (PIPELINE_EVERY > 0 && (m.renamed || opened % PIPELINE_EVERY === 0) && model.totalFileBytes <= PIPELINE_MAX_BYTES) {
        await runPipeline(model, source, resolver);
        pipelined++;
        if (m.renamed) renamed.pipelined++;
        outcome = 'opened, estimated, scored and planned';
      }
    } catch (e) {
      outcome = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      if (e instanceof ModelFormatError) rejected++;
      else failures.push({ file: input.label, seed, mutation: m.description, error: e instanceof Error ? (e.stack ?? e.message).split('\n').slice(0, 4).join(' | ') : String(e) });
    }
    const ms = performance.now() - start;
    if (ms > slowest.ms) slowest = { file: input.label, seed, ms };
    if (ms > (outcome.startsWith('opened, ') ? MAX_PIPELINE_MS : MAX_OPEN_MS)) failures.push({ file: input.label, seed, mutation: m.description, error: `open took ${ms.toFixed(0)} ms (limit ${MAX_OPEN_MS} ms)` });
    stats.run++;
    if (m.renamed) renamed.run++;
    stats.maxMs = Math.max(stats.maxMs, ms);
    run++;
    if (repro) console.log(`${input.label} seed ${seed}: ${m.description} (${source.size} bytes) → ${outcome} (${ms.toFixed(0)} ms)`);
  }
  gc?.();
  const summary: Summary = {
    run, opened, rejected, pipelined, renamed, failures, slowest, perFile, maxRssKB: process.resourceUsage().maxRSS,
    heapGrowthBytes: process.memoryUsage().heapUsed - heapStart,
    elapsedMs: performance.now() - t0,
  };
  parentPort!.postMessage({ type: 'done', summary } satisfies WorkerMessage);
}
//#endregion

/** The mutated file as one array (reference for MutatedSource). */
function materialize(base: Uint8Array, m: Mutation): Uint8Array {
  const parts = m.segments.map((s) => (s instanceof Uint8Array ? s : base.subarray(s[0], Math.max(s[0], s[1]))));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

if (!isMainThread) {
  void runWorker();
} else {
  test('mutations are reproducible from (file, seed) and MutatedSource reads exactly the mutated bytes', async () => {
    const inputs = loadInputs();
    assert.equal(inputs.length, 24, '21 corpus models, the cartpole external-data file, 2 builder outputs');
    for (let i = 0; i < 240; i++) {
      const input: FuzzInput = inputs[i % inputs.length]!;
      if (input.sibling) continue;
      const m = mutationFor(input, 777 + i);
      assert.equal(mutationFor(input, 777 + i).description, m.description);
      const whole = materialize(input.bytes, m);
      const src = new MutatedSource(input.name, input.bytes, m.segments);
      assert.equal(src.size, whole.length, m.description);
      const rnd = seededRandom(i);
      for (let k = 0; k < 8 && whole.length > 0; k++) {
        const off = Math.floor(rnd() * whole.length);
        const len = Math.min(whole.length - off, Math.floor(rnd() * 70_000));
        assert.deepEqual(await src.read(off, len), whole.subarray(off, off + len), `${input.label} ${m.description} read ${off}+${len}`);
      }
      if (i < 48) {
        // Same outcome through MemoryByteSource over the materialized bytes.
        const outcome = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (e instanceof Error ? e.message : String(e)));
        const siblings = new MemorySiblings(input.name, input.siblings);
        assert.equal(await outcome(openModel(src, { siblings })), await outcome(openModel(new MemoryByteSource(input.name, whole), { siblings })), m.description);
      }
    }
  });

  test('mutation run: every mutated model opens or throws ModelFormatError, fast and with bounded heap', { timeout: Number(process.env.FUZZ_BUDGET_MS ?? 90_000) + 120_000 }, async () => {
    const iterations = Number(process.env.FUZZ_ITERATIONS ?? 2500);
    const baseSeed = Number(process.env.FUZZ_SEED ?? 20240601);
    const budgetMs = Number(process.env.FUZZ_BUDGET_MS ?? 90_000);
    const repro = process.env.FUZZ_REPRO;
    // The worker runs this same file; tsx's CommonJS hook compiles it there (module hooks do not reach workers).
    const bootstrap = `require('tsx/cjs'); require(${JSON.stringify(__filename)});`;
    const worker = new Worker(bootstrap, {
      eval: true,
      workerData: { iterations, baseSeed, budgetMs, repro },
      resourceLimits: { maxOldGenerationSizeMb: HEAP_CAP_MB },
    });
    let last: Extract<WorkerMessage, { type: 'start' }> | undefined;
    let lastAt = performance.now();
    const summary = await new Promise<Summary>((resolve, reject) => {
      const watchdog = setInterval(() => {
        if (performance.now() - lastAt > HANG_MS) {
          clearInterval(watchdog);
          void worker.terminate();
          reject(new Error(`A reader hung for over ${HANG_MS} ms: ${last?.file} seed ${last?.seed} (${last?.mutation}). Reproduce: FUZZ_REPRO='${last?.file}:${last?.seed}'.`));
        }
      }, 250);
      worker.on('message', (msg: WorkerMessage) => {
        lastAt = performance.now();
        if (msg.type === 'start') last = msg;
        else {
          clearInterval(watchdog);
          resolve(msg.summary);
        }
      });
      worker.on('error', (e) => {
        clearInterval(watchdog);
        reject(new Error(`The fuzz worker died (${(e as NodeJS.ErrnoException).code ?? e.message}) at ${last?.file} seed ${last?.seed} (${last?.mutation}). Reproduce: FUZZ_REPRO='${last?.file}:${last?.seed}'.`));
      });
      worker.on('exit', (code) => {
        clearInterval(watchdog);
        reject(new Error(`The fuzz worker exited early (code ${code}) at ${last?.file} seed ${last?.seed}.`));
      });
    });
    await worker.terminate();
    const line = `fuzz: ${summary.run} mutations (${summary.opened} opened, ${summary.pipelined} through estimate+sensitivity+plan, ${summary.rejected} ModelFormatError, ${summary.failures.length} failures) in ${(summary.elapsedMs / 1000).toFixed(1)} s; slowest ${summary.slowest.ms.toFixed(0)} ms (${summary.slowest.file} seed ${summary.slowest.seed}); heap growth ${(summary.heapGrowthBytes / 1048576).toFixed(1)} MiB; ${summary.renamed.run} renames to hostile names (${summary.renamed.opened} opened, ${summary.renamed.pipelined} through the pipeline); peak RSS ${Math.round(summary.maxRssKB / 1024)} MB`;
    console.log(line);
    if (process.env.FUZZ_VERBOSE) for (const [f, s] of Object.entries(summary.perFile)) console.log(`  ${f}: ${s.run} run, ${s.opened} opened, max ${s.maxMs.toFixed(0)} ms`);
    for (const f of summary.failures.slice(0, 30)) console.log(`  FAIL ${f.file} seed ${f.seed} (${f.mutation}): ${f.error}\n    reproduce: FUZZ_REPRO='${f.file}:${f.seed}' node --import tsx --test test/unit/fuzz.test.ts`);
    assert.deepEqual(summary.failures.map((f) => `${f.file}:${f.seed} ${f.error.split(' | ')[0]}`), [], line);
    assert.ok(summary.heapGrowthBytes < MAX_HEAP_GROWTH_BYTES, `heap grew ${summary.heapGrowthBytes} bytes`);
    if (!repro) assert.ok(summary.run >= iterations, `only ${summary.run} mutations ran within the ${budgetMs} ms budget`);
  });
}
