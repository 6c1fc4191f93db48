/** Select Target Hardware, Compare Targets and Add Custom Target. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { addCustomTargetText, COMPUTE_TYPES, type CustomTargetInput, fitText, formatBytes, parseUserTargets, type Target } from '../core';
import { readSettings, setTargetId } from './config';
import { activeModelUri } from './activeModel';
import { writeEditorTextFile } from '../node/editorWrites';
import { estimateFit } from './estimates';
import type { Services } from './services';

const KIND_LABELS: Readonly<Record<Target['kind'], string>> = {
  'datacenter-gpu': 'Data-centre GPUs',
  'export-gpu': 'Export-variant GPUs',
  'consumer-gpu': 'Consumer GPUs',
  edge: 'Edge devices',
  laptop: 'Laptops',
  phone: 'Phones',
  accelerator: 'Accelerators',
  cpu: 'CPU',
};

interface TargetItem extends vscode.QuickPickItem {
  readonly target?: Target;
}

/** "80 GiB · 3.35 TB/s" */
function capacityText(t: Target): string {
  return `${formatBytes(t.memoryBytes)} · ${(t.memoryBandwidthBytesPerSecond / 1e12).toFixed(2)} TB/s`;
}

/** Quick-pick rows grouped by kind, with capacity and native formats; `extra` adds a per-target suffix. */
function targetItems(targets: readonly Target[], currentId: string, extra?: (t: Target) => string): TargetItem[] {
  const items: TargetItem[] = [];
  for (const kind of Object.keys(KIND_LABELS) as Target['kind'][]) {
    const group = targets.filter((t) => t.kind === kind);
    if (group.length === 0) continue;
    items.push({ label: vscode.l10n.t(KIND_LABELS[kind]), kind: vscode.QuickPickItemKind.Separator });
    for (const t of group)
      items.push({
        label: `${t.id === currentId ? '$(check) ' : ''}${t.name}`,
        description: `${t.id} · ${capacityText(t)}${extra ? ` · ${extra(t)}` : ''}`,
        detail: vscode.l10n.t('native: {0}', t.native.map((n) => n.toUpperCase()).join(' ')),
        target: t,
      });
  }
  return items;
}

async function selectTarget(services: Services): Promise<Target | undefined> {
  const current = readSettings().targetId;
  const picked = await vscode.window.showQuickPick(targetItems(await services.targets.list(), current), {
    title: vscode.l10n.t('Select Target Hardware'),
    placeHolder: vscode.l10n.t('Target for memory fit, speed and native-format checks (current: {0})', current),
    matchOnDescription: true,
    matchOnDetail: true,
  });
  if (!picked?.target) return undefined;
  await setTargetId(picked.target.id);
  return picked.target;
}

async function compareTargets(services: Services, arg: unknown): Promise<void> {
  const uri = arg instanceof vscode.Uri ? arg : await activeModelUri();
  if (!uri) {
    void vscode.window.showInformationMessage(vscode.l10n.t('Open a model in the Model Inspector (or pass one) to compare targets.'));
    return;
  }
  const model = await services.models.get(uri.fsPath);
  const targets = await services.targets.list(uri);
  const settings = readSettings(uri);
  const fits = new Map(targets.map((t) => [t.id, estimateFit(model, t, settings)]));
  const sorted = [...targets].sort((a, b) => Number(fits.get(b.id)?.fits ?? false) - Number(fits.get(a.id)?.fits ?? false));
  const picked = await vscode.window.showQuickPick(
    targetItems(sorted, settings.targetId, (t) => {
      const f = fits.get(t.id);
      return f ? fitText(f) : vscode.l10n.t('no estimate');
    }),
    { title: vscode.l10n.t('Compare Targets for {0}', path.basename(uri.fsPath)), placeHolder: vscode.l10n.t('Pick one to make it the target'), matchOnDescription: true },
  );
  if (picked?.target) await setTargetId(picked.target.id);
}

async function askNumber(step: number, prompt: string, value: string): Promise<number | undefined> {
  const text = await vscode.window.showInputBox({
    title: vscode.l10n.t('Add Custom Target ({0}/6)', step),
    prompt,
    value,
    validateInput: (v) => (Number.isFinite(Number(v)) && Number(v) > 0 ? undefined : vscode.l10n.t('Enter a positive number.')),
  });
  return text === undefined ? undefined : Number(text);
}

