/**
 * Finds places in source code (Python, TypeScript, JavaScript) that name a model file or folder, for the
 * "Precision Lens: 25.6M params · …" lens above lines like `InferenceSession("model.onnx")`,
 * `from_pretrained("./llama")` or `Llama(model_path="x.gguf")`. Pure text scanning: whether the path exists
 * is decided by the caller (the extension host checks the workspace).
 */

/** One string literal that names a model. Positions are 0-based; `endColumn` is exclusive (after the closing quote). */
export interface ModelReference {
  readonly line: number;
  /** Column of the opening quote. */
  readonly startColumn: number;
  readonly endColumn: number;
  /** The literal's value (escapes such as `\\` and `\"` resolved). */
  readonly value: string;
  /**
   * 'file': the value ends with a model file extension. 'folder': a local-looking path passed to a loader
   * (`from_pretrained`, `model_path=` …) that may be a folder holding a model (resolved by the caller).
   */
  readonly kind: 'file' | 'folder';
}

/** Model file names we can open, longest suffix first (the index must win over `.json`). */
export const MODEL_FILE_SUFFIXES: readonly string[] = ['.safetensors.index.json', '.safetensors', '.onnx', '.gguf', '.tflite'];

/**
 * Calls and keywords that load a model from a path. A string on such a line that looks like a local path is a
 * candidate folder reference even without an extension (Hugging Face folders, `Llama(model_path=…)`).
 */
const LOADER_HINT = /\b(from_pretrained|InferenceSession|model_path|model_file|modelPath|load_model|load_file|safe_open|Interpreter|Llama|pipeline|onnx\.load|AutoModel\w*|create)\s*[(=:]/;

/**
 * Lines longer than this are skipped (minified bundles). Threat: a 50 MB one-line file making every
 * keystroke rescan megabytes for lenses.
 */
export const MAX_SCANNED_LINE_CHARS = 4000;
/** At most this many lines are scanned. Threat: huge generated sources stalling the lens provider. */
export const MAX_SCANNED_LINES = 20000;
/** At most this many references are reported per document. Threat: thousands of lenses on a generated file. */
export const MAX_REFERENCES = 200;

/** True when `name` ends with a model file suffix (case-insensitive). */
export function isModelFileName(name: string): boolean {
  const lower = name.toLowerCase();
  return MODEL_FILE_SUFFIXES.some((s) => lower.endsWith(s) && lower.length > s.length);
}

/** Comment syntax of the scanned language: Python uses `#`, JavaScript/TypeScript `//`. */
export type SourceSyntax = 'python' | 'javascript';

/** Scans `text` (whole document) and returns the model references in line order. */
export function findModelReferences(text: string, syntax: SourceSyntax = 'python'): ModelReference[] {
  const refs: ModelReference[] = [];
  const lines = text.split(/\r?\n/, MAX_SCANNED_LINES);
  for (let i = 0; i < lines.length && refs.length < MAX_REFERENCES; i++) {
    const line = lines[i]!;
    if (line.length > MAX_SCANNED_LINE_CHARS) continue;
    const hasLoader = LOADER_HINT.test(line);
    for (const lit of stringLiterals(line, syntax)) {
      const kind = classify(lit.value, hasLoader);
      if (kind) refs.push({ line: i, startColumn: lit.start, endColumn: lit.end, value: lit.value, kind });
      if (refs.length >= MAX_REFERENCES) break;
    }
  }
  return refs;
}

function classify(value: string, hasLoader: boolean): ModelReference['kind'] | undefined {
  if (value.length === 0 || value.length > 1024 || value.includes('://') || /[\n{}$*?<>|]/.test(value)) return undefined;
  if (isModelFileName(value)) return 'file';
  // A bare Hub id like "gpt2" or "meta-llama/Llama-3-8B" is only a folder if the caller finds it on disk;
  // require a path-ish look so prose strings on loader lines are not probed.
  if (hasLoader && /^(\.{1,2}\/|\/|[\w.-]+\/)[\w./ @+-]*$/.test(value) && !/\s{2,}/.test(value)) return 'folder';
  return undefined;
}

interface Literal {
  readonly start: number;
  readonly end: number;
  readonly value: string;
}

/**
 * String literals on one line: '…', "…" and `…` (template literals without `${`), with Python prefixes
 * (r, b, u, f — f-strings with `{` are skipped by `classify`). A comment (`#` or `//`) outside strings ends the scan.
 */
function stringLiterals(line: string, syntax: SourceSyntax): Literal[] {
  const out: Literal[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (syntax === 'python' ? c === '#' : c === '/' && line[i + 1] === '/') break;
    if (c === '"' || c === "'" || c === '`') {
      const prefix = line.slice(Math.max(0, i - 2), i).toLowerCase();
      const raw = /(^|[^a-z])r$|rb$|br$/.test(prefix);
      let j = i + 1;
      let value = '';
      let closed = false;
      while (j < line.length) {
        const d = line[j]!;
        if (d === '\\' && !raw && j + 1 < line.length) {
          value += line[j + 1];
          j += 2;
          continue;
        }
        if (d === c) {
          closed = true;
          break;
        }
        value += d;
        j++;
      }
      if (!closed) break;
      out.push({ start: i, end: j + 1, value });
      i = j + 1;
      continue;
    }
    i++;
  }
  return out;
}

/**
 * Picks the model file inside a folder from its entry names (a Hugging Face snapshot, a llama.cpp folder):
 * a sharded index first, then `model.safetensors`, any safetensors, GGUF, ONNX, TFLite. Undefined when none.
 */
export function pickModelInFolder(entryNames: readonly string[]): string | undefined {
  const names = [...entryNames].filter(isModelFileName).sort();
  const preferred = [
    (n: string) => n === 'model.safetensors.index.json',
    (n: string) => n.endsWith('.safetensors.index.json'),
    (n: string) => n === 'model.safetensors',
    (n: string) => n.endsWith('.safetensors'),
    (n: string) => n.endsWith('.gguf'),
    (n: string) => n === 'model.onnx',
    (n: string) => n.endsWith('.onnx'),
    (n: string) => n.endsWith('.tflite'),
  ];
  for (const p of preferred) {
    const hit = names.find((n) => p(n.toLowerCase()));
    if (hit) return hit;
  }
  return undefined;
}
