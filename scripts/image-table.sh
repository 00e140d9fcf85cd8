#!/usr/bin/env bash
# The README's image quality table: `diffuse eval image` of a DiT checkpoint for sampler x steps x
# CFG, $NPC (default 100) samples per class against the 10k test images, as Markdown rows (JSON
# kept in $out). Usage: [NPC=50] [CONFIGS="sampler:steps:cfg ..."] scripts/image-table.sh [checkpoint] [out-dir]
set -euo pipefail
source "$(dirname "$0")/table-lib.sh"
ck=${1:-models/fashion-mnist/dit.safetensors}
out=${2:-out/image-table}
configs=${CONFIGS:-"dpmpp_2m:20:3 dpmpp_2m:10:3 dpmpp_2m:20:1 dpmpp_2m:20:5 euler:20:3 heun:10:3 euler_a:20:3 unipc:10:3"}
npc=${NPC:-100}
echo "| sampler | steps | CFG | class accuracy | FD | precision | recall | seconds ($((npc * 10)) images) |"
echo "|---|---|---|---|---|---|---|---|"
for c in $configs; do
  IFS=: read -r sampler steps cfg <<< "$c"
  f="$out/$sampler-$steps-$cfg.json"
  cached_json "$f" "${diffuse[@]}" eval image "$ck" --sampler "$sampler" --steps "$steps" --cfg "$cfg" --n-per-class "$npc" --json
  jq -r --arg s "$sampler" --arg n "$steps" --arg c "$cfg" \
    '.samples | "| \($s) | \($n) | \($c) | \(.accuracy*1000|round/10)% | \(.fd*10|round/10) | \(.precision*1000|round/1000) | \(.recall*1000|round/1000) | \(.seconds|round) |"' "$f"
done
