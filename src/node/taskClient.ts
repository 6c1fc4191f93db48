/**
 * Runs Apply Plan, Measure Sensitivity and plan verification in a child process (src/worker/hostTasks.ts, bundled
 * to dist/hostTasks.js) so the extension host's main thread stays responsive: applying decodes and re-encodes the
 * whole protobuf synchronously, measuring fake-quantizes and patches it per layer × format.
 *
 * Why a forked child process and not a worker thread: onnxruntime-node does load in worker_threads (checked with
 * 1.30 on Node 20), but a native crash or an out-of-memory abort inside a worker thread ends the whole
 * extension host, and `Worker.terminate()` cannot interrupt a native ONNX Runtime call; a child process isolates
 * both and is killed at once. One process per task: every task's memory (a whole model for apply) is returned
 * when it ends, a hard cancel kills only its own task, and the ~0.1 s start is small beside the work.
 *
 * Guarantees: every call settles on the reply, an error reply, the child's exit (a {@link TaskProcessExitError}
 * naming the signal or code and the end of its stderr), cancellation (core's CancelledError) or {@link
 * TaskClient.dispose} (an RpcError 'disposed'). A fired token sends `task/cancel`; a child that has not answered
 * `cancelGraceMs` later is killed. `dispose()` kills every child (call it when the extension deactivates);
 * children also exit by themselves when this process's IPC channel closes.
 */
import type * as NodeChildProcess from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { CancelledError, type SensitivityReport } from '../core';
import { RpcEndpoint, RpcError, type RequestType } from '../protocol/rpc';
import type { ApplyOnnxResult } from './applyOnnx';
import type { ApplyGgufResult } from './applyGguf';
import {
  ApplyGgufPlanTask,
  ApplyPlanTask,
  MeasureSensitivityTask,
  PlanFrontierTask,
  SolvePlanTask,
  TASK_CANCELLED,
  TaskCancelNotification,
  TaskProgressNotification,
  VerifyPlanTask,
  MeasureGgufTask,
  VerifyGgufTask,
  type MeasureGgufParams,
  type VerifyGgufParams,
  type VerifyGgufResult,
  type ApplyGgufPlanParams,
  type ApplyPlanParams,
  type MeasureSensitivityParams,
  type TaskParamsBase,
  type TaskProgress,
  type PlanFrontierParams,
  type PlanFrontierTaskResult,
  type SolvePlanParams,
  type SolvePlanTaskResult,
  type VerifyOnnxResult,
  type VerifyPlanParams,
} from './hostTaskProtocol';
import { NodeError } from './errors';

/** A cancellation token: core's structural one, optionally with VS Code's event (polled otherwise). */
export interface TaskToken {
  readonly isCancellationRequested: boolean;
  readonly onCancellationRequested?: (listener: () => unknown) => { dispose(): unknown };
}

/** Per-call options. */
export interface TaskRunOptions {
  readonly token?: TaskToken;
  /** Called with the task's progress, about once per second at most. */
  readonly onProgress?: (p: TaskProgress) => void;
}

/** The script a task process runs and the Node flags it needs. */
export interface TaskEntry {
  readonly file: string;
  readonly execArgv: readonly string[];
}

/** Options of {@link TaskClient}. */
export interface TaskClientOptions {
  /** Default: dist/hostTasks.js beside this bundle, else src/worker/hostTasks.ts through tsx (tests). */
  readonly entry?: TaskEntry;
  /** How long a cancelled task may take to stop before its process is killed (default 5000 ms). */
  readonly cancelGraceMs?: number;
  /** Diagnostics (malformed messages, stderr of a child that died). */
  readonly log?: (message: string) => void;
}

/** Most bytes of a child's stderr kept for the error message when it dies. */
const MAX_STDERR_TAIL = 4096;
/** How often a token without an event is polled. */
const TOKEN_POLL_MS = 200;

/** A task whose process exited before answering (crash, kill, out of memory). */
export class TaskProcessExitError extends Error {
  readonly code = 'task-process-exit';
  constructor(message: string, readonly exitCode: number | null, readonly signal: NodeJS.Signals | null) {
    super(message);
    this.name = 'TaskProcessExitError';
  }
}

/** The task script for this build: the bundle beside this file, else the TypeScript source through tsx. */
export function defaultTaskEntry(dir = __dirname): TaskEntry {
  const bundled = path.join(dir, 'hostTasks.js');
  if (existsSync(bundled)) return { file: bundled, execArgv: [] };
  const source = path.join(dir, '..', 'worker', 'hostTasks.ts');
  if (existsSync(source)) return { file: source, execArgv: ['--import', 'tsx'] };
  throw new NodeError('missing-file', `The Precision Lens task script is missing (looked for ${bundled}).`);
}

/** The llama.cpp binding the GGUF tasks load (from sources; the build bundles its JavaScript, see below). */
export const LLAMA_CPP_PACKAGE = 'node-llama-cpp';

/**
 * node-llama-cpp's prebuilt CPU binaries package per `${process.platform}-${process.arch}` (what
 * getLlama({ gpu: false, build: 'never' }) loads; macOS on arm64 has only a Metal build, so none).
 */
