/**
 * Sharded safetensors benchmark: a ~4 GB llama-style BF16 model (26 layers, hidden 2560, FFN 6912, vocab 32000)
 * written as 8 shards + `model.safetensors.index.json` + `config.json` in a temp folder. Shards are sparse files
 * (JSON header, then ftruncate to full size), so no weight bytes are ever written or read.
 * Reports: parse time (via the index and via one shard), bytes read / total size, peak RSS (target < 200 MB).
 *
 * Second row (issue 13): 100,000 tiny tensors in 80 shards opened through the index, in process, against the floor
 * of reading those headers at all: per shard, its 8-byte length, its header and one `JSON.parse` (alternating, in
 * the same run). Goal: ours ≤ 1.5× the floor (median wall time over PL_BENCH_RUNS alternating pairs, default 9); exit
 * status 1 when missed. CPU time (user + sys of the process during each run) and the load average are printed beside.
 *
 * PL_BENCH_ROWS=sharded,many picks the rows (default both; `many` alone is the 100,000-tensor row).
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { openModel, type Model } from '../src/core';
import { openModelFile } from '../src/node/fileByteSource';
import { buildSafetensors, llamaTensors, stByteLength, type StTensorSpec } from '../test/fixtures/buildSafetensors';

const SHARDS = 8;
const RUNS = 5;
/** Alternating pairs of the 100,000-tensor row. */
const MANY_RUNS = Math.max(1, Number(process.env['PL_BENCH_RUNS'] ?? 9));
const ROWS = (process.env['PL_BENCH_ROWS'] ?? 'sharded,many').split(',');
for (const r of ROWS) if (r !== 'sharded' && r !== 'many') throw new Error(`PL_BENCH_ROWS: unknown row '${r}' (rows: sharded, many)`);

async function writeModel(dir: string): Promise<{ indexPath: string; shardPaths: string[]; totalBytes: number; tensorCount: number; params: number }> {
  const tensors = llamaTensors({ layers: 26, hidden: 2560, ffn: 6912, vocab: 32000, dtype: 'BF16' });
  const total = tensors.reduce((s, t) => s + stByteLength(t.dtype, t.shape), 0);
  // Contiguous groups of roughly total / SHARDS bytes each.
  const groups: StTensorSpec[][] = [[]];
  let acc = 0;
  for (const t of tensors) {
    if (acc >= ((groups.length * total) / SHARDS) && groups.length < SHARDS) groups.push([]);
    groups[groups.length - 1]!.push(t);
    acc += stByteLength(t.dtype, t.shape);
  }
  const weightMap: Record<string, string> = {};
  const shardPaths: string[] = [];
  let totalBytes = 0;
  for (let i = 0; i < groups.length; i++) {
    const name = `model-${String(i + 1).padStart(5, '0')}-of-${String(groups.length).padStart(5, '0')}.safetensors`;
    const built = buildSafetensors(groups[i]!, { metadata: { format: 'pt' }, omitData: true });
    const p = path.join(dir, name);
    await fs.writeFile(p, built.bytes);
    await fs.truncate(p, built.totalByteLength);
    shardPaths.push(p);
    totalBytes += built.totalByteLength;
    for (const t of groups[i]!) weightMap[t.name] = name;
  }
  const indexPath = path.join(dir, 'model.safetensors.index.json');
  const index = JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2);
  await fs.writeFile(indexPath, index);
  totalBytes += Buffer.byteLength(index);
  await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', num_hidden_layers: 26, hidden_size: 2560, intermediate_size: 6912,
    num_attention_heads: 20, num_key_value_heads: 10, max_position_embeddings: 4096, vocab_size: 32000, torch_dtype: 'bfloat16',
  }));
  const params = tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
  return { indexPath, shardPaths, totalBytes, tensorCount: tensors.length, params };
}

