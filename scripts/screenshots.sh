#!/usr/bin/env bash
# Refreshes the Marketplace README's screenshots (media/screenshots/) from the end-to-end UI suite's artifacts:
# run `npm run test:e2e` first (it saves test-results/ui-*.png), then `bash scripts/screenshots.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p media/screenshots
cp test-results/ui-2-inspector.png media/screenshots/inspector.png
cp test-results/ui-4-plan-diagnostics.png media/screenshots/plan-lenses.png
cp test-results/ui-1-source-lens.png media/screenshots/source-lens.png
ls -l media/screenshots
