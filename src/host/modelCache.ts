/**
 * Parsed model headers cached by path, size and mtime, so lenses, diagnostics and the status bar parse each
 * model once and again only after it changes on disk. Alongside the structure: the fingerprint (for stale-plan
 * checks) and the small integer constants the estimator's shape inference reads. Plain Node (no `vscode`),
 * unit-tested in test/unit/hostModelCache.test.ts.
 */
import { promises as fs } from 'node:fs';
import { type Model, modelFingerprint, openModel, readShapeConstants } from '../core';
import { openModelFile } from '../node/fileByteSource';

/** A model as the editor features use it. */
export interface LoadedModel {
  readonly path: string;
  readonly model: Model;
  /** `pl1:` fingerprint of the model's files (see fingerprint.ts). */
  readonly fingerprint: string;
  /** Small INT64/INT32 tensors by name for Reshape/Slice shape inference (ONNX). */
  readonly constants: Readonly<Record<string, readonly number[]>>;
}

interface Entry {
  readonly key: string;
  readonly result: Promise<LoadedModel>;
}

/** Largest number of parsed headers kept. Threat: a workspace naming thousands of models filling memory. */
export const MAX_CACHED_MODELS = 32;

/** Path → {@link LoadedModel}, re-read when size or mtime change. Failures are cached too (until the file changes). */
export class ModelCache {
  private readonly entries = new Map<string, Entry>();
  /** Number of parses started (tests check the cache hits). */
  parseCount = 0;

  constructor(private readonly read: (fsPath: string) => Promise<LoadedModel> = loadModel) {}

  /** The model at `fsPath` (absolute). Rejects with the reader's one-sentence error. */
  async get(fsPath: string): Promise<Model> {
    return (await this.load(fsPath)).model;
  }

  /** Model, fingerprint and shape constants of `fsPath`. */
  async load(fsPath: string): Promise<LoadedModel> {
    const st = await fs.stat(fsPath);
    const key = `${st.size}:${st.mtimeMs}`;
    const hit = this.entries.get(fsPath);
    if (hit && hit.key === key) {
      // Refresh recency (Map keeps insertion order; the first entry is the least recently used).
      this.entries.delete(fsPath);
      this.entries.set(fsPath, hit);
      return hit.result;
    }
    this.parseCount++;
    const result = this.read(fsPath);
    result.catch(() => undefined);
    this.entries.delete(fsPath);
    this.entries.set(fsPath, { key, result });
    while (this.entries.size > MAX_CACHED_MODELS) this.entries.delete(this.entries.keys().next().value as string);
    return result;
  }

  /** Forgets one path (or everything). */
  invalidate(fsPath?: string): void {
    if (fsPath === undefined) this.entries.clear();
    else this.entries.delete(fsPath);
  }
}

/** Reads a model's structure (headers only), fingerprint and shape constants, then closes the files. */
export async function loadModel(fsPath: string): Promise<LoadedModel> {
  const opened = await openModelFile(fsPath);
  try {
    const model = await openModel(opened.source, { siblings: opened.siblings });
    const fingerprint = await modelFingerprint(opened.source, model.files);
    const constants = model.graphs.length ? await readShapeConstants(model, opened.source, opened.siblings) : {};
    return { path: fsPath, model, fingerprint, constants };
  } finally {
    await opened.close();
  }
}

/** Reads only the structure (for callers that need no fingerprint). */
export async function readModelHeader(fsPath: string): Promise<Model> {
  return (await loadModel(fsPath)).model;
}
