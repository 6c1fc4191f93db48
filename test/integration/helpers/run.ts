/** Shared by the integration tests: open a model file as the CLI and host do, run the CLI in process. */
import { openModel, type Model } from '../../../src/core';
import { runCli } from '../../../src/cli/main';
import { openModelFile } from '../../../src/node/fileByteSource';

/** Opens `file` (with its sibling files) and parses it into the model IR; the file is closed afterwards. */
export async function loadModel(file: string): Promise<Model> {
  const opened = await openModelFile(file);
  try {
    return await openModel(opened.source, { siblings: opened.siblings });
  } finally {
    await opened.close();
  }
}

/** Runs the CLI in process with `args`, capturing what it writes to stdout and stderr. */
export async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}
