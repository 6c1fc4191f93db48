#!/usr/bin/env bash
# Set-up for the end-to-end suite: Debian chromium (driven by playwright-core), Node 24 and code-server
# (VS Code 1.139.1), all through scripts/setup-tools.sh (cached under .tools/ or $TOOLS_DIR; a second run takes ~1 s).
# Usage: bash test/e2e/setup.sh     Env: TOOLS_DIR, NODE24_VERSION, CODE_SERVER_VERSION.
set -euo pipefail
exec bash "$(cd "$(dirname "$0")/../.." && pwd)/scripts/setup-tools.sh" chromium code-server
