/**
 * Files the VS Code extension writes itself — plan files (Generate / Re-solve / Verify Plan) and the custom
 * targets file (Add Custom Target) — go through the same safe output path as the CLI (src/node/safeOutput.ts):
 * a fresh temporary file in the destination's folder renamed into place, and a destination that resolves by
 * device+inode to the model or one of its external-data files / shards is refused (issue 14). Apply runs in the
 * task process and already writes through safeOutput; Export opens an untitled document and writes nothing.
 */
import * as path from 'node:path';
import { modelDataFiles, writeOutputFile } from './safeOutput';

/** What an editor write must never replace: the model file and its external data / shards. */
export function modelInputFiles(modelPath: string, model: { readonly files: readonly { readonly path: string }[] }): string[] {
  return [...new Set([path.resolve(modelPath), ...modelDataFiles(modelPath, model)])];
}

/**
 * Writes `text` to `filePath` atomically (temp + rename; folders created), refusing a destination that is one of
 * `inputs` by identity. Throws `OutputError` (one sentence naming the file) on refusal, a full disk or a failed write;
 * the destination is then untouched.
 */
export async function writeEditorTextFile(filePath: string, text: string, inputs: readonly string[]): Promise<void> {
  await writeOutputFile(filePath, text, { inputs });
}
