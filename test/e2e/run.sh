#!/usr/bin/env bash
# End-to-end suite: the packaged extension in a real VS Code (code-server) driven by Debian's chromium.
# Works from a fresh clone with no stdin (CI=true): sets up the tools (cached in .tools/), builds, packages the
# .vsix, then runs the UI suite and the extension-host suite. Artifacts (screenshots, logs) go to test-results/.
# Usage: bash test/e2e/run.sh            (called by .ci/run; `npm run test:e2e` does the same)
set -euo pipefail
cd "$(dirname "$0")/../.."
t() { echo "[e2e $(date +%T)] $*"; }
start=$(date +%s)
bash test/e2e/setup.sh
mkdir -p test-results .tmp
VSIX="$PWD/.tmp/precision-lens-e2e.vsix"
t "package $VSIX"
node scripts/package.mjs --out "$VSIX" > test-results/package.log 2>&1 || { tail -30 test-results/package.log; exit 1; }
rc=0
t "UI suite (packaged .vsix in code-server, chromium)"
node --import tsx test/e2e/ui.ts "$VSIX" || rc=1
if [ -f test/e2e/extHost.ts ]; then
  t "extension-host suite (tests inside VS Code's extension host)"
  node --import tsx test/e2e/extHost.ts || rc=1
fi
t "done in $(( $(date +%s) - start )) s, exit $rc (screenshots: test-results/)"
exit $rc
