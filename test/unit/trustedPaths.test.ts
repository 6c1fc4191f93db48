/**
 * Paths and files the tool trusted too much (issue 14): a plan's model path is confined to the plan's folder like
 * external data, and the measured-sensitivity cache is a private per-user folder whose entries are verified.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../src/cli/main';
import { defaultCacheDir, preparePrivateDir, readCacheEntry, writeCacheEntry } from '../../src/node/userCache';
import { buildMatMulModel } from '../fixtures/planOnnx';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-trust-'));
  try {
    await fn(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

test("a plan's model.file that leaves the plan's folder (by .., absolute path or symlink) is refused before opening", async () => {
  await withDir(async (dir) => {
    await fs.mkdir(path.join(dir, 'plans'));
    await fs.mkdir(path.join(dir, 'outside'));
    const model = path.join(dir, 'plans', 'm.onnx');
    await fs.writeFile(model, buildMatMulModel({ k: 16, n: 8, opset: 13, seed: 1 }));
    await fs.copyFile(model, path.join(dir, 'outside', 'x.onnx'));
    await fs.symlink(path.join(dir, 'outside', 'x.onnx'), path.join(dir, 'plans', 'link.onnx'));
    const made = await cli('plan', model, '--target', 'rtx-4090', '--avg-bits', '8', '--no-verify', '-o', path.join(dir, 'plans', 'p.json'));
    assert.equal(made.code, 0, made.err);
    const plan = JSON.parse(await fs.readFile(path.join(dir, 'plans', 'p.json'), 'utf8')) as { model: { file: string } };
    for (const file of ['../outside/x.onnx', path.join(dir, 'outside', 'x.onnx'), 'link.onnx']) {
      plan.model.file = file;
      await fs.writeFile(path.join(dir, 'plans', 'evil.json'), JSON.stringify(plan));
      const r = await cli('export', path.join(dir, 'plans', 'evil.json'), '--to', 'json');
      assert.equal(r.code, 2, `${file}: ${r.err}`);
      assert.match(r.err, /refusing (external path|model file) .*(leaves the model folder|is absolute|outside the plan's folder)/, file);
      assert.ok(!/fingerprint|different version/.test(r.err), `${file}: the outside model was opened: ${r.err}`);
    }
    plan.model.file = 'm.onnx';
    await fs.writeFile(path.join(dir, 'plans', 'ok.json'), JSON.stringify(plan));
    assert.equal((await cli('export', path.join(dir, 'plans', 'ok.json'), '--to', 'json')).code, 0);
  });
});

test('the cache folder is per user and private; planted, foreign or symlinked entries are ignored', async () => {
  await withDir(async (dir) => {
    const saved = process.env['XDG_CACHE_HOME'];
    try {
      delete process.env['XDG_CACHE_HOME'];
      const d = defaultCacheDir();
      assert.ok(d === undefined || !d.startsWith(os.tmpdir()), `default cache under the shared temp folder: ${d}`);
      process.env['XDG_CACHE_HOME'] = path.join(dir, 'xdg');
      assert.equal(defaultCacheDir(), path.join(dir, 'xdg', 'precision-lens'));
    } finally {
      if (saved === undefined) delete process.env['XDG_CACHE_HOME'];
      else process.env['XDG_CACHE_HOME'] = saved;
    }
    const cache = path.join(dir, 'cache');
    assert.equal(await preparePrivateDir(cache), undefined);
    assert.equal((await fs.stat(cache)).mode & 0o777, 0o700);
    await writeCacheEntry(cache, 'a.json', '{"ok":1}');
    assert.equal((await fs.stat(path.join(cache, 'a.json'))).mode & 0o777, 0o600);
    assert.equal(await readCacheEntry(cache, 'a.json'), '{"ok":1}');
    // A group/other-writable entry, or a symlink to a planted file, is not trusted.
    await fs.writeFile(path.join(dir, 'planted.json'), '{"planted":1}');
    await fs.symlink(path.join(dir, 'planted.json'), path.join(cache, 'b.json'));
    assert.equal(await readCacheEntry(cache, 'b.json'), undefined);
    await fs.writeFile(path.join(cache, 'c.json'), '{}', { mode: 0o666 });
    await fs.chmod(path.join(cache, 'c.json'), 0o666);
    assert.equal(await readCacheEntry(cache, 'c.json'), undefined);
    // Writing replaces a planted symlink entry; the planted target is never written through.
    await writeCacheEntry(cache, 'b.json', '{"mine":1}');
    assert.equal(await fs.readFile(path.join(dir, 'planted.json'), 'utf8'), '{"planted":1}');
    // A symlinked or too-open cache folder: refused or tightened.
    await fs.symlink(cache, path.join(dir, 'linked'));
    assert.match((await preparePrivateDir(path.join(dir, 'linked'))) ?? '', /symbolic link/);
    await fs.chmod(cache, 0o777);
    assert.equal(await preparePrivateDir(cache), undefined);
    assert.equal((await fs.stat(cache)).mode & 0o777, 0o700);
  });
});
