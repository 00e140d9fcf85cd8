#!/usr/bin/env bash
# The main job so far: what the machine gives (versions, BLAS, GEMM rate), the diffusion core
# checked against the diffusers / k-diffusion golden trajectories, and the sampler benchmark on
# the analytic mixture. The modality issues extend this to PNG, MP4, WAV and SDF outputs.
set -euo pipefail
build=${1:-build}
bin="$build/apps/diffuse"
out=out
mkdir -p "$out"

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
echo "== diffuse bench samplers --nfe 10,50 (analytic 2-D mixture)"
"$bin" bench samplers --nfe 10,50 --out "$out/bench-samplers.json" --force

echo
echo "wrote: $out/info.json $out/check-reference.json $out/bench-samplers.json"
