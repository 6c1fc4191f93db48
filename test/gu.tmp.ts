import { readFileSync } from 'node:fs';
import { MemoryByteSource, openModel } from '../src/core';
import { setGraphScan, SCAN_MIN_GRAPH_BYTES } from '../src/core/formats/onnx/graphScan';
void (async () => {
  const bytes = new Uint8Array(readFileSync(process.argv[2]!));
  for (const giveUp of [true, false, true, false, true, false]) {
    setGraphScan(true, SCAN_MIN_GRAPH_BYTES, giveUp);
    const t = performance.now();
    await openModel(new MemoryByteSource('g.onnx', bytes));
    console.log('giveUp', giveUp, (performance.now() - t).toFixed(1), 'ms');
  }
})();
