import { dtypeLabel, formatBytes, formatCount, inspectDocument, type InspectLayerRows, openModel } from '../../core';
import { openModelFileBlocking } from '../../node/fileByteSource';
import { renderTable, type CliOutput } from '../io';
import { JSON_OPTION, flag, type CommandSpec, type OptionValues } from '../options';
import { writeInspectRows } from '../inspectJson';
import { writeJson } from '../jsonOut';

/** Option table of `inspect`. */
export const inspectSpec: CommandSpec = {
  name: 'inspect',
  summary: 'List the layers of a model: operator, role, shape, parameters, stored type and bytes.',
  positionals: [{ name: 'FILE', description: 'The model: .onnx, .safetensors (or its .index.json), .gguf or .tflite.' }],
  options: [JSON_OPTION],
  examples: ['precision-lens inspect model.onnx', 'precision-lens inspect model.gguf --json | jq .layers[0]'],
};

/**
 * The table's rows, read from the layers as `InspectLayerRows.rows` would give them (no row object per layer); a size
 * or dtype label is made once per distinct value (a 12,500-layer graph has a handful).
 */
function tableRows(rows: InspectLayerRows): (string | number)[][] {
  const sizes = new Map<number, string>();
  const labels = new Map<string, string>();
  const out = new Array<(string | number)[]>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const l = rows.layer(i);
    let size = sizes.get(l.byteLength);
    if (size === undefined) sizes.set(l.byteLength, (size = formatBytes(l.byteLength)));
    let label = labels.get(l.dtype);
    if (label === undefined) labels.set(l.dtype, (label = dtypeLabel(l.dtype)));
    out[i] = [l.name, l.op, l.role, l.shape.length ? l.shape.join('×') : '-', l.parameterCount, label, size];
  }
  return out;
}

/** `precision-lens inspect FILE [--json]`: the model's layers as a table or one JSON document. */
export async function inspectCommand(values: OptionValues, positionals: readonly string[], io: CliOutput): Promise<number> {
  const file = positionals[0]!;
  const opened = openModelFileBlocking(file);
  try {
    const model = await openModel(opened.source, { siblings: opened.siblings });
    // The layer rows are made on request: a block at a time by writeJson, all at once for the table.
    const report = inspectDocument(model);
    if (flag(values, 'json')) {
      writeJson(io, report, writeInspectRows);
      return 0;
    }
    const mix = Object.entries(report.dtypeBytes).sort((a, b) => b[1] - a[1]).map(([d, b]) => `${dtypeLabel(d)} ${formatBytes(b)}`).join(', ');
    const hp = report.hyperparameters;
    io.out(`${report.file}: ${report.format}${report.formatVersion !== null ? ` v${report.formatVersion}` : ''}${report.producer ? ` (${report.producer})` : ''}`);
    io.out(`parameters ${formatCount(report.parameterCount)} (${report.parameterCount}) · weights ${formatBytes(report.weightBytes)} · tensors ${report.tensorCount} · nodes ${report.nodeCount} · layers ${report.layerCount}`);
    if (mix) io.out(`dtype mix: ${mix}`);
    if (hp.architecture || hp.blockCount) {
      io.out(`architecture: ${hp.architecture ?? '?'}${hp.blockCount ? ` · ${hp.blockCount} blocks` : ''}${hp.headCount ? ` · ${hp.headCount} heads` : ''}${hp.kvHeadCount ? ` / ${hp.kvHeadCount} KV` : ''}${hp.expertCount ? ` · ${hp.expertCount} experts (${hp.expertUsedCount ?? '?'} used)` : ''}`);
    }
    if (report.attention) io.out(`attention: ${report.attention.summary} · ${formatBytes(report.attention.kvBytesPerTokenFp16)} KV per token at FP16${report.attention.stateElements > 0 ? ` + ${formatBytes(report.attention.stateElements * 4)} recurrent state per sequence` : ''}`);
    const p = report.parameters;
    if (p.activeText !== p.total) {
      const extra = [p.mtp > 0 ? `MTP ${formatCount(p.mtp)} (not active)` : '', p.vision > 0 ? `vision tower ${formatCount(p.vision)}` : '', p.audio > 0 ? `audio tower ${formatCount(p.audio)}` : ''].filter(Boolean);
      io.out(`active per token: ${formatCount(p.activeText)} (${p.activeText})${extra.length ? ` · ${extra.join(' · ')}` : ''}`);
    }
    for (const w of report.attention?.warnings ?? []) io.out(`warning: ${w}`);
    io.out('');
    io.out(
      renderTable(
        ['layer', 'op', 'role', 'shape', 'params', 'dtype', 'bytes'],
        tableRows(report.layers),
        [6],
      ),
    );
    for (const w of report.warnings) io.out(`warning: ${w}`);
    return 0;
  } finally {
    await opened.close();
  }
}
