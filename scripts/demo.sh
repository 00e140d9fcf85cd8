#!/usr/bin/env bash
# The main job so far: what the machine gives (versions, BLAS, GEMM rate), the diffusion core
# checked against the diffusers / k-diffusion golden trajectories, the sampler benchmark on the
# analytic mixture, then one artefact per modality from the shipped models: a labelled grid of
# generated Fashion-MNIST images (one row per class), a Moving Fashion-MNIST MP4 and the spoken
# digits as WAVs, 100 valid molecules as SDF with 3-D coordinates, and an HTML report that embeds
# them all.
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
# Each modality's artefact from its shipped model. A missing or broken model says which file and
# where its training command is recorded, and the other modalities still run.
retrain() { echo "  -> $1 is missing or unusable; retrain it with the command in its folder's model card (README.md)"; }
gen_start=$(date +%s%N)

echo
echo "== diffuse sample image: 10 samples per class, one labelled row per class -> $out/fashion.png"
if "$bin" sample image --label rows --n 100 --columns 10 --steps 20 --cfg 3 --seed 1 --grid --labelled --scale 2 \
    --out "$out/fashion.png" --force; then
  wrote="$wrote $out/fashion.png"
else
  retrain models/fashion-mnist/dit.safetensors
fi

echo
echo "== diffuse sample video: a Moving Fashion-MNIST clip of a sneaker (the image model draws frame 0) -> $out/clip.mp4"
if "$bin" sample video --class Sneaker --frames 16 --fps 8 --steps 20 --seed 1 --out "$out/clip.mp4" --force; then
  wrote="$wrote $out/clip.mp4"
else
  retrain models/moving-fashion-mnist/dit.safetensors
fi

echo
echo "== diffuse sample audio: the spoken digits zero..nine -> $out/digits/"
mkdir -p "$out/digits"
digits_ok=1
for word in zero one two three four five six seven eight nine; do
  if ! "$bin" sample audio --label "$word" --n 1 --steps 20 --cfg 4 --seed 1 --normalize --out "$out/digits/$word.wav" --force; then
    digits_ok=0
    retrain models/spoken-digits/dit.safetensors
    break
  fi
done
((digits_ok)) && wrote="$wrote $out/digits/"

echo
echo "== diffuse sample molecule: 100 valid molecules with 3-D coordinates -> $out/molecules.sdf"
echo "   (with --repair: about three quarters of the shipped model's raw samples are one valid molecule; see README, Molecules)"
if "$bin" sample molecule --n-valid 100 --steps 50 --repair --seed 1 --out "$out/molecules.sdf" --force; then
  wrote="$wrote $out/molecules.sdf"
else
  retrain models/rdkit-data/graph-dit.safetensors
fi

gen_ms=$((($(date +%s%N) - gen_start) / 1000000))

echo
echo "== diffuse report: everything above in one self-contained page -> $out/report.html"
"$bin" report "$out" --out "$out/report.html" --force && wrote="$wrote $out/report.html"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
echo
echo "wrote: $wrote"
echo "generation (sampling the shipped models) took $((gen_ms / 1000)).$(printf '%03d' $((gen_ms % 1000))) s; the whole job $((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000))) s"
