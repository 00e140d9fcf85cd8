# Shared by the scripts/*-table.sh scripts (sourced, not run): the diffuse command (DIFFUSE, which
# may carry options, e.g. DIFFUSE="build/apps/diffuse --threads 1") and an evaluation cached as
# JSON so that a re-run only formats the rows.
read -r -a diffuse <<< "${DIFFUSE:-build/apps/diffuse}"

# cached_json FILE COMMAND...: runs COMMAND (which prints JSON) into FILE unless FILE already has
# a result; a failed or interrupted run leaves no FILE behind.
cached_json() {
  local f=$1
  shift
  if [[ ! -s $f ]]; then
    mkdir -p "$(dirname "$f")"
    "$@" > "$f.tmp"
    mv "$f.tmp" "$f"
  fi
}
