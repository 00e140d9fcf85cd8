#!/usr/bin/env bash
# The spoken-digit model card's table: `diffuse eval audio` of a DiT checkpoint for
# sampler:steps:CFG:decoder, $NPC (default 100) clips per digit under the judge, as Markdown rows
# (JSON kept in $out). The decoder is "auto" (the vocoder beside the checkpoint), griffin-lim or
# a vocoder file. Usage: [NPC=100] [CONFIGS="dpmpp_2m:20:3:auto ..."] scripts/audio-table.sh [checkpoint] [out-dir]
set -euo pipefail
source "$(dirname "$0")/table-lib.sh"
ck=${1:-models/spoken-digits/dit.safetensors}
out=${2:-out/audio-table}
configs=${CONFIGS:-"dpmpp_2m:20:3:auto dpmpp_2m:20:1:auto dpmpp_2m:20:2:auto dpmpp_2m:20:4:auto dpmpp_2m:10:3:auto dpmpp_2m:40:3:auto euler:20:3:auto dpmpp_2m:20:3:griffin-lim"}
npc=${NPC:-100}
echo "| sampler | steps | CFG | decoder | accuracy | IS (ratio) | FD | precision | recall | clipped samples | s per audio s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for c in $configs; do
  IFS=: read -r sampler steps cfg decoder <<< "$c"
  f="$out/$sampler-$steps-$cfg-$(basename "$decoder" .safetensors).json"
  cached_json "$f" "${diffuse[@]}" eval audio "$ck" --sampler "$sampler" --steps "$steps" --cfg "$cfg" --decoder "$decoder" --n-per-class "$npc" --json
  jq -r --arg s "$sampler" --arg n "$steps" --arg c "$cfg" --arg d "$decoder" \
    '.samples | "| \($s) | \($n) | \($c) | \($d) | \(.accuracy*1000|round/10)% | \(.inception_score*100|round/100) (\(.inception_score_ratio*100|round/100)) | \(.fd*10|round/10) | \(.precision*100|round/100) | \(.recall*100|round/100) | \(.clipped_fraction*10000|round/100)% | \(.seconds_per_audio_second*1000|round/1000) |"' "$f"
done
