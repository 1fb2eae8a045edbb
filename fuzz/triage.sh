#!/usr/bin/env bash
# fuzz/triage.sh BUILD_DIR TARGET [FILE...] - replays findings one by one and prints a one-line
# signature per file (the broken invariant, the leaked exception, or the sanitizer's report),
# so a run's many crash-* files sort into the few distinct bugs behind them.
#
#   bash fuzz/triage.sh build-fuzz tokenizer_json_fuzz        # all of fuzz/corpus/artifacts/...
#   bash fuzz/triage.sh build-fuzz tokenizer_fuzz crash-1234  # chosen files
set -uo pipefail

if (($# < 2)); then
  echo "usage: $0 BUILD_DIR TARGET [FILE...]" >&2
  exit 2
fi
build=$1
target=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
replay=$build/fuzz/${target}_replay
files=("$@")
if ((${#files[@]} == 0)); then
  mapfile -t files < <(find "$here/corpus/artifacts/$target" -type f 2>/dev/null | sort)
fi

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
for file in "${files[@]}"; do
  output=$(timeout 60 "$replay" "$file" 2>&1)
  code=$?
  signature=$(grep -m1 -E 'invariant violated|unexpected exception|runtime error:|ERROR: [A-Za-z]+Sanitizer' \
    <<<"$output" | sed -E 's/==[0-9]+==//; s/0x[0-9a-f]+/0x.../g' | cut -c1-160)
  if [ "$code" -eq 0 ]; then
    signature="no longer reproduces"
  elif [ "$code" -eq 124 ]; then
    signature="still running after 60 s (hang)"
  fi
  printf '%-50s %6s bytes  %s\n' "$(basename "$file")" "$(stat -c %s "$file")" \
    "${signature:-exit $code}"
done
