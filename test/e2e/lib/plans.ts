/**
 * Plan files written into the test workspace, beside the copied models, with the model's real fingerprint
 * (computed by core, as `precision-lens plan` would) so that only the problems put in on purpose are reported.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { modelFingerprint } from '../../../src/core/plan/fingerprint';
import { FileByteSource } from '../../../src/node/fileByteSource';
import { readModelHeader } from '../../../src/host/modelCache';

/** Layer names the fixtures use (stories260K.gguf, llama layout). */
export const PLAN_LAYERS = { notNative: 'blk.0.attn_q.weight', ok: 'blk.0.attn_k.weight', unknown: 'blk.9.attn_q.weight' } as const;

/** Writes `models/stories260K.gguf.precision.json`: NVFP4 on an H100 (not native), one fine entry, one unknown layer. */
export async function writePlanFixtures(workspace: string): Promise<string> {
  const modelPath = path.join(workspace, 'models', 'stories260K.gguf');
  const source = await FileByteSource.open(modelPath);
  let fingerprint: string;
  try {
    fingerprint = await modelFingerprint(source, (await readModelHeader(modelPath)).files);
  } finally {
    await source.close();
  }
  const planPath = `${modelPath}.precision.json`;
  // No "$schema": VS Code would try to download that URL instead of using the contributed schema (see report).
  const plan = {
    version: 1,
    model: { file: 'stories260K.gguf', fingerprint, byteLength: fs.statSync(modelPath).size },
    target: 'h100',
    budget: 'capacity',
    context: 2048,
    batch: 1,
    kvFormat: 'fp16',
    defaultFormat: 'q8_0',
    comment: 'written by the e2e suite',
    layers: [
      { layer: PLAN_LAYERS.notNative, format: 'nvfp4' },
      { layer: PLAN_LAYERS.ok, format: 'q4_k' },
      { layer: PLAN_LAYERS.unknown, format: 'q4_k' },
    ],
  };
  const { layers, ...head } = plan;
  const text = `${JSON.stringify(head, null, 2).slice(0, -2)},\n  "layers": [\n${layers.map((l) => `    ${JSON.stringify(l)}`).join(',\n')}\n  ]\n}\n`;
  fs.writeFileSync(planPath, text);
  return planPath;
}
