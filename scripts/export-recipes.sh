#!/usr/bin/env bash
# Writes models/<name>/recipes.json: the recipe JSON that each shipped safetensors file carries in
# its metadata, keyed by file name, so a reader sees how every shipped model was built without
# opening the weights. Run after shipping or re-exporting a model; a test checks the two agree.
set -euo pipefail
root=${1:-models}
for dir in "$root"/*/; do
  python3 - "$dir" <<'PY'
import glob, json, os, struct, sys
d = sys.argv[1]
out = {}
for path in sorted(glob.glob(os.path.join(d, "*.safetensors"))):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        meta = json.loads(f.read(n)).get("__metadata__", {})
    out[os.path.basename(path)] = json.loads(meta["recipe"])
with open(os.path.join(d, "recipes.json"), "w") as f:
    json.dump(out, f, indent=2, sort_keys=True)
    f.write("\n")
print("wrote", os.path.join(d, "recipes.json"), "(" + ", ".join(out) + ")")
PY
done
