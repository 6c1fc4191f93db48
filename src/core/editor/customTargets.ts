/**
 * Adding a target to a user targets file as a text edit (so the editor can apply it as an undoable
 * WorkspaceEdit and keep the user's comments and layout). The result is validated by `parseUserTargets`.
 */
import { isJsonObject } from '../model/dict';
import { applyEdits, modify, type FormattingOptions } from 'jsonc-parser';
import { parseJsoncValue } from '../io/jsonc';
import { DEFAULT_LIMITS } from '../io/limits';

/** The fields "Add Custom Target" asks for (units as users type them). */
export interface CustomTargetInput {
  readonly id: string;
  readonly name: string;
  /** A catalog (or earlier user) target the new one starts from. */
  readonly extends?: string;
  readonly memoryGiB: number;
  readonly memoryBandwidthGBps: number;
  /** Dense TFLOPS per compute type; may be empty when `extends` supplies rates. */
  readonly throughputTFLOPS: Readonly<Record<string, number>>;
  readonly native: readonly string[];
}

const FORMAT: FormattingOptions = { insertSpaces: true, tabSize: 2, eol: '\n' };

/** The JSON object stored for `input` (only the fields given). */
export function customTargetEntry(input: CustomTargetInput): Record<string, unknown> {
  return {
    id: input.id,
    name: input.name,
    ...(input.extends ? { extends: input.extends } : {}),
    memoryGiB: input.memoryGiB,
    memoryBandwidthGBps: input.memoryBandwidthGBps,
    ...(Object.keys(input.throughputTFLOPS).length ? { throughputTFLOPS: { ...input.throughputTFLOPS } } : {}),
    ...(input.native.length ? { native: [...input.native] } : {}),
  };
}

/**
 * New text of a targets file with `input` added, or replacing the entry with the same id. `existing` is the
 * current file text (undefined or blank for a new file). Keeps the file's shape: a bare array stays an array,
 * `{ "targets": [...] }` stays an object. Throws a one-sentence Error when the text is not such a file.
 */
export function addCustomTargetText(existing: string | undefined, input: CustomTargetInput): string {
  const entry = customTargetEntry(input);
  if (!existing || existing.trim() === '') return `${JSON.stringify({ targets: [entry] }, null, 2)}\n`;
  // jsonc-parser's parse and modify recurse: gate the depth first (io/jsonc.ts).
  const parsed = parseJsoncValue(existing, DEFAULT_LIMITS.maxNestingDepth);
  if (parsed.error !== undefined) throw new Error(`The targets file ${parsed.error}.`);
  const doc = parsed.value;
  const root: (string | number)[] = Array.isArray(doc) ? [] : isJsonObject(doc) && Array.isArray(doc['targets']) ? ['targets'] : [];
  const list = Array.isArray(doc) ? doc : isJsonObject(doc) && Array.isArray(doc['targets']) ? (doc['targets'] as unknown[]) : undefined;
  if (!list) throw new Error('The targets file must hold an array of targets or an object with a "targets" array.');
  const at = list.findIndex((t) => isJsonObject(t) && t['id'] === input.id);
  const edits = modify(existing, [...root, at >= 0 ? at : list.length], entry, { formattingOptions: FORMAT, ...(at >= 0 ? {} : { isArrayInsertion: true }) });
  return applyEdits(existing, edits);
}

