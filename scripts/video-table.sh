#!/usr/bin/env bash
# The README's video quality table: `diffuse eval video` of a space-time DiT checkpoint for
# sampler x steps x CFG (x temporal guidance x anchor frame x decoder), $NPC (default 5) clips per class, as Markdown rows (JSON kept
# in $out), then the calibration rows (real, frame-shuffled and static clips, and real clips
# through the model's VAE and decoder).
# Usage: [NPC=5] [CONFIGS="sampler:steps:cfg[:temporal-guidance[:anchor-frame on|off[:decoder auto|per-frame|FILE]]] ..."]
#        [EXTRA="more eval options for every row, e.g. --fps 4 or --first-frame held-out"]
#        scripts/video-table.sh [checkpoint] [out-dir]
set -euo pipefail
source "$(dirname "$0")/table-lib.sh"
ck=${1:-models/moving-fashion-mnist/dit.safetensors}
out=${2:-out/video-table}
configs=${CONFIGS:-"dpmpp_2m:20:3 dpmpp_2m:20:1 dpmpp_2m:20:5 euler:20:3"}
npc=${NPC:-5}
row='"| \(.fd*10|round/10) | \(if .identity_to_first == null then "-" else (.identity_to_first*1000|round/1000) end) | \(if .identity_last_frame == null then "-" else (.identity_last_frame*1000|round/1000) end) | \(.frame_accuracy*1000|round/10)% | \(.class_consistency*1000|round/10)% | \(if .feature_consistency == null then "-" else (.feature_consistency*1000|round/1000) end) | \(.smoothness_px*100|round/100) | \(.speed_px*100|round/100) | \(.background_flicker*1000000|round/1000000)\(if .background_flicker_8bit == null then "" else " (8-bit \(.background_flicker_8bit*1000000|round/1000000))" end)'
read -r -a extra_all <<< "${EXTRA:-}"
tag=$(echo "${EXTRA:-}" | tr -c 'A-Za-z0-9.\n' '_')
echo "| clips | per-frame FD | identity to frame 0 | identity of the last frame | frame accuracy | class consistency | feature consistency | smoothness (px) | speed (px/frame) | background flicker (as 8-bit files hold it) | seconds per clip |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for c in $configs; do
  IFS=: read -r sampler steps cfg tg anchor decoder <<< "$c"
  tg=${tg:-0}
  extra=("${extra_all[@]}")
  [ -z "$anchor" ] || extra+=(--anchor-frame "$anchor")
  [ -z "$decoder" ] || extra+=(--decoder "$decoder")
  f="$out/$sampler-$steps-$cfg$([ "$tg" = 0 ] || echo "-tg$tg")$([ -z "$anchor" ] || echo "-anchor-$anchor")$([ -z "$decoder" ] || echo "-decoder-$(basename "$decoder")")$([ -z "$tag" ] || echo "-$tag").json"
  cached_json "$f" "${diffuse[@]}" eval video "$ck" --sampler "$sampler" --steps "$steps" --cfg "$cfg" --temporal-guidance "$tg" "${extra[@]}" --n-per-class "$npc" --json
  name="$sampler $steps steps, CFG $cfg${EXTRA:+, $EXTRA}$([ "$tg" = 0 ] || echo ", temporal guidance $tg")$([ -z "$anchor" ] || echo ", anchor frame $anchor")$([ -z "$decoder" ] || echo ", decoder $decoder")"
  jq -r --arg name "$name" ".samples | \"| \(\$name) \" + $row | \(.seconds_per_clip*100|round/100) |\"" "$f"
done
fps_opt=(); [[ "${EXTRA:-}" =~ --fps\ ([0-9.]+) ]] && fps_opt=(--fps "${BASH_REMATCH[1]}")
cached_json "$out/calibrate${fps_opt[1]:+-fps${fps_opt[1]}}.json" "${diffuse[@]}" eval video --calibrate "${fps_opt[@]}" --n-per-class "$npc" --json  # the same real reference as the rows above
for k in "real:real Moving Fashion-MNIST (floor)" "frame_shuffled:real clips, frames shuffled" "static:real clips, first frame held (static)" \
         "items_swapped:real clips, each frame from another clip of the class"; do
  jq -r --arg k "${k%%:*}" --arg name "${k#*:}" "select(.[\$k]) | .[\$k] | \"| \(\$name) \" + $row | - |\"" "$out/calibrate${fps_opt[1]:+-fps${fps_opt[1]}}.json"
done
# The ceiling of any model on these latents: the same real clips through the model's VAE and decoder
# (a calibration with a checkpoint; its one-step samples are not shown).
rt="$out/round-trip-$(basename "$ck" .safetensors)${fps_opt[1]:+-fps${fps_opt[1]}}.json"
cached_json "$rt" "${diffuse[@]}" eval video "$ck" --calibrate "${fps_opt[@]}" --n-per-class 1 --steps 1 --json
jq -r "select(.round_trip) | .round_trip | \"| real clips through the model's VAE and decoder (its ceiling) \" + $row | - |\"" "$rt"
