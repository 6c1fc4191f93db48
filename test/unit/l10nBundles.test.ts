/**
 * Every translation bundle has every English string: the manifest's `package.nls.<lang>.json` every key of
 * `package.nls.json` (which has exactly the `%key%`s package.json uses), and each `l10n/bundle.l10n.<lang>.json` every
 * English webview string (`DEFAULT_STRINGS`, looked up by its English text as `vscode.l10n` does). Today the project
 * ships English only (no `l10n` folder in package.json); a bundle added later is checked here at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_STRINGS } from '../../src/protocol/strings';

const ROOT = path.resolve(__dirname, '../..');
const json = (file: string): Record<string, unknown> => JSON.parse(readFileSync(path.join(ROOT, file), 'utf8')) as Record<string, unknown>;

test('package.nls.json has exactly the %keys% package.json uses; every package.nls.<lang>.json has every key', () => {
  const manifest = readFileSync(path.join(ROOT, 'package.json'), 'utf8');
  const used = new Set([...manifest.matchAll(/"%([^%"]+)%"/g)].map((m) => m[1]!));
  const english = Object.keys(json('package.nls.json'));
  assert.ok(used.size > 10, `package.json uses ${used.size} %keys%`);
  assert.deepEqual([...used].filter((k) => !english.includes(k)), [], 'used in package.json but missing from package.nls.json');
  assert.deepEqual(english.filter((k) => !used.has(k)), [], 'in package.nls.json but used nowhere');
  for (const f of readdirSync(ROOT).filter((n) => /^package\.nls\.[a-z]{2}(-[a-z]+)?\.json$/i.test(n))) {
    const keys = Object.keys(json(f));
    assert.deepEqual(english.filter((k) => !keys.includes(k)), [], `${f} misses English keys`);
  }
});

test('every l10n bundle has every English webview string, the speed strings included; no bundle VS Code would not load', () => {
  const pkg = json('package.json');
  const dir = typeof pkg['l10n'] === 'string' ? pkg['l10n'] : undefined;
  const english = Object.values(DEFAULT_STRINGS);
  assert.ok(english.includes(DEFAULT_STRINGS.inferenceLatency) && english.includes(DEFAULT_STRINGS.speedNotPublished) && english.includes(DEFAULT_STRINGS.runtimeLineNoKv));
  if (dir === undefined) {
    assert.equal(existsSync(path.join(ROOT, 'l10n')), false, 'an l10n/ folder without "l10n" in package.json is never loaded');
    return;
  }
  const bundles = readdirSync(path.join(ROOT, dir)).filter((n) => /^bundle\.l10n\.[a-z]{2}(-[a-z]+)?\.json$/i.test(n));
  for (const f of bundles) {
    const bundle = json(path.join(dir, f));
    assert.deepEqual(english.filter((s) => typeof bundle[s] !== 'string'), [], `${f} misses English strings`);
  }
});
