#!/usr/bin/env bash
# The README's molecule tables: `diffuse eval molecule` of a graph-DiT checkpoint for sampler x
# steps x CFG, $N (default 1000) molecules each against the checkpoint's test split (GuacaMol's
# KL score included), as Markdown
# rows (JSON kept in $out); then the mean logP of valid samples per requested logP bin.
# A fourth field "repair" in a config decodes with --repair (valence repair and fragment joining).
# Usage: [N=1000] [CONFIGS="sampler:steps:cfg[:repair] ..."] scripts/molecule-table.sh [checkpoint] [out-dir]
set -euo pipefail
source "$(dirname "$0")/table-lib.sh"
ck=${1:-models/rdkit-data/graph-dit.safetensors}
out=${2:-out/molecule-table}
configs=${CONFIGS:-"dpmpp_2m:20:1 dpmpp_2m:50:1 euler_a:50:1 heun:20:1 unipc:20:1 dpmpp_2m:20:3 dpmpp_2m:20:1:repair euler_a:50:1:repair"}
n=${N:-1000}
echo "| sampler | steps | CFG | decoding | validity | allowing fragments | uniqueness | novelty | int. diversity | NN sim. | scaffold sim. | fragment sim. | W1 MW | W1 logP | W1 QED | W1 heavy atoms | GuacaMol KL | mean QED | molecules/s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for c in $configs; do
  IFS=: read -r sampler steps cfg repair <<< "$c"
  f="$out/$sampler-$steps-$cfg${repair:+-$repair}.json"
  cached_json "$f" "${diffuse[@]}" eval molecule "$ck" --sampler "$sampler" --steps "$steps" --cfg "$cfg" ${repair:+--repair} --n-per-class $((n / 10)) --json
  jq -r --arg s "$sampler" --arg n "$steps" --arg c "$cfg" --arg d "${repair:-raw}" '.samples | def p: .*1000|round/10; def r3: .*1000|round/1000; def r2: .*100|round/100;
    "| \($s) | \($n) | \($c) | \($d) | \(.validity|p)% | \(.validity_allowing_fragments|p)% | \(.uniqueness|p)% | \(.novelty|p)% | \(.internal_diversity|r3) | \(.nn_similarity|r3) | \(.scaffold_similarity|r3) | \(.fragment_similarity|r3) | \(.w1.mw|r2) | \(.w1.logp|r3) | \(.w1.qed|r3) | \(.w1.heavy_atoms|r2) | \(.guacamol_kl_score|r3) | \(.mean_qed|r3) | \(.molecules_per_second*10|round/10) |"' "$f"
done
echo
echo "Mean logP of valid samples per requested bin:"
echo
echo "| sampler | steps | CFG | decoding | logP<0 | logP 0-1 | logP 1-2 | logP 2-3 | logP 3-4 | logP>4 |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for c in $configs; do
  IFS=: read -r sampler steps cfg repair <<< "$c"
  jq -r --arg s "$sampler" --arg n "$steps" --arg c "$cfg" --arg d "${repair:-raw}" '.samples.logp_by_requested_bin as $b |
    "| \($s) | \($n) | \($c) | \($d) | " + ([ "logP<0", "logP 0-1", "logP 1-2", "logP 2-3", "logP 3-4", "logP>4" ] |
    map(if $b[.] then "\($b[.].mean_logp*100|round/100) (\($b[.].valid))" else "-" end) | join(" | ")) + " |"' "$out/$sampler-$steps-$cfg${repair:+-$repair}.json"
done
