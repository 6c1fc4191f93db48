/** `precision-lens inspect` on ONNX files through the real CLI entry point (a child process). */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

const ROOT = path.resolve(__dirname, '../..');
const MODELS = path.resolve(__dirname, '../fixtures/models');

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('inspect mnist-12.onnx --json exits 0 with the counts', () => {
  const r = cli('inspect', path.join(MODELS, 'mnist-12.onnx'), '--json');
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { format: string; parameterCount: number; tensorCount: number; nodeCount: number; formatVersion: number; layers: { role: string }[] };
  assert.deepEqual([report.format, report.formatVersion, report.parameterCount, report.tensorCount, report.nodeCount], ['onnx', 7, 5998, 8, 12]);
  assert.deepEqual(report.layers.map((l) => l.role).filter((x) => x === 'conv').length, 2);
});

test('inspect on a malformed .onnx exits 2 with one line naming the file', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'onnx-cli-'));
  try {
    const bad = path.join(dir, 'bad.onnx');
    writeFileSync(bad, Uint8Array.from([0x08, 0x07, 0x3a, 0xff, 0xff, 0xff, 0x0f, 0x01]));
    const r = cli('inspect', bad);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^precision-lens: bad\.onnx: graph at offset 2 declares \d+ bytes but only 1 remain in its message\.$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
