/**
 * Runs INSIDE VS Code's extension host (code-server) with the real `vscode` API, like an extensionTestsPath of
 * @vscode/test-electron: `run()` resolves when every test passed and rejects otherwise. Results are written to
 * $PRECISION_LENS_TEST_RESULT as well (the extension host's console is not always easy to reach).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as vscode from 'vscode';

const EXTENSION_ID = 'precision-lens.precision-lens';

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const ws = (): vscode.Uri => vscode.workspace.workspaceFolders![0]!.uri;
const file = (rel: string): vscode.Uri => vscode.Uri.joinPath(ws(), rel);

/** Resolved lens titles of a document (the provider is asked to resolve up to 100 lenses). */
async function lensTitles(uri: vscode.Uri): Promise<string[]> {
  const lenses = (await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri, 100)) ?? [];
  return lenses.map((l) => l.command?.title ?? '');
}

const tests: Array<[string, () => Promise<void>]> = [
  ['the extension activates and registers its commands', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is installed`);
    await ext.activate();
    const cmds = await vscode.commands.getCommands(true);
    for (const c of ['openInspector', 'selectTarget', 'generatePlan', 'measureSensitivity', 'exportPlan', 'applyPlan', 'compareTargets', 'addCustomTarget', 'openShardedModel'])
      assert.ok(cmds.includes(`precisionLens.${c}`), `precisionLens.${c} registered`);
  }],
  ['source lenses name existing models only, with parameter counts', async () => {
    const doc = await vscode.workspace.openTextDocument(file('infer.py'));
    await vscode.window.showTextDocument(doc);
    const titles = await waitFor('resolved lenses in infer.py', async () => {
      const t = await lensTitles(doc.uri);
      return t.length >= 2 && t.every((x) => x.includes('params') || x.includes(':')) ? t : undefined;
    });
    assert.equal(titles.length, 2, JSON.stringify(titles));
    assert.match(titles.find((t) => t.includes('293k')) ?? '', /^Precision Lens: 293k params · 1\.12 MiB FP32/);
  }],
  ['plan diagnostics carry codes that quick fixes answer; applying a fix edits the document and undo restores it', async () => {
    const uri = file('models/stories260K.gguf.precision.json');
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    const diags = await waitFor('plan diagnostics', () => {
      const d = vscode.languages.getDiagnostics(uri).filter((x) => x.source === 'Precision Lens');
      return d.length >= 3 ? d : undefined;
    });
    // 'schema': the fixture's extra "comment" property (a warning; the plan is still read).
    assert.deepEqual(diags.map((d) => String(d.code)).sort(), ['not-native', 'schema', 'unknown-layer']);
    const notNative = diags.find((d) => d.code === 'not-native')!;
    // VS Code cancels a code-action request when the document's diagnostics change under it (the plan state is
    // still being computed right after opening): ask again, as the lightbulb does, until the fixes arrive.
    let actions: vscode.CodeAction[] = [];
    await waitFor('quick fixes for not-native', async () => {
      try {
        actions = (await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, notNative.range, vscode.CodeActionKind.QuickFix.value)) ?? [];
      } catch (e) {
        if (!/Canceled/i.test(String(e))) throw e;
        return undefined;
      }
      return actions.some((a) => a.title.startsWith('Use Q4_K')) || undefined;
    });
    const fix = actions.find((a) => a.title.startsWith('Use Q4_K'));
    assert.ok(fix?.edit, actions.map((a) => a.title).join('; '));
    assert.ok(fix.isPreferred);
    const before = doc.getText();
    assert.ok(await vscode.workspace.applyEdit(fix.edit));
    assert.match(doc.getText(), /"blk\.0\.attn_q\.weight",\s*"format":\s*"q4_k"/);
    await waitFor('not-native cleared', () => !vscode.languages.getDiagnostics(uri).some((d) => d.code === 'not-native') || undefined);
    await vscode.commands.executeCommand('undo');
    assert.equal(doc.getText(), before);
  }],
  ['plan lenses: header with fit and speed, Re-solve, one lens per entry', async () => {
    const uri = file('models/stories260K.gguf.precision.json');
    const titles = await waitFor('plan lenses with sensitivity', async () => {
      const t = await lensTitles(uri);
      return t.some((x) => /predicted [\d.]+ dB/.test(x)) ? t : undefined;
    }, 60_000);
    assert.match(titles[0]!, /^H100 SXM5 80GB · .* · fits · .* tok\/s$/);
    assert.equal(titles[1], 'Re-solve');
    // A GGUF plan in a trusted workspace can be run in llama.cpp: verify, and measure layers then verify.
    assert.equal(titles[2], 'Verify in llama.cpp');
    assert.equal(titles[3], 'Measure layers and verify');
    assert.equal(titles.length, 4 + 3, JSON.stringify(titles));
  }],
  ['untrusted workspaces are supported in limited mode (measurement needs trust; this test workspace is trusted)', async () => {
    assert.equal(vscode.workspace.isTrusted, true);
    const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as { capabilities: { untrustedWorkspaces: { supported: string } } };
    assert.equal(pkg.capabilities.untrustedWorkspaces.supported, 'limited');
  }],
];

export async function run(): Promise<void> {
  const lines: string[] = [];
  let failed = 0;
  for (const [name, fn] of tests) {
    try {
      await fn();
      lines.push(`ok - ${name}`);
    } catch (e) {
      failed++;
      lines.push(`not ok - ${name}: ${(e as Error).message}`);
    }
    console.log(`[pl-test] ${lines[lines.length - 1]}`);
  }
  const summary = `${tests.length - failed} passed, ${failed} failed`;
  console.log(`[pl-test] ${summary}`);
  if (process.env.PRECISION_LENS_TEST_RESULT) fs.writeFileSync(process.env.PRECISION_LENS_TEST_RESULT, `${lines.join('\n')}\n${summary}\n`);
  if (failed) throw new Error(summary);
}
