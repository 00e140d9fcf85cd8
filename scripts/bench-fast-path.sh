#!/usr/bin/env bash
# Issue 22's figures, measured in one run on one machine (ratios only mean something within a run
# on a shared machine):
#   - DiT-S/2 forward at batch 32 in fp32 and bf16 (`diffuse bench model`), each against the GEMM
#     rate of its own type measured in the same run;
#   - the eager PyTorch peer (../shared/peers/dit_eager.py, Debian's python3-torch) of the same
#     architecture at the same 32 items per forward, fp32 and bf16 autocast, as a PyTorch user
#     runs it, and once more with glibc told to keep freed memory as diffuse's main does
#     (MALLOC_MMAP_MAX_=0, no trim), so the allocator's share of the gap is visible;
#   - training throughput (steps/s from log.jsonl) of the shipped image DiT recipe (batch 128) and
#     video DiT recipe (patch 2, batch 8) in fp32 and bf16.
# Usage: [THREADS=1] [BIN=build/apps/diffuse] scripts/bench-fast-path.sh [out-dir]
# Takes about 10 minutes with one thread on the 2-core development machine.
set -euo pipefail
bin=${BIN:-build/apps/diffuse}
out=${1:-out/fast-path}
threads=${THREADS:-1}
peer=${PEER:-../shared/peers/dit_eager.py}
mkdir -p "$out"
d() { "$bin" --threads "$threads" "$@"; }
run_peer() { /usr/bin/python3 "$peer" --threads "$threads" --batch 16 --steps 4 "$@"; }

d bench model --preset dit-s/2 --batch 32 --pass forward --precision fp32,bf16 --json > "$out/model.json"
run_peer --bf16 1 > "$out/peer-bf16.json"
run_peer > "$out/peer-fp32.json"
MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 run_peer --bf16 1 > "$out/peer-bf16-kept-memory.json"
for p in fp32 bf16; do
  d train image --vae models/fashion-mnist/vae.safetensors --data-n 4096 --steps 30 --batch 128 --log-every 10 \
    --checkpoint-every 0 --precision "$p" --out "$out/train-image-$p" --force > /dev/null 2>&1
  d train video --vae models/fashion-mnist/vae.safetensors --patch 2 --data-n 64 --steps 12 --batch 8 --log-every 4 \
    --checkpoint-every 0 --precision "$p" --out "$out/train-video-$p" --force > /dev/null 2>&1
done
python3 - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
m = json.load(open(f"{out}/model.json"))
rows = {r["precision"]: r for r in m["rows"]}
peer = {k: json.load(open(f"{out}/peer-{k}.json"))["achieved_gflops"] for k in ("bf16", "fp32", "bf16-kept-memory")}
def speed(name):
    lines = [json.loads(l) for l in open(f"{out}/{name}/log.jsonl")]
    return lines[-1]["it_per_s"]
train = {f"{m_}_{p}": speed(f"train-{m_}-{p}") for m_ in ("image", "video") for p in ("fp32", "bf16")}
j = {"threads": m["rows"][0]["threads"], "gemm_fp32_gflops": m["gemm_gflops"], "gemm_bf16_gflops": m["gemm_bf16_gflops"],
     "dit_fp32_gflops": rows["fp32"]["gflops"], "dit_bf16_gflops": rows["bf16"]["gflops"],
     "dit_fp32_of_gemm": rows["fp32"]["fraction_of_gemm"], "dit_bf16_of_gemm": rows["bf16"]["fraction_of_gemm"],
     "peer_bf16_gflops": peer["bf16"], "peer_fp32_gflops": peer["fp32"], "peer_bf16_kept_memory_gflops": peer["bf16-kept-memory"],
     "bf16_over_peer_bf16": rows["bf16"]["gflops"] / peer["bf16"], "bf16_over_peer_fp32": rows["bf16"]["gflops"] / peer["fp32"],
     "bf16_over_peer_bf16_kept_memory": rows["bf16"]["gflops"] / peer["bf16-kept-memory"],
     "train_steps_per_s": train,
     "train_bf16_speedup": {k: train[f"{k}_bf16"] / train[f"{k}_fp32"] for k in ("image", "video")}}
json.dump(j, open(f"{out}/summary.json", "w"), indent=2)
print(json.dumps(j, indent=2))
EOF
