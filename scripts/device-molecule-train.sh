#!/usr/bin/env bash
# On a GPU machine with Python's CUDA torch but none of Debian's packages: builds diffuse's core,
# molecule modality and CLI against that torch's libtorch, then trains the molecule model with
# `diffuse train molecule --device cuda` for as many steps as fit a wall-clock budget (a short
# probe run measures the step rate first, so the cosine schedule ends inside the budget).
# Needs .gpu/deps.tar.xz from scripts/device-bundle.sh (the run carries .gpu). Results go to $OUT (default /tmp/out):
# the exported model, the checkpoint split into 15 MB parts (cat them back together), the
# training log and summary.txt.
# Usage: BUDGET=SECONDS [BATCH=256] [LR=1e-3] scripts/device-molecule-train.sh
set -euo pipefail
source "$(dirname "$0")/device-lib.sh"
t0=$(date +%s)
budget=${BUDGET:-480}
batch=${BATCH:-256}
lr=${LR:-1e-3}
out=${OUT:-/tmp/out}
d=/tmp/gpu-deps
mkdir -p "$d" "$out"
tar xJf .gpu/deps.tar.xz -C "$d"
cp -r "$d/root/usr/share/RDKit" /usr/share/
ldconfig -p > /tmp/ldconfig.txt
for f in "$d"/lib/*; do  # a library the system already has stays the system's
  n=$(basename "$f")
  case $n in libRDKit*) continue ;; esac
  if grep -q "[[:space:]]$n " /tmp/ldconfig.txt; then rm "$f"; fi
done
# The linker writes RUNPATH, which RDKit's libraries do not inherit for their own dependencies.
export LD_LIBRARY_PATH=$d/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
device_build "$out" "$d" -DCMAKE_LIBRARY_PATH="$d/lib" -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$d/lib -Wl,-rpath,$d/lib" \
  -DDIFFUSE_WITH_FFMPEG=OFF -DDIFFUSE_WITH_OIIO=OFF
$diffuse info | tee -a "$out/summary.txt" || true
# Probe: the step rate of this recipe on this GPU (data loading and warm-up included, so an underestimate).
recipe=(--threads 8 train molecule --device cuda --batch "$batch" --lr "$lr")
$diffuse "${recipe[@]}" --steps 300 --out /tmp/probe > /tmp/probe.log 2>&1 || { tail -20 /tmp/probe.log; exit 1; }
device_steps /tmp/probe "$t0" "$budget" 500
run=("${recipe[@]}" --steps "$steps" --checkpoint-every 1000 --out /tmp/mol-gpu)
echo "probe: $rate it/s; $left s left -> $steps steps" | tee -a "$out/summary.txt"
echo "command: diffuse ${run[*]}" | tee -a "$out/summary.txt"
ts=$(date +%s)
$diffuse "${run[@]}" > /tmp/mol-gpu.log 2>&1 || { tail -20 /tmp/mol-gpu.log; }
echo "train: $(( $(date +%s) - ts )) s wall" | tee -a "$out/summary.txt"
tail -3 /tmp/mol-gpu.log | tee -a "$out/summary.txt"
cp /tmp/mol-gpu/log.jsonl "$out/log.jsonl"
$diffuse model export /tmp/mol-gpu/checkpoint.safetensors "$out/graph-dit-gpu.safetensors" | tee -a "$out/summary.txt"
split -b 15M /tmp/mol-gpu/checkpoint.safetensors "$out/checkpoint.part-"
ls -l "$out"
