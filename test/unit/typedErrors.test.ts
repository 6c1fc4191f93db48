/**
 * Issue 12: the Node adapters throw typed errors with a code (NodeError and its kinds, OutputError, core's
 * ModelFormatError …) and the CLI decides by class and code, never by message text. This scan fails on any
 * `new Error(` or `throw Error(` in src/node, src/cli and src/worker, and on classifying an error by its `name`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(rel)));
    else if (e.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

async function hits(pattern: RegExp): Promise<string[]> {
  const found: string[] = [];
  for (const dir of ['src/node', 'src/cli', 'src/worker']) {
    for (const file of await sources(dir)) {
      (await fs.readFile(path.join(ROOT, file), 'utf8')).split('\n').forEach((line, i) => {
        if (pattern.test(line)) found.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
  }
  return found;
}

test('no plain Error is created in src/node, src/cli or src/worker (every failure has a class and a code)', async () => {
  assert.deepEqual(await hits(/\bnew Error\(|\bthrow Error\(/), []);
});

test('no error is classified by its name or message text in src/node, src/cli or src/worker', async () => {
  assert.deepEqual(await hits(/\.name === '\w*Error'|message\)?\.(includes|startsWith|match)\(|\.test\([^)]*\.message/), []);
});
