/**
 * The README's set-up commands are what CI runs, and the unit tier stays hermetic (issue 11): `.ci/run` must run each
 * command of the README's "Set up" block as written (the demo with `-- --check`, its non-blocking mode), then the
 * integration tier and the end-to-end suite; `npm test` runs test/unit only; no unit test reaches for ../shared,
 * ONNX Runtime, the llama.cpp binding or python.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '../..');
const read = (rel: string): string => readFileSync(path.join(REPO, rel), 'utf8');

/** The commands of the first ```sh block under "## Set up", comments removed. */
function setUpCommands(readme: string): string[] {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Set up'));
  assert.ok(section, 'README has a "## Set up" section');
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, 'the Set up section has a ```sh block');
  return block.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter(Boolean);
}

/** The commands .ci/run executes: its non-comment lines. */
function ciLines(ci: string): string[] {
  return ci.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

test('.ci/run runs the README set-up commands as written (demo with -- --check), in order, before the other tiers', () => {
  const commands = setUpCommands(read('README.md'));
  assert.deepEqual(commands, ['npm install && npm run demo', 'npm test']);
  const lines = ciLines(read('.ci/run'));
  const expected = commands.map((c) => (c.endsWith('npm run demo') ? `${c} -- --check` : c));
  const at = expected.map((c) => lines.indexOf(c));
  assert.ok(at.every((i) => i >= 0), `.ci/run lacks ${expected.filter((_, i) => at[i]! < 0).join(', ')}`);
  assert.deepEqual([...at].sort((a, b) => a - b), at, 'in the README order');
  const integration = lines.indexOf('npm run test:integration');
  const e2e = lines.indexOf('npm run test:e2e');
  assert.ok(integration > at[at.length - 1]! && e2e > integration, 'then the integration tier, then end-to-end');
});

test('npm test runs type-check, lint, the build (the cliLauncher unit test reads dist/) and test/unit only; test:integration runs every test/integration/*.test.ts and the validations', () => {
  const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
  assert.match(scripts['test']!, /^npm run typecheck && npm run lint && npm run build && node --import tsx --test .*test\/unit\/\*\.test\.ts$/);
  assert.doesNotMatch(scripts['test']!, /integration|e2e/);
  assert.match(scripts['test:integration']!, /--test .*test\/integration\/\*\.test\.ts/);
  for (const v of ['validate:sensitivity', 'validate:memory', 'validate:plan']) assert.ok(scripts['test:integration']!.includes(`npm run ${v}`), v);
});

test('unit tests are hermetic: nothing beside the repository, no ONNX Runtime, llama.cpp binding, python or Debian test data', () => {
  const forbidden = /\.\.\/shared|shared\/models|require\(['"]onnxruntime-node|from ['"]onnxruntime-node|node-llama-cpp|(spawn|exec)\w*\(\s*['"][^'"]*python|\/usr\/bin\/python|libonnx-testdata|dpkg/;
  const offenders: string[] = [];
  for (const dir of ['test/unit', 'test/fixtures']) {
    for (const f of readdirSync(path.join(REPO, dir))) {
      if (!f.endsWith('.ts')) continue;
      read(`${dir}/${f}`).split('\n').forEach((line, i) => {
        if (forbidden.test(line)) offenders.push(`${dir}/${f}:${i + 1}: ${line.trim()}`);
      });
    }
  }
  assert.deepEqual(offenders, [], 'move these tests to test/integration/');
});
