/**
 * Speed at scale against anchors (issue 13): every row is our command as a whole process beside its anchor measured
 * in the same run, alternating pair by pair (so load on a shared machine hits both), and reported as a ratio of
 * medians, with our peak RSS (from /usr/bin/time). Anchors that are whole processes are compared whole process
 * against whole process; "net of start" rows subtract each runtime's own start-up (node running an empty script,
 * python importing onnx) measured the same way.
 *
 * Rows (PL_BENCH_ROWS=measure,plan,scale,graph,static,webview to pick):
 *  measure  `sensitivity --measure --formats int8,int4` on a 40-layer image classifier (bench/classifierModel.ts)
 *           vs one onnxruntime-node inference of that model; goal: whole run < 60 s, RSS < 300 MB.
 *  plan     `plan --avg-bits 4.5` on a 10,002-layer safetensors (bench/bigPlanModel.ts) vs our own default
 *           `sensitivity` on it (its 5 default formats, whole process); goal < 1.5×. For information, the row also
 *           gives the ratio to a `sensitivity` over the formats the plan scores (its candidates and its baselines'),
 *           the analysis a plan cannot skip; the goal is judged against the default command only.
 *  scale    `plan --avg-bits 4.5` on a 20,000-layer ONNX and a 200,000-layer GGUF; goal: < 10 s, < 500 MB (absolute;
 *           the row also shows `sensitivity` over the plan's scored formats, same run, for information).
 *  graph    `inspect` of a graph-heavy ONNX (45,000 nodes, 12,500 small initializers that 22,500 of them read,
 *           value_info; valid by onnx.checker) vs `onnx.load`, net of start; goal ≥ 2× faster. Twice: without
 *           attributes, and as exporters write graphs (attributes on 3 nodes in 8, a Constant node in 8).
 *  static   static `sensitivity` (5 default formats) of 1 GiB FP16 vs `cat` of the same bytes from page cache;
 *           goal ≤ 4×.
 *  webview  the inspector scrolling a 20,000-row table in headless chromium (test/webview/run.ts --only many):
 *           p95 frame time (main-thread work of the frame showing each scroll jump, and of each frame that moved
 *           under mouse-wheel scrolling) vs one 60 Hz frame, 16.7 ms.
 * Exit status 1 when a goal is missed. Files are generated in os.tmpdir() and deleted afterwards.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { floatToHalfBits, seededRandom } from '../src/core';
import { attr, encodeModel, graph, model, node, rawTensor, value } from '../test/fixtures/buildOnnx';
import { buildGguf, kv, type GgufKv, type GgufTensorSpec } from '../test/fixtures/buildGguf';
import { buildSafetensors } from '../test/fixtures/buildSafetensors';
import { writeBigPlanModel } from './bigPlanModel';
import { buildClassifier } from './classifierModel';

const REPO = path.resolve(__dirname, '..');
const CLI = path.join(REPO, 'dist', 'cli.js');
const RUNS = Math.max(1, Number(process.env['PL_BENCH_RUNS'] ?? 3));
const ROWS = (process.env['PL_BENCH_ROWS'] ?? 'measure,plan,scale,graph,static,webview').split(',');
/** A process still running after this long is stopped and its row reported as missed (PL_BENCH_TIMEOUT_S, default 180). */
const TIMEOUT_MS = Math.max(1, Number(process.env['PL_BENCH_TIMEOUT_S'] ?? 180)) * 1000;

interface Timing { readonly ms: number; readonly rssMb: number; readonly ok: boolean; readonly timedOut?: boolean; /** user + sys seconds of the process and its threads (/usr/bin/time). */ readonly cpuS?: number }

