// Fake VS Code webview host for the static harness (loaded with the page's nonce before dist/webview.js).
// acquireVsCodeApi() posts to the Node side through the playwright binding `__toHost`; Node answers with
// window.postMessage-like MessageEvents. Also records CSP violations and applies the theme class.
(function () {
  'use strict';
  var params = new URLSearchParams(location.search);
  var theme = params.get('theme') || 'dark';
  document.body.classList.add(theme === 'light' ? 'vscode-light' : theme === 'hc' ? 'vscode-high-contrast' : 'vscode-dark');
  document.body.setAttribute('data-vscode-theme-kind', theme === 'light' ? 'vscode-light' : 'vscode-dark');
  window.precisionLensDebug = true;
  window.__violations = [];
  document.addEventListener('securitypolicyviolation', function (e) {
    window.__violations.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sample || ''));
  });
  var state;
  var acquired = false;
  window.acquireVsCodeApi = function () {
    if (acquired) throw new Error('acquireVsCodeApi can only be invoked once');
    acquired = true;
    return {
      postMessage: function (m) {
        // Like VS Code: structured-clone semantics (a Map or class would not survive).
        window.__toHost(JSON.parse(JSON.stringify(m)));
      },
      getState: function () { return state; },
      setState: function (s) { state = s; },
    };
  };
  window.__fromHost = function (m) {
    window.dispatchEvent(new MessageEvent('message', { data: m }));
  };
})();
