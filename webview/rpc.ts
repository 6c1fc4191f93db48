/**
 * The webview end of the message channel: the shared {@link RpcEndpoint} over `acquireVsCodeApi().postMessage`
 * and `window` message events. The same class serves the host and the worker channels.
 */
import { RpcEndpoint } from '../src/protocol/rpc';

/** The object VS Code injects into webviews (`acquireVsCodeApi()`, callable once). */
export interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare global {
  function acquireVsCodeApi(): VsCodeApi;
}

/** Creates the endpoint and starts listening; `dispose` stops both. */
export function connectToHost(api: VsCodeApi, onInvalid?: (reason: string) => void): RpcEndpoint {
  const endpoint = new RpcEndpoint((m) => api.postMessage(m), onInvalid ? { onInvalid } : {});
  const listener = (e: MessageEvent) => endpoint.handleMessage(e.data);
  window.addEventListener('message', listener);
  window.addEventListener('unload', () => {
    window.removeEventListener('message', listener);
    endpoint.dispose();
  });
  return endpoint;
}