/** Runs a command once as a whole process; wall time and peak RSS (KiB from /usr/bin/time). */
function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Timing {
  const rssFile = path.join(os.tmpdir(), `pl-bench-rss-${process.pid}`);
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M %U %S', '-o', rssFile, 'timeout', '-s', 'KILL', String(TIMEOUT_MS / 1000), cmd, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  const timedOut = r.status === 137 || r.status === 124; // coreutils timeout: the command was stopped
  const ms = performance.now() - t0;
  let rssMb = NaN, cpuS = NaN;
  try {
    const [kb, user, sys] = (readFileSync(rssFile, 'utf8').trim().split('\n').pop() ?? '').split(' ').map(Number);
    rssMb = kb! / 1024;
    cpuS = user! + sys!;
  } catch {
    /* no /usr/bin/time output */
  }
  if (timedOut) console.error(`  ! ${args.slice(0, 3).join(' ')}: stopped after ${TIMEOUT_MS / 1000} s`);
  else if (r.status !== 0) console.error(`  ! ${path.basename(cmd)} ${args.slice(0, 3).join(' ')} exited ${r.status}: ${r.stderr?.toString().trim().split('\n').slice(-2).join(' | ')}`);
  return { ms, rssMb, ok: r.status === 0 && !timedOut, timedOut, cpuS };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * Runs each command `runs` times (RUNS unless a row asks for more), alternating; returns the median wall time and the max RSS of each. A command's
 * `fresh` path (its output file) is deleted before each of its runs, so no run finds a previous run's output there
 * (a plan reads an existing plan at its output path for pins and notes).
 */
function pairs(cmds: readonly { cmd: string; args: readonly string[]; env?: NodeJS.ProcessEnv; fresh?: string }[], runs = RUNS): { ms: number; rssMb: number; ok: boolean; timedOut: boolean; cpuS: number }[] {
  const all: Timing[][] = cmds.map(() => []);
  for (let i = 0; i < runs; i++) {
    cmds.forEach((c, j) => {
      if (c.fresh !== undefined) rmSync(c.fresh, { force: true });
      all[j]!.push(run(c.cmd, c.args, c.env ?? {}));
    });
  }
  return all.map((ts) => ({ ms: median(ts.map((t) => t.ms)), rssMb: Math.max(...ts.map((t) => t.rssMb)), ok: ts.every((t) => t.ok), timedOut: ts.some((t) => t.timedOut === true), cpuS: median(ts.map((t) => t.cpuS ?? NaN)) }));
}

const node20 = process.execPath;
const report: { row: string; ours: string; anchor: string; ratio: string; goal: string; met: boolean }[] = [];
const s = (ms: number): string => (ms >= TIMEOUT_MS ? `> ${TIMEOUT_MS / 1000} s (stopped)` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);

function randomF16(count: number, seed: number, scale = 0.02): Uint16Array {
  const r = seededRandom(seed);
  const out = new Uint16Array(count);
  for (let i = 0; i < count; i++) {
    const u = Math.max(r(), 1e-12);
    out[i] = floatToHalfBits(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r()) * scale * (i % 211 === 0 ? 12 : 1));
  }
  return out;
}

function rowMeasure(dir: string): void {
  const file = path.join(dir, 'classifier.onnx');
  const built = buildClassifier();
  writeFileSync(file, built.bytes);
  const anchor = path.join(dir, 'one-inference.cjs');
  writeFileSync(anchor, `const ort = require(${JSON.stringify(path.join(REPO, 'node_modules', 'onnxruntime-node'))});
(async () => { const s = await ort.InferenceSession.create(process.argv[2]);
  const x = new ort.Tensor('float32', new Float32Array(3 * 224 * 224).fill(0.5), [1, 3, 224, 224]);
  await s.run({ image: x }); })();\n`);
  // A fresh cache folder per run: the measurement must not come from a previous run's cache.
  const [ours, one] = pairs([
    { cmd: node20, args: [CLI, 'sensitivity', file, '--measure', '--formats', 'int8,int4', '--json'], env: { XDG_CACHE_HOME: mkdtempSync(path.join(dir, 'cache-')) } },
    { cmd: node20, args: [anchor, file] },
  ]);
  report.push({ row: `sensitivity --measure, ${built.weightedLayers}-layer classifier (${(built.bytes.length / 1024).toFixed(0)} KB), int8+int4`, ours: `${s(ours!.ms)}, ${ours!.rssMb.toFixed(0)} MB`, anchor: `one inference (whole process) ${s(one!.ms)}`, ratio: `${(ours!.ms / one!.ms).toFixed(1)}×`, goal: '< 60 s, < 300 MB', met: ours!.ok && ours!.ms < 60_000 && ours!.rssMb < 300 });
}

/**
 * The formats a plan of `file` scores (an untimed dry run): its candidates and its baselines' formats, i.e. the
 * sensitivity analysis a plan needs beside its solve.
 */
