#!/usr/bin/env bash
# fuzz/run.sh BUILD_DIR SECONDS - runs each libFuzzer target in BUILD_DIR/fuzz for SECONDS,
# one after the other on one core, and exits non-zero if any of them crashed, hung, ran out of
# memory or tripped a sanitizer.
#
#   make fuzz FUZZ_SECONDS=600                       # configures build-fuzz, then runs this
#   FUZZ_TARGETS=tokenizer_json_fuzz bash fuzz/run.sh build-fuzz 60
#   FUZZ_FLAGS="-fork=0" bash fuzz/run.sh build-fuzz 60   # stop at the first crash instead
#
# Inputs: fuzz/seeds/<target>/ (committed, read only) and fuzz/corpus/<target>/ (the working
# corpus, gitignored, grows across runs). Findings go to fuzz/corpus/artifacts/<target>/ as
# crash-*, timeout-*, oom-*, leak-*; the log of each run to fuzz/corpus/logs/. To keep a
# finding, minimize it (TARGET -minimize_crash=1 -runs=10000 FILE) and commit it to
# fuzz/regressions/<target>/, which CTest replays forever.
#
# The fuzzers run in libFuzzer's fork mode with crashes, timeouts and OOMs ignored, so one run
# reports every distinct problem it meets instead of stopping at the first; -timeout=5 turns a
# hang into a timeout finding. UBSan halts on its first report (the fuzz build compiles with
# recoverable checks), so undefined behaviour is a finding too.
set -euo pipefail

if (($# != 2)); then
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
fi
build=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
read -r -a targets <<<"${FUZZ_TARGETS:-tokenizer_fuzz tokenizer_json_fuzz safetensors_fuzz torch_checkpoint_fuzz model_config_fuzz npy_fuzz classifier_file_fuzz dataset_fuzz vocab_txt_fuzz feature_cache_fuzz hub_http_fuzz server_request_fuzz treebank_fuzz sharded_index_fuzz}"
read -r -a extra_flags <<<"${FUZZ_FLAGS:-}"

# Longest input per target: texts long enough to hit WordPiece's 100-character limit and
# truncation of pairs; JSON long enough for a small vocabulary with every section; weight
# files long enough for a few small tensors (the seeds are up to ~4 KB).
declare -A max_len=([tokenizer_fuzz]=4096 [tokenizer_json_fuzz]=16384 [safetensors_fuzz]=8192
  [torch_checkpoint_fuzz]=8192 [model_config_fuzz]=4096 [npy_fuzz]=4096
  [classifier_file_fuzz]=8192 [dataset_fuzz]=4096 [vocab_txt_fuzz]=16384 [feature_cache_fuzz]=4096
  [hub_http_fuzz]=4096 [server_request_fuzz]=4096 [treebank_fuzz]=8192 [sharded_index_fuzz]=4096)

# The harnesses of path-only readers write every input to a scratch file (fuzz_checks.h), and
# some writers fsync: on a disk that is most of a run's wall time (npy_fuzz spent half its
# 30 minutes waiting on disk on ext4). In memory they run at CPU speed.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  export TMPDIR=/dev/shm
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

status=0
for target in "${targets[@]}"; do
  binary=$build/fuzz/$target
  if [ ! -x "$binary" ]; then
    echo "run.sh: $binary not built (cmake -DBERTLITE_BUILD_FUZZERS=ON, target fuzzers)" >&2
    exit 2
  fi
  corpus=$here/corpus/$target
  artifacts=$here/corpus/artifacts/$target
  logs=$here/corpus/logs
  mkdir -p "$corpus" "$artifacts" "$logs"
  log=$logs/$target-$(date +%Y%m%d-%H%M%S).log
  dict=()
  [ -f "$here/$target.dict" ] && dict=(-dict="$here/$target.dict")
  before=$(find "$artifacts" -type f | sort)
  # Every violated invariant's message, whichever forked job hit it (fuzz_checks.h).
  export BERTLITE_FUZZ_FINDINGS=$log.findings

  echo "run.sh: $target for ${seconds}s, log $log"
  set +e
  # CPU time, not wall time, is what a run is worth on a shared machine: bash's `time` reports
  # the user + system seconds of the fuzzer and of every job it forked and waited for.
  TIMEFORMAT='%U %S'
  { time "$binary" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -max_len="${max_len[$target]:-4096}" \
    -artifact_prefix="$artifacts/" -print_final_stats=1 "${dict[@]}" "${extra_flags[@]}" \
    "$corpus" "$here/seeds/$target" >"$log" 2>&1; } 2>"$log.cpu"
  exit_code=$?
  set -e

  # The last status lines say how far it got: executions, coverage, corpus, problems found.
  grep -E '^#[0-9]+' "$log" | tail -n 1 || true
  grep -E '^(stat::|INFO: exiting|Done [0-9]+ runs)' "$log" || true
  read -r user_seconds system_seconds <"$log.cpu" || true
  echo "run.sh: $target used $(awk -v u="${user_seconds:-0}" -v s="${system_seconds:-0}" 'BEGIN { printf "%.0f", u + s }') CPU seconds in ${seconds}s"
  found=$(comm -13 <(echo "$before") <(find "$artifacts" -type f | sort) | sed '/^$/d')
  if [ -n "$found" ] || grep -qE 'ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
    echo "run.sh: $target FOUND PROBLEMS (see $log):" >&2
    echo "$found" | sed 's/^/  /' >&2
    if [ -s "$BERTLITE_FUZZ_FINDINGS" ]; then
      echo "run.sh: invariants violated (count, message):" >&2
      sed 's/^pid [0-9]*: //' "$BERTLITE_FUZZ_FINDINGS" | sort | uniq -c | sed 's/^/  /' >&2
    fi
    status=1
  elif [ "$exit_code" -ne 0 ]; then
    echo "run.sh: $target exited with $exit_code (see $log)" >&2
    status=1
  else
    echo "run.sh: $target clean"
  fi
done
exit $status
