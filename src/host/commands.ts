/**
 * Palette commands that open things: Open Model Inspector, Open Sharded Model, Select Target Hardware,
 * Compare Targets, Add Custom Target. Plan commands live in planCommands.ts, measurement in measure.ts.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { activeModelUri, INSPECTOR_VIEW_TYPE } from './activeModel';
import type { Services } from './services';

const MODEL_GLOB = '**/*.{onnx,safetensors,gguf,tflite}';
const INDEX_GLOB = '**/*.safetensors.index.json';
/** Most files offered in a quick pick. Threat: a workspace with millions of files stalling the picker. */
const MAX_PICK_FILES = 500;

/** Asks for a workspace file matching `glob` (excluding node_modules). */
export async function pickWorkspaceFile(glob: string, placeHolder: string): Promise<vscode.Uri | undefined> {
  const files = await vscode.workspace.findFiles(glob, '**/node_modules/**', MAX_PICK_FILES);
  if (files.length === 0) {
    void vscode.window.showInformationMessage(vscode.l10n.t('No matching files ({0}) in the workspace.', glob));
    return undefined;
  }
  files.sort((a, b) => a.path.localeCompare(b.path));
  const picked = await vscode.window.showQuickPick(
    files.map((uri) => ({ label: path.basename(uri.fsPath), description: vscode.workspace.asRelativePath(uri, true), uri })),
    { placeHolder, matchOnDescription: true },
  );
  return picked?.uri;
}

/** The model a command should act on: its argument, the active inspector, or one the user picks. */
export async function modelArgument(arg: unknown): Promise<vscode.Uri | undefined> {
  if (arg instanceof vscode.Uri) return arg;
  return (await activeModelUri()) ?? pickWorkspaceFile(MODEL_GLOB, vscode.l10n.t('Model to inspect'));
}

async function openInspector(arg: unknown): Promise<void> {
  const uri = await modelArgument(arg);
  if (uri) await vscode.commands.executeCommand('vscode.openWith', uri, INSPECTOR_VIEW_TYPE);
}

async function openSharded(arg: unknown): Promise<void> {
  const uri = arg instanceof vscode.Uri ? arg : await pickWorkspaceFile(INDEX_GLOB, vscode.l10n.t('Sharded model index (*.safetensors.index.json)'));
  if (uri) await vscode.commands.executeCommand('vscode.openWith', uri, INSPECTOR_VIEW_TYPE);
}

/** Registers the commands of this file and of the target picker. */
export function registerCommands(services: Services): vscode.Disposable {
  void services;
  return vscode.Disposable.from(
    vscode.commands.registerCommand('precisionLens.openInspector', openInspector),
    vscode.commands.registerCommand('precisionLens.openShardedModel', openSharded),
  );
}
