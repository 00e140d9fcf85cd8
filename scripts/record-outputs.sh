#!/usr/bin/env bash
# Records what a user sees from the shipped models for fixed seeds: the files `diffuse sample`
# writes (as SHA-256 sums) and the figures `diffuse eval` prints (timings removed). Run it before
# and after a change that must not alter outputs, then compare the two manifests:
#   scripts/record-outputs.sh build /tmp/before && ... && scripts/record-outputs.sh build /tmp/after
#   diff /tmp/before/manifest.txt /tmp/after/manifest.txt
# Takes about 6 minutes on the 2-core development machine (two threads).
set -euo pipefail
build=${1:-build}
dir=${2:?usage: record-outputs.sh BUILD_DIR OUT_DIR}
bin="$build/apps/diffuse"
mkdir -p "$dir"
run() { echo "+ diffuse $*" >&2; "$bin" --threads 2 "$@"; }
# Timings and speeds differ between runs; every other field must match.
figures() { python3 -c '
import json, sys
def clean(v):
    if isinstance(v, dict):
        return {k: clean(x) for k, x in v.items() if not any(w in k for w in ("seconds", "per_second", "_s"))}
    if isinstance(v, list):
        return [clean(x) for x in v]
    return v
print(json.dumps(clean(json.load(sys.stdin)), sort_keys=True))'; }

run sample image --class 3 --n 4 --seed 5 --out "$dir/image.png" --force > /dev/null
run sample image --label rows --n 20 --columns 10 --seed 1 --grid --labelled --out "$dir/grid.png" --force > /dev/null
run sample audio --label 4 --n 2 --seed 5 --out "$dir/audio.wav" --force > /dev/null
run sample video --class 2 --seed 5 --out "$dir/video.mp4" --force > /dev/null
run sample molecule --n 20 --seed 5 --out "$dir/molecules.sdf" --force > /dev/null
run sample molecule --n 20 --seed 5 --repair --out "$dir/molecules.smi" --force > /dev/null
# Each plugin's own options reach its pipeline.
run sample audio --label 4 --n 1 --seed 6 --seconds 1 --decoder griffin-lim --format float --out "$dir/audio-gl.wav" --force > /dev/null
run sample video --class 2 --seed 6 --fps 4 --crf 20 --decoder per-frame --temporal-guidance 0 --out "$dir/video-fps4.mp4" --force > /dev/null
run sample molecule --n 6 --seed 7 --atoms 14 --scaffold c1ccccc1 --out "$dir/molecules-scaffold.sdf" --force > /dev/null
run sample molecule --n 20 --seed 8 --n-valid 5 --out "$dir/molecules-valid.smi" --force > /dev/null
run sample image --class Sneaker --n 2 --seed 9 --raw-weights --sampler euler --steps 8 --cfg 2 --cfg-rescale 0.5 --schedule exponential --batch 1 --out "$dir/image-opts.png" --force > /dev/null
run train toy --steps 200 --out "$dir/toy" --force > /dev/null
run sample toy --checkpoint "$dir/toy/checkpoint.safetensors" --n 500 --seed 5 --out "$dir/toy.csv" --force > /dev/null
# A few steps of each modality's training (the checkpoints record their run folder, so compare two
# runs written to the same DIR, or their tensors): the same data, encoding and first updates.
run train image --vae models/fashion-mnist/vae.safetensors --data-n 256 --steps 4 --batch 32 --out "$dir/train-image" --force > /dev/null
run train audio --data-n 64 --steps 4 --batch 16 --out "$dir/train-audio" --force > /dev/null
run train audio --resume "$dir/train-audio/checkpoint.safetensors" --steps 6 --out "$dir/train-audio-resumed" --force > /dev/null
run train molecule --data-n 64 --steps 3 --batch 16 --out "$dir/train-molecule" --force > /dev/null
run train video --data-n 8 --frames 8 --steps 2 --batch 4 --out "$dir/train-video" --force > /dev/null

{
  (cd "$dir" && sha256sum image*.png grid.png audio*.wav video*.mp4 molecules*.sdf molecules*.smi toy.csv toy/checkpoint.safetensors \
    train-image/checkpoint.safetensors train-audio/checkpoint.safetensors train-audio-resumed/checkpoint.safetensors train-video/checkpoint.safetensors train-molecule/checkpoint.safetensors)
  echo "eval toy: $(run eval toy "$dir/toy.csv" --json | figures)"
  echo "eval image: $(run eval image models/fashion-mnist/dit.safetensors --n-per-class 3 --steps 10 --json | figures)"
  echo "eval audio: $(run eval audio models/spoken-digits/dit.safetensors --n-per-class 2 --steps 10 --json | figures)"
  echo "eval video: $(run eval video models/moving-fashion-mnist/dit.safetensors --n-per-class 1 --steps 10 --json | figures)"
  echo "eval molecule: $(run eval molecule models/rdkit-data/graph-dit.safetensors --n-per-class 3 --steps 20 --json | figures)"
} > "$dir/manifest.txt"
echo "wrote $dir/manifest.txt"
