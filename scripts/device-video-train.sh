#!/usr/bin/env bash
# On a GPU machine with Python's CUDA torch but none of Debian's packages: builds diffuse headless
# (-DDIFFUSE_HEADLESS=ON: the core, image and video modalities and the CLI, without OpenImageIO or
# FFmpeg) against that torch's libtorch, then trains issue 24's first-frame video model from
# scratch on all 60,000 Moving Fashion-MNIST clips with `diffuse train video --device cuda`, wider
# and deeper than the one trained on this machine's CPU, for as many steps as fit a wall-clock
# budget. A short probe run measures the step rate first; it also makes the clips and encodes them
# (on the GPU) into the latents cache that the real run then reads.
# Needs .gpu/video-deps.tar.xz from `scripts/device-bundle.sh video` (the run carries it) and the
# tracked models/fashion-mnist/vae.safetensors. Results go to $OUT (default /tmp/out): the exported
# model (EMA weights in bf16, CFG 5, its VAE named as models/moving-fashion-mnist's is), the
# training log and summary.txt.
# Usage: BUDGET=SECONDS [WIDTH=192] [DEPTH=8] [BATCH=64] [LR=5e-4] scripts/device-video-train.sh
# A check of the script itself on a CPU, with a build made here:
#   DIFFUSE=build-headless/apps/diffuse DEVICE=cpu DATA_N=64 PROBE_STEPS=4 BUDGET=60 WIDTH=48 DEPTH=2 BATCH=4 scripts/device-video-train.sh
set -euo pipefail
source "$(dirname "$0")/device-lib.sh"
t0=$(date +%s)
budget=${BUDGET:-480}
width=${WIDTH:-192}
depth=${DEPTH:-8}
batch=${BATCH:-64}
lr=${LR:-5e-4}
device=${DEVICE:-cuda}
data_n=${DATA_N:-60000}
probe_steps=${PROBE_STEPS:-300}
out=${OUT:-/tmp/out}
work=${WORK:-/tmp/video-gpu}
mkdir -p "$out"
rm -rf "$work" && mkdir -p "$work"
if [ -z "${DIFFUSE:-}" ]; then
  d=/tmp/gpu-deps
  mkdir -p "$d"
  tar xJf .gpu/video-deps.tar.xz -C "$d"
  mkdir -p /usr/share/datasets && cp -r "$d/root/usr/share/datasets/fashion-mnist" /usr/share/datasets/
  # zlib: the system's where it has one, else the carried copy.
  zlib=$(ldconfig -p | awk '/libz\.so\.1 .*x86-64/ {print $NF; exit}')
  [ -n "$zlib" ] || zlib=$(ls "$d"/lib/libz.so.1*)
  device_build "$out" "$d" -DZLIB_INCLUDE_DIR="$d/root/usr/include" -DZLIB_LIBRARY="$zlib" -DDIFFUSE_HEADLESS=ON -DDIFFUSE_WITH_RDKIT=OFF
else
  diffuse=$DIFFUSE
fi
$diffuse info | tee -a "$out/summary.txt" || true
threads=$(( $(nproc) < 8 ? $(nproc) : 8 ))
# Issue 24's recipe as shipped (first frame concatenated and as tokens, anchor frame, 4 / 8 / 16 fps),
# from scratch at the given size.
recipe=(--threads "$threads" train video --device "$device" --vae models/fashion-mnist/vae.safetensors --data-n "$data_n"
        --condition first-frame --first-frame-tokens on --anchor-frame on --fps-choices 4 8 16
        --width "$width" --depth "$depth" --precision bf16 --batch "$batch" --lr "$lr" --warmup 200)
# Probe: makes and encodes the clips (cached in its folder), then the step rate of this recipe here.
tp=$(date +%s)
$diffuse "${recipe[@]}" --steps "$probe_steps" --out "$work/probe" > "$work/probe.log" 2>&1 || { tail -20 "$work/probe.log"; exit 1; }
device_steps "$work/probe" "$t0" "$budget" 100
echo "probe: $(( $(date +%s) - tp )) s (clips made and encoded, $probe_steps steps at $rate it/s)" | tee -a "$out/summary.txt"
grep -m3 -e 'latents of' -e 'clips' "$work/probe.log" | tee -a "$out/summary.txt" || true
mkdir -p "$work/run" && ln -s "$work/probe/latents.safetensors" "$work/run/latents.safetensors"
run=("${recipe[@]}" --steps "$steps" --checkpoint-every 1000 --out "$work/run")
echo "$left s left -> $steps steps" | tee -a "$out/summary.txt"
echo "command: diffuse ${run[*]}" | tee -a "$out/summary.txt"
ts=$(date +%s)
$diffuse "${run[@]}" > "$work/run.log" 2>&1 || { tail -20 "$work/run.log"; }
echo "train: $(( $(date +%s) - ts )) s wall" | tee -a "$out/summary.txt"
tail -3 "$work/run.log" | tee -a "$out/summary.txt"
cp "$work/run/log.jsonl" "$out/log.jsonl"
# Exported into a models folder beside the image model's, so that its VAE path is written as the
# shipped video model's is (../fashion-mnist/vae.safetensors).
mkdir -p "$work/models/video-gpu" && ln -s "$(pwd)/models/fashion-mnist" "$work/models/fashion-mnist"
$diffuse model export "$work/run/checkpoint.safetensors" "$work/models/video-gpu/dit.safetensors" --vae ../fashion-mnist/vae.safetensors \
  --cfg 5 --dtype bf16 | tee -a "$out/summary.txt"
cp "$work/models/video-gpu/dit.safetensors" "$out/dit-gpu.safetensors"
ls -l "$out"
