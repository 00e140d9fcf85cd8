#!/usr/bin/env bash
# The main job so far: what the machine gives (versions, BLAS, GEMM rate), the diffusion core
# checked against the diffusers / k-diffusion golden trajectories, the sampler benchmark on the
# analytic mixture, and, when the shipped Fashion-MNIST model is present, a labelled grid of
# generated images (one row per class). The other modality issues add MP4, WAV and SDF.
set -euo pipefail
build=${1:-build}
bin="$build/apps/diffuse"
out=out
mkdir -p "$out"
start=$(date +%s%N)

echo "== diffuse info"
"$bin" info
"$bin" info --json > "$out/info.json"

reference=../shared/reference
if compgen -G "$reference/traj_*.json" > /dev/null; then
  echo
  echo "== diffuse check-reference (golden trajectories from diffusers and k-diffusion)"
  "$bin" check-reference "$reference"/traj_*.json "$reference"/cfg_*.json | tail -n 1
  "$bin" check-reference --json "$reference"/traj_*.json "$reference"/cfg_*.json > "$out/check-reference.json"
fi

echo
echo "== diffuse bench samplers --nfe 10,50 --points 2000 (analytic 2-D mixture)"
"$bin" bench samplers --nfe 10,50 --points 2000 --out "$out/bench-samplers.json" --force

wrote="$out/info.json $out/bench-samplers.json"
[[ -f $out/check-reference.json ]] && wrote="$wrote $out/check-reference.json"
if [[ -f models/fashion-mnist/dit.safetensors ]]; then
  echo
  echo "== diffuse sample image: 10 samples per class, one row per class"
  if "$bin" sample image --label rows --n 100 --columns 10 --steps 20 --cfg 3 --seed 1 --grid --out "$out/fashion.png" --force; then
    wrote="$wrote $out/fashion.png"
  else
    echo "the shipped image model could not be used; retrain it with the commands in models/README.md"
  fi
else
  echo "models/fashion-mnist/dit.safetensors is missing; train it with the commands in models/README.md"
fi
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
echo
echo "wrote: $wrote"
echo "generation took $((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000))) s"