const LLAMA_CPP_CPU_BINARIES = new Map([
  ['linux-x64', '@node-llama-cpp/linux-x64'],
  ['linux-arm64', '@node-llama-cpp/linux-arm64'],
  ['linux-arm', '@node-llama-cpp/linux-armv7l'],
  ['darwin-x64', '@node-llama-cpp/mac-x64'],
  ['win32-x64', '@node-llama-cpp/win-x64'],
  ['win32-arm64', '@node-llama-cpp/win-arm64'],
]);

/** The CPU binaries package for a `${platform}-${arch}`, or undefined where there is none. */
export function llamaCppCpuPackage(platform = `${process.platform}-${process.arch}`): string | undefined {
  return LLAMA_CPP_CPU_BINARIES.get(platform);
}

function resolvesFrom(file: string, specifier: string): boolean {
  try {
    createRequire(file).resolve(specifier);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a task process started from `entryFile` can load the llama.cpp binding, as its evaluation process would:
 * - built (dist/hostTasks.js, in a checkout or the .vsix): dist/llamaEval.js imports the bundle
 *   dist/llama-cpp/index.mjs (esbuild.mjs), which needs node-llama-cpp's package data in
 *   ../node_modules/node-llama-cpp and this platform's CPU binaries package beside it (the platform .vsix ships
 *   both; checked as files, so the answer does not depend on Node's module-resolution caches);
 * - from sources (tsx): the node-llama-cpp package itself.
 */
export function llamaCppResolvable(entryFile: string, platform = `${process.platform}-${process.arch}`): boolean {
  const dir = path.dirname(entryFile);
  const bundle = path.join(dir, 'llama-cpp', 'index.mjs');
  if (existsSync(path.join(dir, 'llamaEval.js')) && existsSync(bundle)) {
    const binaries = llamaCppCpuPackage(platform);
    const modules = path.join(dir, '..', 'node_modules');
    return binaries !== undefined && existsSync(path.join(modules, LLAMA_CPP_PACKAGE, 'package.json')) && existsSync(path.join(modules, binaries, 'package.json'));
  }
  return resolvesFrom(entryFile, LLAMA_CPP_PACKAGE);
}

/** Starts one child process per task and talks to it with the project's RPC helper. */
export class TaskClient {
  private nextTaskId = 1;
  private llamaCpp: boolean | undefined;
  private readonly children = new Set<ChildProcess>();
  private disposed = false;

  constructor(private readonly options: TaskClientOptions = {}) {}

  /** Whether GGUF measurement and verification can run (the task process finds the llama.cpp binding); checked once. */
  llamaCppAvailable(): boolean {
    if (this.llamaCpp === undefined) {
      try {
        this.llamaCpp = llamaCppResolvable((this.options.entry ?? defaultTaskEntry()).file);
      } catch {
        this.llamaCpp = false;
      }
    }
    return this.llamaCpp;
  }

  /** Process ids of the running task processes (tests check that they end). */
  get pids(): number[] {
    return [...this.children].map((c) => c.pid).filter((p): p is number => p !== undefined);
  }

  /**
   * Writes a new ONNX model with `assignment` applied (src/node/applyOnnx.ts). The model is written into a
   * fresh folder beside `outputPath` and moved into place at the end, so a cancelled, failed or killed task
   * leaves no partial file.
   */
  async applyPlan(params: Omit<ApplyPlanParams, 'taskId' | 'stagingDir'>, options: TaskRunOptions = {}): Promise<ApplyOnnxResult> {
    const stagingDir = await fs.mkdtemp(path.join(path.dirname(path.resolve(params.outputPath)), '.precision-lens-staging-'));
    try {
      return await this.run(ApplyPlanTask, { ...params, stagingDir }, options);
    } finally {
      await fs.rm(stagingDir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /**
   * Writes a new GGUF with `assignment` applied (src/node/applyGguf.ts): streamed tensor by tensor into a temporary
   * file beside `outputPath`, renamed into place at the end (a cancelled or failed task leaves nothing).
   */
  applyGgufPlan(params: Omit<ApplyGgufPlanParams, 'taskId'>, options: TaskRunOptions = {}): Promise<ApplyGgufResult> {
    return this.run(ApplyGgufPlanTask, params, options);
  }

  /** Measured sensitivity with onnxruntime-node (src/node/measure.ts). */
  measureSensitivity(params: Omit<MeasureSensitivityParams, 'taskId'>, options: TaskRunOptions = {}): Promise<SensitivityReport> {
    return this.run(MeasureSensitivityTask, params, options);
  }

  /** Plan verification with onnxruntime-node (src/node/planVerify.ts). */
  verifyPlan(params: Omit<VerifyPlanParams, 'taskId'>, options: TaskRunOptions = {}): Promise<VerifyOnnxResult> {
    return this.run(VerifyPlanTask, params, options);
  }

  /** Per-layer KL measured in llama.cpp (src/node/ggufMeasure.ts). */
  measureGgufSensitivity(params: Omit<MeasureGgufParams, 'taskId'>, options: TaskRunOptions = {}): Promise<SensitivityReport> {
    return this.run(MeasureGgufTask, params, options);
  }

  /** Plan verification in llama.cpp (src/node/ggufVerify.ts). */
  verifyGgufPlan(params: Omit<VerifyGgufParams, 'taskId'>, options: TaskRunOptions = {}): Promise<VerifyGgufResult> {
    return this.run(VerifyGgufTask, params, options);
  }

  /** Core's plan workflow (solve, estimate, baselines, plan document and text) in the task process. */
  solvePlan(params: Omit<SolvePlanParams, 'taskId'>, options: TaskRunOptions = {}): Promise<SolvePlanTaskResult> {
    return this.run(SolvePlanTask, params, options);
  }

  /** The inspector's frontier chart (core's solver with the report's harm) in the task process. */
  planFrontier(params: Omit<PlanFrontierParams, 'taskId'>, options: TaskRunOptions = {}): Promise<PlanFrontierTaskResult> {
    return this.run(PlanFrontierTask, params, options);
  }

  /** Kills every task process; their calls reject with RpcError 'disposed'. Idempotent. */
  dispose(): void {
    this.disposed = true;
    for (const c of this.children) c.kill();
  }

  private run<P extends TaskParamsBase, R>(type: RequestType<P, R>, params: Omit<P, 'taskId'>, options: TaskRunOptions): Promise<R> {
    if (this.disposed) return Promise.reject(new RpcError('disposed', `Cannot start '${type.method}': the task client is closed.`));
    const token = options.token;
    if (token?.isCancellationRequested) return Promise.reject(new CancelledError());
    const taskId = this.nextTaskId++;
    let entry: TaskEntry;
    try {
      entry = this.options.entry ?? defaultTaskEntry();
    } catch (e) {
      return Promise.reject(e);
    }
    const log = this.options.log ?? (() => undefined);
    return new Promise<R>((resolve, reject) => {
      // Own execArgv (never the host's inspector flags); the environment is inherited, so in Electron-based VS Code
      // fork's ELECTRON_RUN_AS_NODE=1 makes the child plain Node (electron/electron#6656).
      // node:child_process (with net and dgram) is loaded on first use: the CLI bundles every command, and `inspect` forks nothing.
      const child = (require('node:child_process') as typeof NodeChildProcess).fork(entry.file, [], { execArgv: [...entry.execArgv], serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      this.children.add(child);
      let stderr = '';
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (d: string) => (stderr = (stderr + d).slice(-MAX_STDERR_TAIL)));
      const endpoint = new RpcEndpoint(
        (msg) => {
          child.send(msg, (e) => e && log(`task ${taskId}: send failed: ${e.message}`));
        },
        { onInvalid: (reason) => log(`task ${taskId}: ${reason}`) },
      );
      child.on('message', (m) => endpoint.handleMessage(m));
      endpoint.onNotification(TaskProgressNotification, (p) => {
        if (p.taskId === taskId) options.onProgress?.(p);
      });

      let settled = false;
      let cancelled = false;
      let killTimer: ReturnType<typeof setTimeout> | undefined;
      const cancel = (): void => {
        if (settled || cancelled) return;
        cancelled = true;
        endpoint.sendNotification(TaskCancelNotification, { taskId });
        killTimer = setTimeout(() => child.kill('SIGKILL'), this.options.cancelGraceMs ?? 5000);
      };
      const listener = token?.onCancellationRequested?.(cancel);
      const poll = token ? setInterval(() => token.isCancellationRequested && cancel(), TOKEN_POLL_MS) : undefined;
      const finish = (error: unknown, result?: R): void => {
        if (settled) return;
        settled = true;
        if (poll) clearInterval(poll);
        if (killTimer) clearTimeout(killTimer);
        listener?.dispose();
        endpoint.dispose();
        if (child.connected) child.disconnect(); // the child exits when its channel closes
        if (child.exitCode === null && child.signalCode === null) child.kill();
        if (error === undefined) resolve(result as R);
        else reject(error);
      };

      child.on('error', (e) => finish(new NodeError('worker-failed', `Cannot start the Precision Lens task process: ${e.message}`)));
      child.on('exit', (code, signal) => {
        this.children.delete(child);
        // Let a reply that arrived with the exit be handled first.
        setImmediate(() => {
          if (cancelled) return finish(new CancelledError());
          if (this.disposed) return finish(new RpcError('disposed', `'${type.method}' was abandoned: the task client closed.`));
          const tail = stderr.trim().split('\n').slice(-3).join(' ').slice(-400);
          if (tail) log(`task ${taskId} (${type.method}) stderr: ${stderr}`);
          finish(new TaskProcessExitError(`The Precision Lens task process stopped (${signal ? `signal ${signal}` : `exit code ${code}`}) before '${type.method}' finished${tail ? `: ${tail}` : ''}.`, code, signal));
        });
      });
      endpoint.sendRequest(type, { ...params, taskId } as P).then(
        (r) => finish(undefined, r),
        (e: unknown) => finish(e instanceof RpcError && e.code === TASK_CANCELLED ? new CancelledError() : e),
      );
    });
  }
}
