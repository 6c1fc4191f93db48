/**
 * Webview entry (bundled by esbuild.mjs to dist/webview.js, browser/iife). Loads the few
 * `@vscode-elements/elements` components the page uses (native look in every theme), connects to the host
 * and starts the app. Runs under a strict CSP: this script is the only one and carries the page's nonce.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import { InspectorApp } from './app';
import { connectToHost } from './rpc';

declare global {
  interface Window {
    /** Lit adds this nonce to any `<style>` it must fall back to (browsers without constructable stylesheets). */
    litNonce?: string;
    /** The running app, for the static harness and the end-to-end tests. */
    precisionLensInspector?: InspectorApp;
  }
}

const script = document.currentScript as HTMLScriptElement | null;
if (script?.nonce) window.litNonce = script.nonce;

const api = acquireVsCodeApi();
const rpc = connectToHost(api, (reason) => console.warn(`[precision-lens] ignored message: ${reason}`));
const root = document.getElementById('app') ?? document.body;
const app = new InspectorApp(rpc, api, root);
window.precisionLensInspector = app;
void app.start();
