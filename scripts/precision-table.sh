#!/usr/bin/env bash
# Issue 22's quality check: each shipped model evaluated by its own judge with the same seeds in
# fp32 and in bf16, and once more in fp32 with seeds 100000 on (other samples: the run-to-run noise that the bf16
# difference is compared with). Markdown rows per modality; the JSON stays in $out.
# Usage: [DIFFUSE="build/apps/diffuse --threads 1"] [MODALITIES="image audio video molecule"]
#        scripts/precision-table.sh [out-dir]
# Sizes: image and audio 1,000 samples (100 per class), video 50 clips (5 per class), molecules
# 500 draws; each evaluation samples with the eval defaults (dpmpp_2m, 20 steps; the molecule
# model's own discrete sampler, 100 steps) at CFG 3, given explicitly (a model's own scale and
# the molecules' default of 1 would otherwise apply).
set -euo pipefail
source "$(dirname "$0")/table-lib.sh"
out=${1:-out/precision-table}
modalities=${MODALITIES:-"image audio video molecule"}
declare -A model=([image]=models/fashion-mnist/dit.safetensors [audio]=models/spoken-digits/dit.safetensors
                  [video]=models/moving-fashion-mnist/dit.safetensors [molecule]=models/rdkit-data/graph-dit.safetensors)
declare -A per_class=([image]=100 [audio]=100 [video]=5 [molecule]=50)
# The figures each judge is read by (jq paths under .samples).
declare -A figures=([image]="accuracy fd precision recall" [audio]="accuracy fd inception_score"
                    [video]="class_consistency feature_consistency frame_accuracy smoothness_px"
                    [molecule]="validity uniqueness novelty w1.heavy_atoms")
for m in $modalities; do
  echo "#### $m (${model[$m]})"
  echo
  echo "| run | ${figures[$m]// / | } |"
  echo "|---|$(for _ in ${figures[$m]}; do printf -- '---|'; done)"
  for run in fp32:0 bf16:0 fp32:100000; do
    IFS=: read -r precision seed <<< "$run"
    f="$out/$m-$precision-seed$seed.json"
    cached_json "$f" "${diffuse[@]}" eval "$m" "${model[$m]}" --n-per-class "${per_class[$m]}" --seed "$seed" --cfg 3 --precision "$precision" --json
    row="| $precision, seed $seed |"
    for k in ${figures[$m]}; do row+=" $(jq -r ".samples.$k * 10000 | round / 10000" "$f") |"; done
    echo "$row"
  done
  echo
done
