/**
 * Worker threads for GGUF apply: each converts a chunk of whole rows (decode + ggml reference quantization,
 * src/worker/ggufConvert.ts) off the calling thread. The result bytes are the same whichever thread computes them
 * (pure core, float32 emulated exactly), so applyGguf.ts writes them in file order and the output is bit-identical
 * to a single-threaded run. Chunk bytes are transferred, not copied. A worker that dies fails its chunk (apply
 * then fails with the reason); `close()` ends every worker.
 */
import type * as WorkerThreads from 'node:worker_threads';
import type { Worker } from 'node:worker_threads';
import { NodeError } from './errors';
import { loaderArgs, workerEntry } from './sensitivityRunner';
import type { GgufConvertReply } from '../worker/ggufConvert';

/** node:worker_threads, loaded when the first worker starts: the CLI bundles every command, and `inspect` starts none. */
function workerThreads(): typeof WorkerThreads {
  return require('node:worker_threads') as typeof WorkerThreads;
}

/** A fixed set of worker threads converting GGUF row chunks. */
export class GgufConvertPool {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly waiting: ((w: Worker) => void)[] = [];
  private readonly pending = new Map<Worker, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private closed = false;

  private constructor(file: string, size: number) {
    for (let i = 0; i < size; i++) {
      const w = file.endsWith('.ts')
        ? new (workerThreads().Worker)(`require('tsx/cjs/api').register(); require(${JSON.stringify(file)});`, { eval: true, execArgv: loaderArgs(process.execArgv) })
        : new (workerThreads().Worker)(file);
      w.on('message', (msg: GgufConvertReply) => {
        const p = this.pending.get(w);
        if (!p) return;
        this.pending.delete(w);
        this.release(w);
        if (msg.kind === 'gguf/converted') p.resolve(msg.bytes);
        else p.reject(new NodeError('worker-failed', msg.message));
      });
      const fail = (e: Error): void => {
        const p = this.pending.get(w);
        this.pending.delete(w);
        p?.reject(new NodeError('worker-failed', `a GGUF apply worker stopped: ${e.message}`));
      };
      w.on('error', fail);
      w.on('exit', (code) => {
        if (!this.closed) fail(new NodeError('worker-failed', `exit code ${code}`));
      });
      this.all.push(w);
      this.idle.push(w);
    }
  }

  /** A pool of `size` workers, or undefined when the worker script is not found (then the caller runs inline). */
  static open(size: number): GgufConvertPool | undefined {
    const file = workerEntry();
    return file && size > 0 ? new GgufConvertPool(file, size) : undefined;
  }

  get size(): number {
    return this.all.length;
  }

  private release(w: Worker): void {
    const next = this.waiting.shift();
    if (next) next(w);
    else this.idle.push(w);
  }

  private async acquire(): Promise<Worker> {
    const w = this.idle.pop();
    if (w) return w;
    return new Promise<Worker>((r) => this.waiting.push(r));
  }

  /** Converts `elementCount` elements of `bytes` (ownership passes to the worker) from `sourceDtype` to `targetDtype`. */
  async convert(sourceDtype: string, bytes: Uint8Array, elementCount: number, targetDtype: string): Promise<Uint8Array> {
    if (this.closed) throw new NodeError('worker-failed', 'the GGUF apply workers were closed');
    const w = await this.acquire();
    return new Promise<Uint8Array>((resolve, reject) => {
      this.pending.set(w, { resolve, reject });
      // A view on part of a larger buffer is copied once so only its own bytes cross (and the caller's buffer stays usable).
      const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
      w.postMessage({ kind: 'gguf/convert', id: this.nextId++, sourceDtype, targetDtype, elementCount, bytes: own }, [own.buffer as ArrayBuffer]);
    });
  }

  /** Ends every worker. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new NodeError('worker-failed', 'the GGUF apply workers were closed'));
    this.pending.clear();
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}