async function addCustomTarget(services: Services): Promise<void> {
  const id = await vscode.window.showInputBox({
    title: vscode.l10n.t('Add Custom Target ({0}/6)', 1),
    prompt: vscode.l10n.t('Target id (lowercase letters, digits, -, _ or .)'),
    validateInput: (v) => (/^[a-z0-9][a-z0-9._-]{0,63}$/.test(v) ? undefined : vscode.l10n.t('Use lowercase letters, digits, -, _ or . (at most 64 characters).')),
  });
  if (!id) return;
  const targets = await services.targets.list();
  const base = await vscode.window.showQuickPick<TargetItem>([{ label: vscode.l10n.t('None (new device)') }, ...targetItems(targets, '')], {
    title: vscode.l10n.t('Add Custom Target ({0}/6): start from', 2),
    matchOnDescription: true,
  });
  if (!base) return;
  const memoryGiB = await askNumber(3, vscode.l10n.t('Memory per device in GiB'), base.target ? String(base.target.memoryBytes / 2 ** 30) : '24');
  if (memoryGiB === undefined) return;
  const bandwidth = await askNumber(4, vscode.l10n.t('Memory bandwidth in GB/s'), base.target ? String(base.target.memoryBandwidthBytesPerSecond / 1e9) : '1000');
  if (bandwidth === undefined) return;
  const baseNative = new Set<string>(base.target?.native ?? ['fp32', 'bf16', 'fp16']);
  const native = await vscode.window.showQuickPick(
    COMPUTE_TYPES.map((c) => ({ label: c, picked: baseNative.has(c) })),
    { title: vscode.l10n.t('Add Custom Target ({0}/6): natively executed types', 5), canPickMany: true },
  );
  if (!native) return;
  let throughputTFLOPS: Record<string, number> = {};
  if (!base.target) {
    const tflops = await askNumber(6, vscode.l10n.t('Dense BF16/FP16 TFLOPS'), '100');
    if (tflops === undefined) return;
    throughputTFLOPS = { bf16: tflops, fp16: tflops };
  }
  const input: CustomTargetInput = { id, name: id, ...(base.target ? { extends: base.target.id } : {}), memoryGiB, memoryBandwidthGBps: bandwidth, throughputTFLOPS, native: native.map((n) => n.label) };
  await writeCustomTarget(services, input);
}

/** Writes the target into the custom targets file as an undoable edit (creating the file and the setting if needed), then selects it. */
async function writeCustomTarget(services: Services, input: CustomTargetInput): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  let file = services.targets.customTargetsPath();
  if (!file) {
    if (!folder) {
      void vscode.window.showErrorMessage(vscode.l10n.t('Open a folder (or set precisionLens.customTargetsFile) to add a custom target.'));
      return;
    }
    file = path.join(folder.uri.fsPath, '.vscode', 'precision-targets.json');
    await vscode.workspace.getConfiguration('precisionLens').update('customTargetsFile', vscode.workspace.asRelativePath(file, false), vscode.ConfigurationTarget.Workspace);
  }
  const uri = vscode.Uri.file(file);
  let existing: string | undefined;
  try {
    existing = (await vscode.workspace.openTextDocument(uri)).getText();
  } catch {
    existing = undefined;
  }
  const text = addCustomTargetText(existing, input);
  parseUserTargets(text, path.basename(file)); // refuse to write a file the catalog would reject
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (open?.isDirty) {
    void vscode.window.showErrorMessage(vscode.l10n.t('{0} has unsaved changes: save or revert it, then add the target again.', vscode.workspace.asRelativePath(uri)));
    return;
  }
  // Same safe output path as the CLI: temp file renamed into place; never written through a link onto the open model.
  const model = await activeModelUri();
  try {
    await writeEditorTextFile(file, text, model ? [model.fsPath] : []);
  } catch (e) {
    void vscode.window.showErrorMessage(e instanceof Error ? e.message : String(e));
    return;
  }
  services.targets.invalidate();
  await setTargetId(input.id);
  void vscode.window.showInformationMessage(vscode.l10n.t('Added target {0} to {1} and selected it.', input.id, vscode.workspace.asRelativePath(uri)));
}

/** Registers the target commands. */
export function registerTargetCommands(services: Services): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand('precisionLens.selectTarget', () => selectTarget(services)),
    vscode.commands.registerCommand('precisionLens.compareTargets', (arg: unknown) => compareTargets(services, arg)),
    vscode.commands.registerCommand('precisionLens.addCustomTarget', () => addCustomTarget(services)),
  );
}