function planFormats(file: string, extra: readonly string[]): string {
  const r = spawnSync(node20, [CLI, 'plan', file, '--target', 'h100', '--avg-bits', '4.5', ...extra, '--dry-run', '--json'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const formats = (JSON.parse(r.stdout) as { sensitivity: { formats: string[] } }).sensitivity.formats;
  return formats.join(',');
}

function rowPlan(dir: string): void {
  const file = path.join(dir, 'big10k.safetensors');
  const layers = writeBigPlanModel(file);
  const formats = planFormats(file, []);
  const [plan, sens, sensAll] = pairs([
    { cmd: node20, args: [CLI, 'plan', file, '--target', 'h100', '--avg-bits', '4.5', '-o', path.join(dir, 'big10k.plan.json')], fresh: path.join(dir, 'big10k.plan.json') },
    { cmd: node20, args: [CLI, 'sensitivity', file, '--json'] },
    { cmd: node20, args: [CLI, 'sensitivity', file, '--formats', formats, '--json'] },
  ]);
  const ratio = plan!.ms / sens!.ms;
  report.push({ row: `plan --avg-bits 4.5, ${layers}-layer safetensors (scores ${formats.split(',').length} formats)`, ours: `${s(plan!.ms)}, ${plan!.rssMb.toFixed(0)} MB`, anchor: `our default \`sensitivity\` (5 formats) ${s(sens!.ms)}; for information, \`sensitivity\` over the plan's ${formats.split(',').length} scored formats ${s(sensAll!.ms)} (plan = ${(plan!.ms / sensAll!.ms).toFixed(2)}× it)`, ratio: `${ratio.toFixed(2)}× the default sensitivity`, goal: '< 1.5× the default sensitivity', met: plan!.ok && sens!.ok && ratio < 1.5 });
}

function rowScale(dir: string): void {
  // 20,000-layer ONNX: a chain of MatMuls with 16×16 FP32 weights.
  const onnxFile = path.join(dir, 'chain20k.onnx');
  const r = seededRandom(5);
  const nodes = [];
  const inits = [];
  for (let i = 0; i < 20_000; i++) {
    const w = new Float32Array(256);
    for (let k = 0; k < w.length; k++) w[k] = (r() - 0.5) * 0.5;
    inits.push(rawTensor(`layers.${i}.weight`, [16, 16], { raw: new Uint8Array(w.buffer) }));
    nodes.push(node('MatMul', [i === 0 ? 'x' : `h${i - 1}`, `layers.${i}.weight`], [`h${i}`], { name: `/layers.${i}/MatMul` }));
  }
  writeFileSync(onnxFile, encodeModel(model(graph(nodes, { name: 'chain', initializers: inits, inputs: [value('x', 'FLOAT', [1, 16])], outputs: [value('h19999', 'FLOAT', [1, 16])] }), { opset: 17 })));
  // 200,000-layer GGUF: 28,572 llama blocks of 7 F16 weights of 256 × 1 (ne0 = 256, so every k-quant applies).
  const ggufFile = path.join(dir, 'wide200k.gguf');
  const tensors: GgufTensorSpec[] = [];
  const roles = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'];
  for (let i = 0; tensors.length < 200_000; i++) tensors.push({ name: `blk.${Math.floor(i / 7)}.${roles[i % 7]}.weight`, dims: [256, 1], type: 1 });
  const blocks = Math.ceil(200_000 / 7);
  const kvs = buildGgufKvs(blocks);
  const built = buildGguf({ kvs, tensors, omitData: true });
  const fd = openSync(ggufFile, 'w');
  try {
    writeSync(fd, built.bytes);
    const chunkTensors = 4096;
    for (let t = 0; t < tensors.length; t += chunkTensors) {
      const n = Math.min(chunkTensors, tensors.length - t);
      writeSync(fd, new Uint8Array(randomF16(n * 256, 100 + t).buffer));
    }
  } finally {
    closeSync(fd);
  }
  for (const [label, file, extra] of [['20,000-layer ONNX', onnxFile, ['--no-verify']], ['200,000-layer GGUF', ggufFile, []]] as const) {
    const [plan, sens] = pairs([
      { cmd: node20, args: [CLI, 'plan', file, '--target', 'h100', '--avg-bits', '4.5', ...extra, '-o', `${file}.plan.json`], fresh: `${file}.plan.json` },
      { cmd: node20, args: [CLI, 'sensitivity', file, '--formats', planFormats(file, extra), '--json'] },
    ]);
    // A stopped process has no peak RSS worth printing (what /usr/bin/time reports for a killed child is not it).
    const shown = (t: { ms: number; rssMb: number; timedOut: boolean }): string => (t.timedOut ? `stopped at the ${TIMEOUT_MS / 1000} s timeout (RSS not measured)` : `${s(t.ms)}, ${t.rssMb.toFixed(0)} MB`);
    report.push({ row: `plan --avg-bits 4.5, ${label}`, ours: shown(plan!), anchor: `for information: our \`sensitivity\` over the plan's scored formats ${shown(sens!)}`, ratio: `${(plan!.ms / sens!.ms).toFixed(2)}× that sensitivity`, goal: '< 10 s, < 500 MB', met: plan!.ok && plan!.ms < 10_000 && plan!.rssMb < 500 });
  }
}

function buildGgufKvs(blocks: number): GgufKv[] {
  return [kv.str('general.architecture', 'llama'), kv.u32('llama.block_count', blocks), kv.u32('llama.embedding_length', 32), kv.u32('llama.attention.head_count', 4), kv.u32('llama.attention.head_count_kv', 4), kv.u32('llama.context_length', 2048)];
}

/**
 * Runs of the graph row: its ratio divides two differences of medians (each command 0.1-0.5 s, start-up ~40 ms of
 * node and ~190 ms of python, each with its jitter), which 3 runs left swinging: one build on a quiet machine measured
 * 1.52x in this row and 1.21x in 9 pairs right after. 15 runs of its six commands (two models) take ~20 s.
 */
const GRAPH_RUNS = Math.max(RUNS, 15);

/**
 * The graph row's models: 45,000 nodes, 12,500 small initializers read by 22,500 of them, value_info for every value.
 * `plain`: a chain of Mul, Add, Relu, Identity without attributes. `exported`: a chain as exporters write one — in
 * each 8 nodes three with an attribute (LeakyRelu alpha, Reshape allowzero, Softmax axis) and a Constant node holding
 * the Reshape's target shape (5,625 Constant nodes).
 */
function graphModel(kind: 'plain' | 'exported'): Uint8Array {
  const nodes = [];
  const inits = [];
  const infos = [];
  let x = 'x';
  const plainOps = ['Mul', 'Add', 'Relu', 'Identity'];
  const exportedOps = ['Mul', 'Add', 'LeakyRelu', 'Constant', 'Reshape', 'Mul', 'Add', 'Softmax'];
  for (let i = 0; i < 45_000; i++) {
    const op = kind === 'plain' ? plainOps[i % 4]! : exportedOps[i % 8]!;
    const out = `t${i}`;
    const name = `/block.${i >> 4}/${op}_${i}`;
    if (op === 'Constant') {
      // The shape [-1, 8]: the next node's Reshape keeps [batch, 8].
      const shape = rawTensor('', [2], { type: 'INT64', raw: new Uint8Array(new BigInt64Array([-1n, 8n]).buffer) });
      nodes.push(node(op, [], [out], { name, attributes: [attr('value', 't', shape)] }));
      infos.push(value(out, 'INT64', [2]));
      continue;
    }
    const inputs = [x];
    if (op === 'Mul' || op === 'Add') {
      // The first 12,500 Mul/Add nodes read a constant of their own; the others share the first ones' (c0, c1,
      // c4, c5 …; in `exported`, the first 100 made), as a graph's norms share an epsilon or a scale.
      const own = inits.length < 12_500;
      if (own) inits.push(rawTensor(`c${i}`, [8], { raw: new Uint8Array(new Float32Array(8).fill(0.5).buffer) }));
      inputs.push(own ? `c${i}` : kind === 'plain' ? `c${i % 100}` : (inits[i % 100] as { name: string }).name);
    }
    if (op === 'Reshape') inputs.push(`t${i - 1}`);
    const attributes = op === 'LeakyRelu' ? [attr('alpha', 'f', 0.1)] : op === 'Reshape' ? [attr('allowzero', 'i', 0)] : op === 'Softmax' ? [attr('axis', 'i', -1)] : [];
    nodes.push(node(op, inputs, [out], { name, attributes }));
    infos.push(value(out, 'FLOAT', ['batch', 8]));
    x = out;
  }
  const g = graph(nodes, { name: 'graph-heavy', initializers: inits, inputs: [value('x', 'FLOAT', ['batch', 8])], outputs: [value(x, 'FLOAT', ['batch', 8])] });
  (g as Record<string, unknown>)['value_info'] = infos.filter((v) => (v as { name: string }).name !== x);
  return encodeModel(model(g, { opset: 17 }));
}

function rowGraph(dir: string): void {
  const files = (['plain', 'exported'] as const).map((kind) => {
    const file = path.join(dir, `graph45k-${kind}.onnx`);
    writeFileSync(file, graphModel(kind));
    return file;
  });
  const py = '/usr/bin/python3';
  // Both sides read a valid model: onnx.checker's graph checks (every input defined before it is read, names, types).
  // Until this check, the builder left 10,000 Mul/Add inputs naming nothing (`c25000`…), which onnx.load reads but no
  // runtime would. The checker here may be older than the file's IR version; the graph checks do not depend on it.
  const check = [
    'import sys',
    'try:\n  import onnx\nexcept ImportError as e:\n  print(e, file=sys.stderr); sys.exit(3)',
    'for f in sys.argv[1:]:',
    '  m = onnx.load(f); m.ir_version = min(m.ir_version, onnx.IR_VERSION)',
    "  try:\n    onnx.checker.check_model(m)\n  except Exception as e:\n    print(f, ' '.join(str(e).split()), file=sys.stderr); sys.exit(4)",
  ].join('\n');
  const checked = spawnSync(py, ['-c', check, ...files], { encoding: 'utf8' });
  if (checked.status !== 0) {
    const why = (checked.stderr || checked.error?.message || '').trim().split('\n').pop();
    const problem = checked.status === 3 ? `${py} cannot import onnx (${why}): install python3-onnx` : `the bench's model is not valid ONNX: ${why}`;
    report.push({ row: 'inspect, graph-heavy ONNX', ours: '—', anchor: '—', ratio: '—', goal: problem, met: false });
    return;
  }
  const empty = path.join(dir, 'empty.cjs');
  writeFileSync(empty, '');
  const [nodeStart, pyStart, ...timed] = pairs([
    { cmd: node20, args: [empty] },
    { cmd: py, args: ['-c', 'import onnx'] },
    ...files.flatMap((file) => [
      { cmd: node20, args: [CLI, 'inspect', file, '--json'] },
      { cmd: py, args: ['-c', 'import sys, onnx; onnx.load(sys.argv[1])', file] },
    ]),
  ], GRAPH_RUNS);
  const rows = ['45,000 nodes, 12,500 initializers read by 22,500 nodes, value_info', 'the same as exporters write it: 3 in 8 nodes with an attribute, 5,625 Constant nodes'];
  rows.forEach((what, k) => {
    const ours = timed[2 * k]!;
    const load = timed[2 * k + 1]!;
    const oursNet = ours.ms - nodeStart!.ms;
    const loadNet = load.ms - pyStart!.ms;
    const ratio = loadNet / oursNet;
    report.push({ row: `inspect, graph-heavy ONNX (${what}), net of start`, ours: `${s(oursNet)} (${s(ours.ms)} − node start ${s(nodeStart!.ms)})`, anchor: `onnx.load ${s(loadNet)} (${s(load.ms)} − import onnx ${s(pyStart!.ms)})`, ratio: `${ratio.toFixed(2)}× faster`, goal: '≥ 2× faster', met: ours.ok && load.ok && ratio >= 2 });
  });
}

function rowStatic(dir: string): void {
  const file = path.join(dir, 'static1g.safetensors');
  const rows = 4096, cols = 4096, tensors = 32; // 32 × 32 MiB F16 = 1 GiB
  const specs = Array.from({ length: tensors }, (_, i) => ({ name: `model.layers.${i}.mlp.down_proj.weight`, dtype: 'F16', shape: [rows, cols] }));
  const built = buildSafetensors(specs, { omitData: true });
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, built.bytes);
    const base = randomF16(rows * cols, 9);
    for (let t = 0; t < tensors; t++) {
      for (let i = 0; i < base.length; i += 997) base[i] = base[i]! ^ 1;
      writeSync(fd, new Uint8Array(base.buffer));
    }
  } finally {
    closeSync(fd);
  }
  run('/bin/cat', [file]); // into the page cache
  const [ours, cat] = pairs([
    { cmd: node20, args: [CLI, 'sensitivity', file] },
    { cmd: '/bin/sh', args: ['-c', `cat "$1" > /dev/null`, 'sh', file] },
  ]);
  const ratio = ours!.ms / cat!.ms;
  // For information: CPU (user + sys, all threads) of each, medians, and the load average when the row ended (on a
  // shared machine the wall ratio moves with the others' load; the CPU figures do not).
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  report.push({ row: 'static sensitivity, 5 formats, 1 GiB FP16', ours: `${s(ours!.ms)} (CPU ${ours!.cpuS.toFixed(2)} s), ${ours!.rssMb.toFixed(0)} MB`, anchor: `cat from page cache ${s(cat!.ms)} (CPU ${cat!.cpuS.toFixed(2)} s; load ${load})`, ratio: `${ratio.toFixed(2)}× (CPU ${(ours!.cpuS / cat!.cpuS).toFixed(1)}×)`, goal: '≤ 4×', met: ours!.ok && ratio <= 4 });
}

