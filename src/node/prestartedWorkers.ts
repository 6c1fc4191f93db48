/**
 * Analysis workers started before the model is opened. A worker thread takes ~40 ms to boot (Node's internals for
 * the thread, compiling dist/worker.js, the kernels' WebAssembly) before it can analyze anything; started by the
 * runner, after the CLI bundle is loaded and the header parsed, that boot sat on the critical path of every
 * static analysis. The CLI launcher (src/cli/launcher.ts) starts them first thing for a `sensitivity` of a file
 * large enough to use workers ({@link prestartCount}), so they boot while the main thread loads the bundle and
 * parses the header; the runner's pool adopts them ({@link takePrestartedWorkers}). Until adopted they are
 * unref'd (a command that fails early exits as before); workers nobody adopts are terminated.
 *
 * Kept free of project imports: the launcher bundles it and must stay small.
 */
import type { Worker } from 'node:worker_threads';

/** Below this many weight bytes the analysis runs inline (starting workers costs more than it saves). */
export const INLINE_BELOW_BYTES = 8 * 1024 * 1024;

/**
 * Worker threads of a CLI `sensitivity` without `--workers` or of a `plan` on `parallelism` (≥ 2) cores: one fewer
 * than the cores, as the main thread analyzes chunks too (the runner's `mainThreadShare`); a worker's boot costs
 * ~30 ms of CPU.
 */
export function sharedDefaultWorkers(parallelism: number): number {
  return parallelism >= 2 ? parallelism - 1 : parallelism;
}

/**
 * The commands whose analysis runs in the worker pool the launcher may start early: `sensitivity`, and `plan`,
 * whose static analysis runs after the header, the fingerprint and the baselines: its workers boot meanwhile
 * instead of after them.
 */
export const PRESTART_COMMANDS: ReadonlySet<string> = new Set(['sensitivity', 'plan']);

interface Prestarted {
  readonly worker: Worker;
  failed: boolean;
  readonly onFail: () => void;
}

interface Stash {
  readonly file: string;
  readonly workers: Prestarted[];
}

const KEY = Symbol.for('precision-lens.prestartedWorkers');

function stash(): Stash | undefined {
  return (globalThis as Record<symbol, Stash | undefined>)[KEY];
}

/**
 * How many workers the launcher should start for the command line `args` (after `node cli.js`): the CLI's default
 * pool size ({@link sharedDefaultWorkers} of `parallelism`), or `--workers N` for `sensitivity FILE …` (`plan` has
 * no such option), when FILE (the first argument after the command) is a file of at least
 * {@link INLINE_BELOW_BYTES} (`sizeOf`, undefined when it cannot be read); otherwise 0.
 * Help, a missing or option-first FILE, or an unreadable `--workers` value start none (the command itself then
 * says what is wrong).
 */
export function prestartCount(args: readonly string[], sizeOf: (file: string) => number | undefined, parallelism: number): number {
  const [command, file] = args;
  if (!command || !PRESTART_COMMANDS.has(command) || !file || file.startsWith('-')) return 0;
  const plan = command === 'plan';
  let count = sharedDefaultWorkers(parallelism);
  for (let i = 2; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-h' || a === '--help') return 0;
    if (plan) continue;
    const value = a === '--workers' ? args[i + 1] : a.startsWith('--workers=') ? a.slice('--workers='.length) : undefined;
    if (a === '--workers' || value !== undefined) {
      if (value === undefined || !/^\d{1,3}$/.test(value)) return 0;
      count = Number(value);
    }
  }
  if (count <= 0) return 0;
  const size = sizeOf(file);
  return size !== undefined && size >= INLINE_BELOW_BYTES ? Math.min(count, 64) : 0;
}

/** Starts `count` workers of the script `file` for a pool to adopt later (unref'd until then). */
export function prestartWorkers(file: string, count: number): void {
  if (count <= 0 || stash()) return;
  const { Worker: WorkerClass } = require('node:worker_threads') as typeof import('node:worker_threads');
  const workers: Prestarted[] = [];
  for (let i = 0; i < count; i++) {
    const worker = new WorkerClass(file);
    const entry: Prestarted = { worker, failed: false, onFail: () => (entry.failed = true) };
    worker.on('error', entry.onFail);
    worker.on('exit', entry.onFail);
    worker.unref();
    workers.push(entry);
  }
  (globalThis as Record<symbol, Stash | undefined>)[KEY] = { file, workers };
}

/**
 * Up to `max` started workers of the script `file` that are still alive, ref'd again and handed over (the caller
 * owns them); every other started worker is terminated. Empty when none were started.
 */
export function takePrestartedWorkers(file: string, max: number): Worker[] {
  const s = stash();
  if (!s) return [];
  (globalThis as Record<symbol, Stash | undefined>)[KEY] = undefined;
  const out: Worker[] = [];
  for (const e of s.workers) {
    e.worker.off('error', e.onFail);
    e.worker.off('exit', e.onFail);
    if (s.file === file && !e.failed && out.length < max) {
      e.worker.ref();
      out.push(e.worker);
    } else {
      // Swallow a late error of a worker nobody uses.
      e.worker.on('error', () => undefined);
      void e.worker.terminate();
    }
  }
  return out;
}

/** Terminates started workers nobody will adopt (an analysis that runs inline). */
export function discardPrestartedWorkers(): void {
  takePrestartedWorkers('', 0);
}
