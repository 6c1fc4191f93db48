/**
 * Applies a precision plan to a GGUF model: a NEW .gguf (never the input) in which every planned tensor has the
 * plan's ggml type. Core decides the types and the header (src/core/plan/ggufApply.ts) and quantizes
 * (src/core/formats/gguf/ggmlQuants.ts); this file only moves bytes.
 *
 * Streaming: the header is written first, then each tensor in file order, in chunks of whole rows of at most
 * MAX_APPLY_CHUNK_ELEMENTS elements (copied tensors in chunks of the same byte size), so peak memory is a few
 * chunks plus the header, whatever the model's size. Output goes through safeOutput.ts (temp file in the
 * destination folder renamed into place; a destination that is the input by device + inode is refused). Progress is reported per chunk; the token cancels between chunks.
 */
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import {
  CancelledError, DEFAULT_LIMITS, MAX_APPLY_CHUNK_ELEMENTS, NO_SIBLINGS, convertGgufRows, copiedKvSpans, dtypeInfo, ggufRows, planGgufApply, readGgufHeader,
  storedByteLength, type CancellationToken, type GgufApplyPlan,
} from '../core';
import { FileByteSource } from './fileByteSource';
import { writeOutputFiles } from './safeOutput';
import { ApplyError } from './errors';

/** Options for {@link applyPlanToGguf}. */
export interface ApplyGgufOptions {
  /** Re-quantize tensors already in a low type (refused otherwise). */
  readonly force?: boolean;
  /** Replace an existing output file (never the input). Default true. */
  readonly overwrite?: boolean;
  readonly token?: CancellationToken;
  /** Called after each chunk with bytes of tensor data written so far and the total. */
  readonly onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/** One tensor in the result. */
export interface AppliedGgufTensor {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly action: 'copy' | 'convert';
  readonly bytes: number;
  readonly note?: string;
}

/** Result of {@link applyPlanToGguf}. */
export interface ApplyGgufResult {
  readonly outputPath: string;
  readonly fileBytes: number;
  readonly inputBytes: number;
  readonly fileType: number;
  readonly fileTypeName: string;
  readonly tensors: readonly AppliedGgufTensor[];
  readonly warnings: readonly string[];
  readonly seconds: number;
}

async function readExactly(source: FileByteSource, offset: number, length: number): Promise<Uint8Array> {
  return source.read(offset, length);
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

function checkCancel(token: CancellationToken | undefined): void {
  if (token?.isCancellationRequested) throw new CancelledError();
}

/** Writes `outputPath` from `modelPath` with `assignment` (layer → format id, as resolvePlanAssignment gives). */
export async function applyPlanToGguf(modelPath: string, assignment: Readonly<Record<string, string>>, outputPath: string, options: ApplyGgufOptions = {}): Promise<ApplyGgufResult> {
  const started = performance.now();
  const source = await FileByteSource.open(modelPath);
  try {
    const header = await readGgufHeader(source, { limits: DEFAULT_LIMITS, token: options.token, siblings: NO_SIBLINGS });
    const copied = new Map<string, Uint8Array>();
    for (const span of copiedKvSpans(header)) copied.set(span.key, (await readExactly(source, span.offset, span.end - span.offset)).slice());
    const plan = planGgufApply(header, assignment, copied, options.force ? { force: true } : {});
    await writeOutputFiles([{ path: outputPath, write: (handle) => writeTensors(handle, source, plan, options) }], {
      inputs: [modelPath],
      ...(options.overwrite === undefined ? {} : { overwrite: options.overwrite }),
      beforeCommit: () => checkCancel(options.token),
    });
    const fileBytes = plan.layout.fileBytes;
    return {
      outputPath: path.resolve(outputPath),
      fileBytes,
      inputBytes: source.size,
      fileType: plan.fileType,
      fileTypeName: plan.fileTypeName,
      tensors: plan.tensors.map((t, i) => ({ name: t.name, from: t.sourceDtype, to: t.targetDtype, action: t.action, bytes: plan.layout.tensorBytes[i]!, ...(t.note ? { note: t.note } : {}) })),
      warnings: plan.warnings,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await source.close();
  }
}

/** Header, then every tensor at its offset, zero padding included (the file ends where the layout says). */
async function writeTensors(handle: FileHandle, source: FileByteSource, plan: GgufApplyPlan, options: ApplyGgufOptions): Promise<void> {
  const { layout } = plan;
  await writeAll(handle, layout.header, 0);
  const total = layout.tensorBytes.reduce((a, b) => a + b, 0);
  let done = 0;
  const report = (n: number): void => {
    done += n;
    options.onProgress?.(done, total);
  };
  for (let i = 0; i < plan.tensors.length; i++) {
    checkCancel(options.token);
    const t = plan.tensors[i]!;
    const at = layout.dataOffset + layout.tensorOffsets[i]!;
    let written = 0;
    if (t.action === 'copy') {
      const chunk = MAX_APPLY_CHUNK_ELEMENTS * 4;
      for (let o = 0; o < t.sourceBytes; o += chunk) {
        checkCancel(options.token);
        const n = Math.min(chunk, t.sourceBytes - o);
        await writeAll(handle, await source.read(t.sourceOffset + o, n), at + o);
        report(n);
      }
      written = t.sourceBytes;
    } else {
      const { rowLength, rows } = ggufRows(t.ne);
      const rowsPerChunk = Math.max(1, Math.floor(MAX_APPLY_CHUNK_ELEMENTS / rowLength));
      const sourceRowBytes = storedByteLength(t.sourceDtype, rowLength)!;
      for (let r = 0; r < rows; r += rowsPerChunk) {
        checkCancel(options.token);
        const n = Math.min(rowsPerChunk, rows - r);
        const bytes = await source.read(t.sourceOffset + r * sourceRowBytes, n * sourceRowBytes);
        const out = convertGgufRows(t.sourceDtype, bytes, n * rowLength, t.targetDtype);
        await writeAll(handle, out, at + written);
        written += out.length;
        report(out.length);
      }
    }
    if (written !== layout.tensorBytes[i]) throw new ApplyError('internal', `internal: tensor '${t.name}' wrote ${written} bytes, its ${dtypeInfo(t.targetDtype)?.label} layout needs ${layout.tensorBytes[i]}`);
    const pad = layout.tensorOffsets[i]! + written;
    const padded = Math.ceil(pad / layout.alignment) * layout.alignment;
    if (padded > pad) await writeAll(handle, new Uint8Array(padded - pad), layout.dataOffset + pad);
  }
}
