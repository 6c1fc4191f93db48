/**
 * The inspector page: a strict Content Security Policy with a per-load nonce. Pure (no `vscode`): the editor
 * passes `webview.cspSource` and `asWebviewUri` results; the static harness passes its own, so both load the
 * very same page.
 *
 * Policy: nothing by default; scripts only with the nonce (one bundle, no eval: chart.js and Lit need none);
 * styles only from the extension (`cspSource`) or with the nonce (no 'unsafe-inline'; Lit components use
 * constructable stylesheets, chart.js sets sizes through the CSSOM, neither is blocked); images and fonts from
 * the extension and `data:` (chart.js never loads any). No connect/frame/object sources.
 */

/** Inputs of {@link inspectorHtml}. */
export interface InspectorHtmlOptions {
  /** `webview.cspSource`. */
  readonly cspSource: string;
  /** Base64 nonce, fresh per page load. */
  readonly nonce: string;
  /** URI of dist/webview.js as the webview sees it. */
  readonly scriptUri: string;
  /** URIs of the stylesheets (media/*.css). */
  readonly styleUris: readonly string[];
  /** `<html lang>`, e.g. `vscode.env.language`. */
  readonly lang?: string;
  /** Accessible title of the page. */
  readonly title: string;
  /** Extra scripts loaded before the bundle with the same nonce (the static harness's fake host). */
  readonly preloadScriptUris?: readonly string[];
}

/** Escapes text for an HTML attribute value or text node. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The Content-Security-Policy value. */
export function inspectorCsp(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource} data:`,
  ].join('; ');
}

/** 128-bit random nonce, base64 (`crypto.getRandomValues` exists in Node ≥ 19 and browsers). */
export function makeNonce(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** The full HTML document of the inspector webview. */
export function inspectorHtml(o: InspectorHtmlOptions): string {
  if (!/^[A-Za-z0-9+/=]{16,}$/.test(o.nonce)) throw new Error('The CSP nonce must be base64 of at least 16 characters.');
  const a = escapeHtml;
  return `<!DOCTYPE html>
<html lang="${a(o.lang ?? 'en')}">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${a(inspectorCsp(o.cspSource, o.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
${o.styleUris.map((u) => `<link rel="stylesheet" href="${a(u)}">`).join('\n')}
<title>${a(o.title)}</title>
</head>
<body>
<div id="app" data-testid="inspector"></div>
${(o.preloadScriptUris ?? []).map((u) => `<script nonce="${a(o.nonce)}" src="${a(u)}"></script>`).join('\n')}
<script nonce="${a(o.nonce)}" src="${a(o.scriptUri)}"></script>
</body>
</html>`;
}
