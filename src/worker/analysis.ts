/**
 * Worker-thread entry (bundled to dist/worker.js by esbuild.mjs): runs core analysis off the calling thread.
 * Dispatches on the message `kind`: static sensitivity chunks (src/node/sensitivityRunner.ts) and GGUF apply
 * chunks (src/node/ggufConvertPool.ts).
 */
import { parentPort } from 'node:worker_threads';
import { handleSensitivityRequest, isSensitivityRequest } from './sensitivityWorker';
import { handleGgufConvertRequest, isGgufConvertRequest } from './ggufConvert';

parentPort?.on('message', (msg: unknown) => {
  if (isSensitivityRequest(msg)) {
    const { reply, transfer } = handleSensitivityRequest(msg);
    parentPort!.postMessage(reply, transfer);
    return;
  }
  if (isGgufConvertRequest(msg)) {
    const { reply, transfer } = handleGgufConvertRequest(msg);
    parentPort!.postMessage(reply, transfer);
    return;
  }
  parentPort!.postMessage({ kind: 'error', message: 'Unknown worker request.' });
});
