/**
 * `plan --measure` / `--verify` with a budget nothing fits: reported before any runtime is started (measuring a GGUF
 * in llama.cpp layer by layer took ~5 minutes before ending in "nothing fits").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../src/cli/main';
import { buildMatMulModel } from '../fixtures/planOnnx';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

test('plan --measure / --verify on an impossible budget: exit 2, nothing measured, no plan written', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-impossible-'));
  try {
    const file = path.join(dir, 'mm.onnx');
    await fs.writeFile(file, buildMatMulModel({ k: 64, n: 32, gemmOut: 16 }));
    for (const flag of ['--measure', '--verify']) {
      const out = path.join(dir, `plan${flag}.json`);
      const r = await cli('plan', file, '--target', 'h100', '--avg-bits', '1', flag, '-o', out);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, /note: nothing was measured: no plan fits this budget/);
      assert.match(r.err, /nothing fits: the smallest allowed layer weights take 1\.29 KiB/);
      await assert.rejects(fs.stat(out), /ENOENT/);
    }
    // A budget that fits still measures (the note is only for the impossible case): checked without a runtime by
    // --no-verify on a static plan.
    const ok = await cli('plan', file, '--target', 'h100', '--avg-bits', '8', '--no-verify', '-o', path.join(dir, 'ok.json'));
    assert.equal(ok.code, 0, ok.err);
    assert.doesNotMatch(ok.err, /nothing was measured/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
