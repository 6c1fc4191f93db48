#!/usr/bin/env bash
# The CLI half of the demo: inspects, estimates, analyses and plans the bundled real GPT-2 decoder
# (tiny-random-gpt2-fp32.onnx, MIT — see test/fixtures/models/ATTRIBUTION.md). Writes only under .tmp/demo-cli/.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/cli.js ] || node esbuild.mjs
OUT=.tmp/demo-cli
mkdir -p "$OUT"
cp test/fixtures/models/tiny-random-gpt2-fp32.onnx "$OUT/"
M="$OUT/tiny-random-gpt2-fp32.onnx"
pl() { echo; echo "\$ precision-lens $*"; node dist/cli.js "$@"; }
pl inspect "$M"
pl estimate "$M" --target h100,h20,ascend-910c,m4-pro --context 2048 --kv-format fp8
pl sensitivity "$M" --formats fp16,fp8,int8,int4
pl plan "$M" --target cpu --avg-bits 6 -o "$OUT/tiny-random-gpt2-fp32.onnx.precision.json"
pl export "$OUT/tiny-random-gpt2-fp32.onnx.precision.json" --to ort --model "$M" -o "$OUT/ort-quant"
pl apply "$M" "$OUT/tiny-random-gpt2-fp32.onnx.precision.json" -o "$OUT/tiny-random-gpt2.mixed.onnx"
echo
echo "Outputs are in $OUT/."