/** The webview harness's scroll probe (it runs its own build-free page in chromium); its figures from report.json. */
function rowWebview(dir: string): void {
  const out = path.join(dir, 'webview');
  const r = spawnSync(node20, ['--import', 'tsx', path.join(REPO, 'test', 'webview', 'run.ts'), '--only', 'many', '--no-build', '--out', out], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'], timeout: TIMEOUT_MS });
  type Probe = { medianFrameMs: number; p95FrameMs: number; frames: number; missedRenders: number };
  let scroll: Probe | undefined;
  let wheel: Probe | undefined;
  try {
    const figures = (JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as { figures: Record<string, Probe | undefined> }).figures;
    scroll = figures['many-layers-dark.scroll'];
    wheel = figures['many-layers-dark.wheel'];
  } catch {
    /* no report: the row is missed below */
  }
  const frame = 1000 / 60;
  report.push({
    row: `inspector, 20,000 rows, scrolling (${scroll?.frames ?? 0} jumps, headless chromium)`,
    ours: scroll ? `p95 frame ${scroll.p95FrameMs.toFixed(1)} ms, median ${scroll.medianFrameMs.toFixed(1)} ms` : `harness failed (exit ${r.status})`,
    anchor: `one 60 Hz frame ${frame.toFixed(1)} ms`,
    ratio: scroll ? `${(scroll.p95FrameMs / frame).toFixed(2)}×` : '—',
    goal: 'p95 < 16.7 ms',
    met: scroll !== undefined && scroll.missedRenders === 0 && scroll.p95FrameMs < frame,
  });
  report.push({
    row: `inspector, 20,000 rows, mouse-wheel scrolling (${wheel?.frames ?? 0} scrolled frames)`,
    ours: wheel ? `p95 frame ${wheel.p95FrameMs.toFixed(1)} ms, median ${wheel.medianFrameMs.toFixed(1)} ms` : `harness failed (exit ${r.status})`,
    anchor: `one 60 Hz frame ${frame.toFixed(1)} ms`,
    ratio: wheel ? `${(wheel.p95FrameMs / frame).toFixed(2)}×` : '—',
    goal: 'p95 < 16.7 ms',
    met: wheel !== undefined && wheel.missedRenders === 0 && wheel.p95FrameMs < frame,
  });
}

function main(): void {
  const build = spawnSync(node20, [path.join(REPO, 'esbuild.mjs')], { cwd: REPO, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('build failed');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-anchors-'));
  try {
    const rows: Record<string, (d: string) => void> = { measure: rowMeasure, plan: rowPlan, scale: rowScale, graph: rowGraph, static: rowStatic, webview: rowWebview };
    for (const r of ROWS) {
      const f = rows[r];
      if (!f) throw new Error(`PL_BENCH_ROWS: unknown row '${r}' (rows: ${Object.keys(rows).join(', ')})`);
      console.log(`row ${r} (${r === 'graph' ? GRAPH_RUNS : RUNS} alternating runs)…`);
      f(dir);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('\n| work | ours | anchor (same run) | ratio | goal | result |\n|---|---|---|---|---|---|');
  for (const r of report) console.log(`| ${r.row} | ${r.ours} | ${r.anchor} | ${r.ratio} | ${r.goal} | ${r.met ? 'PASS' : '**MISS**'} |`);
  if (report.some((r) => !r.met)) {
    console.error('anchors bench: a goal was missed.');
    process.exitCode = 1;
  }
}

main();