async function parse(file: string): Promise<{ model: Model; ms: number; bytesRead: number }> {
  const t0 = performance.now();
  const { source, siblings, close } = await openModelFile(file);
  try {
    const model = await openModel(source, { siblings });
    const ms = performance.now() - t0;
    return { model, ms, bytesRead: source.bytesRead + (await siblings.bytesRead()) };
  } finally {
    await close();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'plens-st-bench-'));
  try {
    const rssBefore = process.memoryUsage().rss;
    const m = await writeModel(dir);
    const viaIndex: number[] = [];
    const viaShard: number[] = [];
    let last: { model: Model; bytesRead: number } | undefined;
    for (let i = 0; i < RUNS; i++) {
      const a = await parse(m.indexPath);
      viaIndex.push(a.ms);
      const b = await parse(m.shardPaths[3]!);
      viaShard.push(b.ms);
      if (a.model.tensorCount !== m.tensorCount || b.model.tensorCount !== m.tensorCount || a.model.parameterCount !== m.params) {
        throw new Error(`wrong counts: ${a.model.tensorCount}/${b.model.tensorCount} tensors, expected ${m.tensorCount}`);
      }
      last = a;
    }
    const peakRssMb = process.resourceUsage().maxRSS / 1024;
    console.log(`model: ${m.tensorCount} tensors, ${(m.params / 1e9).toFixed(2)} B params, ${SHARDS} shards, ${(m.totalBytes / 2 ** 30).toFixed(2)} GiB on disk (sparse)`);
    console.log(`parse via index: median ${median(viaIndex).toFixed(1)} ms (first ${viaIndex[0]!.toFixed(1)} ms, ${RUNS} runs)`);
    console.log(`parse via shard 4: median ${median(viaShard).toFixed(1)} ms`);
    console.log(`bytes read: ${last!.bytesRead} of ${m.totalBytes} (${((last!.bytesRead / m.totalBytes) * 100).toExponential(2)} %)`);
    console.log(`hyperparameters: ${JSON.stringify(last!.model.hyperparameters)}`);
    console.log(`peak RSS: ${peakRssMb.toFixed(0)} MB (process start ${(rssBefore / 2 ** 20).toFixed(0)} MB; target < 200 MB) ${peakRssMb < 200 ? 'OK' : 'OVER TARGET'}`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const MANY_TENSORS = 100_000;
const MANY_SHARDS = 80;

/** 100,000 F16 [4] tensors over 80 shards + index; the shards hold real (zero) bytes, 1 KB each. */
async function writeManyTensorModel(dir: string): Promise<{ indexPath: string; shardPaths: string[] }> {
  const perShard = MANY_TENSORS / MANY_SHARDS;
  const weightMap: Record<string, string> = {};
  const shardPaths: string[] = [];
  for (let s = 0; s < MANY_SHARDS; s++) {
    const name = `model-${String(s + 1).padStart(5, '0')}-of-${String(MANY_SHARDS).padStart(5, '0')}.safetensors`;
    const specs: StTensorSpec[] = [];
    for (let i = 0; i < perShard; i++) {
      const k = s * perShard + i;
      specs.push({ name: `model.layers.${Math.floor(k / 10)}.mlp.experts.${k % 10}.down_proj.weight`, dtype: 'F16', shape: [4] });
    }
    for (const t of specs) weightMap[t.name] = name;
    const p = path.join(dir, name);
    await fs.writeFile(p, buildSafetensors(specs, { metadata: { format: 'pt' } }).bytes);
    shardPaths.push(p);
  }
  const indexPath = path.join(dir, 'model.safetensors.index.json');
  await fs.writeFile(indexPath, JSON.stringify({ metadata: { total_size: MANY_TENSORS * 8 }, weight_map: weightMap }));
  return { indexPath, shardPaths };
}

/** Wall and CPU (user + sys) milliseconds of `f`. */
async function timed(f: () => Promise<void>): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await f();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

const loadavg = (): string => {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return os.loadavg().map((x) => x.toFixed(2)).join(' ');
  }
};

/** The floor: each shard's 8-byte header length, its header bytes, one JSON.parse. */
async function headerFloor(shards: readonly string[]): Promise<void> {
  let keys = 0;
  for (const p of shards) {
    const h = await fs.open(p, 'r');
    try {
      const len = Buffer.alloc(8);
      await h.read(len, 0, 8, 0);
      const n = Number(len.readBigUInt64LE(0));
      const buf = Buffer.alloc(n);
      await h.read(buf, 0, n, 8);
      keys += Object.keys(JSON.parse(buf.toString('utf8')) as object).length;
    } finally {
      await h.close();
    }
  }
  if (keys < MANY_TENSORS) throw new Error(`floor read ${keys} header entries`);
}

async function manyTensorRow(): Promise<boolean> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'plens-st-many-'));
  try {
    const m = await writeManyTensorModel(dir);
    const ours: { wall: number; cpu: number }[] = [];
    const floor: { wall: number; cpu: number }[] = [];
    const loadBefore = loadavg();
    for (let i = 0; i < MANY_RUNS; i++) {
      ours.push(
        await timed(async () => {
          const a = await parse(m.indexPath);
          if (a.model.tensorCount !== MANY_TENSORS) throw new Error(`wrong count: ${a.model.tensorCount} tensors, expected ${MANY_TENSORS}`);
        }),
      );
      floor.push(await timed(() => headerFloor(m.shardPaths)));
    }
    const wall = (xs: { wall: number }[]): number => median(xs.map((x) => x.wall));
    const cpu = (xs: { cpu: number }[]): number => median(xs.map((x) => x.cpu));
    const ratio = wall(ours) / wall(floor);
    const met = ratio <= 1.5;
    const list = (xs: { wall: number; cpu: number }[], k: 'wall' | 'cpu'): string => xs.map((x) => x[k].toFixed(0)).join(' ');
    console.log(`\n${MANY_TENSORS.toLocaleString('en-US')} tensors in ${MANY_SHARDS} shards via the index (in process, ${MANY_RUNS} alternating runs; load average ${loadBefore} before, ${loadavg()} after):`);
    console.log(`  each run in order, wall ms: ours ${list(ours, 'wall')}; floor ${list(floor, 'wall')}`);
    console.log(`  each run in order, CPU ms:  ours ${list(ours, 'cpu')}; floor ${list(floor, 'cpu')}`);
    console.log(`  CPU (user + sys) medians: ours ${cpu(ours).toFixed(0)} ms, floor ${cpu(floor).toFixed(0)} ms: ${(cpu(ours) / cpu(floor)).toFixed(2)}× the floor`);
    console.log(`  ours median ${wall(ours).toFixed(0)} ms; floor (${MANY_SHARDS} × 8-byte length + header read + JSON.parse) median ${wall(floor).toFixed(0)} ms; ${ratio.toFixed(2)}× the floor (goal ≤ 1.5×) ${met ? 'PASS' : 'MISS'}`);
    return met;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

(ROWS.includes('sharded') ? main() : Promise.resolve())
  .then(async () => {
    if (ROWS.includes('many') && !(await manyTensorRow())) process.exitCode = 1;
  })
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
