/**
 * The extension manifest (package.json `contributes` etc.) against the code: every command the host registers is
 * contributed (and vice versa), every %key% has an English string, engines allow the VS Code the E2E suite runs
 * (1.139), and plan files are associated with the published schema.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const repo = path.resolve(__dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8'));
const nls = JSON.parse(fs.readFileSync(path.join(repo, 'package.nls.json'), 'utf8'));

test('every registered command is contributed with a category, and every contributed command is registered', () => {
  const registered = new Set<string>();
  for (const f of fs.readdirSync(path.join(repo, 'src/host'))) {
    const text = fs.readFileSync(path.join(repo, 'src/host', f), 'utf8');
    for (const m of text.matchAll(/registerCommand\('([^']+)'/g)) registered.add(m[1]!);
  }
  const contributed = pkg.contributes.commands as { command: string; category?: string }[];
  for (const c of contributed) {
    assert.ok(registered.has(c.command), `${c.command} is contributed but never registered`);
    assert.equal(c.category, '%category%', `${c.command} has the Precision Lens category`);
  }
  const internal = new Set(['precisionLens.openPlan']);
  for (const r of registered) assert.ok(internal.has(r) || contributed.some((c) => c.command === r), `${r} is registered but not contributed`);
});

test('every %key% in the manifest has a string in package.nls.json', () => {
  const keys = [...JSON.stringify(pkg).matchAll(/"%([^%"]+)%"/g)].map((m) => m[1]!);
  assert.ok(keys.length > 20);
  for (const k of keys) assert.equal(typeof nls[k], 'string', `package.nls.json lacks '${k}'`);
});

test('engines, extension kind, trust and activation fit the product', () => {
  assert.equal(pkg.engines.vscode, '^1.138.0'); // allows 1.139 (the E2E VS Code)
  assert.deepEqual(pkg.extensionKind, ['workspace']);
  assert.equal(pkg.capabilities.untrustedWorkspaces.supported, 'limited');
  assert.ok(pkg.capabilities.untrustedWorkspaces.restrictedConfigurations.includes('precisionLens.measurement.maxSamples'));
  assert.ok(!pkg.activationEvents.includes('*'));
  assert.ok(pkg.contributes.customEditors.some((e: { viewType: string }) => e.viewType === 'precisionLens.modelInspector'));
});

test('plan files get the contributed schema', () => {
  assert.deepEqual(pkg.contributes.jsonValidation, [{ fileMatch: '*.precision.json', url: './schemas/precision-plan.schema.json' }]);
  assert.ok(fs.existsSync(path.join(repo, 'schemas/precision-plan.schema.json')));
});
