/**
 * Static (weights-only) sensitivity per model, computed once per file version and format set and shared by the
 * plan features, plan generation and the inspector. The heavy part runs in worker threads (dist/worker.js via
 * src/node/sensitivityRunner.ts); this thread only reads byte ranges and merges results. Plain Node.
 */
import { promises as fs } from 'node:fs';
import type { CancellationToken, SensitivityReport } from '../core';
import { openModelFile } from '../node/fileByteSource';
import { analyzeModelSensitivity, type SensitivityOptions, type SensitivityProgress } from '../node/sensitivityRunner';
import type { ModelCache } from './modelCache';

interface Entry {
  readonly key: string;
  readonly formats: readonly string[];
  readonly result: Promise<SensitivityReport>;
  report?: SensitivityReport;
}

/** Most reports kept. Threat: reports of many large models filling the extension host's memory. */
export const MAX_CACHED_REPORTS = 8;

/** Path → latest static sensitivity report. */
export class SensitivityCache {
  private readonly entries = new Map<string, Entry>();

  /** With `models`, the analysis takes the model the ModelCache parsed instead of parsing the file again. */
  constructor(private readonly analyze: typeof analyzeModelSensitivity = analyzeModelSensitivity, private readonly models?: ModelCache) {}

  /**
   * The report for `fsPath` covering at least `formats`. A running or finished computation for the same file
   * version and a superset of the formats is reused. Rejects with CancelledError when `token` fires.
   */
  async get(fsPath: string, formats: readonly string[], token?: CancellationToken, onProgress?: (p: SensitivityProgress) => void): Promise<SensitivityReport> {
    const st = await fs.stat(fsPath);
    const key = `${st.size}:${st.mtimeMs}`;
    const hit = this.entries.get(fsPath);
    if (hit && hit.key === key && formats.every((f) => hit.formats.includes(f))) return hit.result;
    const wanted = [...new Set([...(hit && hit.key === key ? hit.formats : []), ...formats])];
    const entry: Entry = {
      key,
      formats: wanted,
      result: this.run(fsPath, { formats: wanted, ...(token ? { token } : {}), ...(onProgress ? { onProgress } : {}) }),
    };
    this.entries.delete(fsPath);
    this.entries.set(fsPath, entry);
    entry.result.then(
      (r) => (entry.report = r),
      () => {
        if (this.entries.get(fsPath) === entry) this.entries.delete(fsPath); // a failed or cancelled run is retried next time
      },
    );
    while (this.entries.size > MAX_CACHED_REPORTS) this.entries.delete(this.entries.keys().next().value as string);
    return entry.result;
  }

  /** Analyzes the file with the model the ModelCache parsed (files opened only for the weights' bytes). */
  private async run(fsPath: string, options: SensitivityOptions): Promise<SensitivityReport> {
    if (!this.models) return this.analyze(fsPath, options);
    const { model } = await this.models.load(fsPath);
    const opened = await openModelFile(fsPath);
    try {
      return await this.analyze({ model, source: opened.source, siblings: opened.siblings }, options);
    } finally {
      await opened.close();
    }
  }

  /** The finished report for `fsPath`, if any (whatever its formats). */
  peek(fsPath: string): SensitivityReport | undefined {
    return this.entries.get(fsPath)?.report;
  }
}
