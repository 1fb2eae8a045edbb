#!/usr/bin/env bash
# The bertlite command line as a user runs it: output, exit codes, one-line errors.
set -u
BERTLITE=${BERTLITE:?set BERTLITE to the bertlite executable}
failures=0
passes=0
check() {  # check NAME EXPECTED ACTUAL
  if [ "$2" == "$3" ]; then passes=$((passes + 1)); else
    failures=$((failures + 1)); printf 'FAIL %s\n  expected: %s\n  actual:   %s\n' "$1" "$2" "$3"; fi
}
contains() {  # contains NAME NEEDLE HAYSTACK
  if [[ "$3" == *"$2"* ]]; then passes=$((passes + 1)); else
    failures=$((failures + 1)); printf 'FAIL %s\n  missing: %s\n  in: %s\n' "$1" "$2" "$3"; fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

out=$("$BERTLITE" tokenize "a visually stunning rumination on love")
check "walkthrough table" "[CLS]  a     visually  stunning  rum    ##ination  on    love  [SEP]
101    1037  17453     14726     19379  12758      2006  2293  102" "$out"

out=$("$BERTLITE" tokenize --json "Hi!")
check "json" '{"attention_mask":[1,1,1,1],"ids":[101,7632,999,102],"offsets":[[0,0],[0,2],[2,3],[0,0]],"tokens":["[CLS]","hi","!","[SEP]"],"truncated":0,"type_ids":[0,0,0,0]}' "$out"

out=$(printf 'one\ntwo\n' | "$BERTLITE" tokenize --json --no-special | wc -l)
check "stdin lines" "2" "$out"

printf 'good line\nbad \xff line\n' > "$tmp/bad.txt"
err=$("$BERTLITE" tokenize --input "$tmp/bad.txt" 2>&1 >/dev/null); code=$?
check "invalid utf-8 exit code" "1" "$code"
check "invalid utf-8 message" "bertlite: error: $tmp/bad.txt:2: invalid UTF-8 at byte 14 of the file" "$err"

err=$("$BERTLITE" tokenize --model /no/such/model "x" 2>&1 >/dev/null); code=$?
check "missing model exit code" "1" "$code"
contains "missing model message" "model '/no/such/model' not found" "$err"

err=$("$BERTLITE" tokenize --bogus-flag 2>&1 >/dev/null); code=$?
check "bad usage exit code" "2" "$code"
check "bad usage is one line" "1" "$(echo "$err" | wc -l)"
contains "bad usage message" "bertlite: error: The following argument was not expected: --bogus-flag" "$err"

help=$("$BERTLITE" tokenize --help)
contains "help mentions --json" "--json" "$help"

# ---- embed and info, on a tiny committed model (tests/data/encoder) ----
tiny="$(dirname "$0")/../data/encoder/bert_tiny"
printf 'Good\tpos\nThe movie was fun!\tpos\nbad film\tneg\n' > "$tmp/three.tsv"
out=$("$BERTLITE" embed --model "$tiny" --input "$tmp/three.tsv" --out "$tmp/f.npy"); code=$?
check "embed exit code" "0" "$code"
contains "embed summary" "3 sentences, 14 tokens, 0 truncated" "$out"
contains "embed summary shape" "[3, 48] (cls pooling)" "$out"
header=$(head -c 128 "$tmp/f.npy" | tail -c +11 | tr -d "\0")
contains "npy header" "'descr': '<f4', 'fortran_order': False, 'shape': (3, 48)" "$header"
"$BERTLITE" embed --model "$tiny" --input "$tmp/three.tsv" --out "$tmp/f.safetensors" --pooling mean --normalize >/dev/null; code=$?
check "embed safetensors exit code" "0" "$code"
contains "safetensors metadata" "\"pooling\":\"mean\"" "$(head -c 400 "$tmp/f.safetensors" | tr -d "\0")"

err=$("$BERTLITE" embed --model "$tiny" --input "$tmp/three.tsv" --out "$tmp/f.csv" 2>&1); code=$?
check "embed bad extension exit code" "1" "$code"
check "embed bad extension message" "bertlite: error: --out $tmp/f.csv: the name must end in .npy or .safetensors (that picks the format)" "$err"

err=$("$BERTLITE" embed --model "$tiny" --input "$tmp/three.tsv" --out "$tmp/g.npy" --max-length 4 --no-truncate 2>&1); code=$?
check "no-truncate exit code" "1" "$code"
check "no-truncate message" "bertlite: error: $tmp/three.tsv:2: 7 tokens, more than the limit of 4 (--long-text error; truncate or window read it)" "$err"
[ -e "$tmp/g.npy" ]; check "no output on error" "1" "$?"
out=$("$BERTLITE" embed --model "$tiny" --input "$tmp/three.tsv" --out "$tmp/g.npy" --max-length 4)
contains "truncated count" "1 truncated" "$out"

err=$("$BERTLITE" embed --model "$tiny" --input "$tmp/three.tsv" --out "$tmp/g.npy" --text-column 5 2>&1); code=$?
check "missing column exit code" "1" "$code"
contains "missing column names the line" "three.tsv:1" "$err"

# bf16 on a CPU without a bfloat16 GEMM runs fp32 GEMMs and says so on stderr, once; with one,
# it says nothing. --profile names the kernel, which decides which of the two must hold.
err=$("$BERTLITE" embed --model "$tiny" --input "$tmp/three.tsv" --out "$tmp/b.npy" --precision bf16 --profile 2>&1 >"$tmp/b.out"); code=$?
check "embed bf16 exit code" "0" "$code"
if grep -q "+bf16-as-fp32" "$tmp/b.out"; then
  check "bf16 notice" "bertlite: note: bf16: this CPU has no bfloat16 GEMM (AVX512_BF16 or AMX), so the bf16-rounded weights are multiplied in fp32: fp32's speed, no faster" "$err"
else
  check "no bf16 notice" "" "$err"
fi
out=$(BERTLITE_PROGRESS=1 "$BERTLITE" embed --model "$tiny" --input "$tmp/three.tsv" --out "$tmp/h.npy" 2>&1 >/dev/null)
contains "progress bar drawn when forced" "3/3 sentences" "$out"

out=$("$BERTLITE" info --model "$tiny")
contains "info architecture" "architecture   bert" "$out"
contains "info shape" "3 layers, hidden 48" "$out"
contains "info parameters" "parameters" "$out"
out=$("$BERTLITE" info --model "$tiny" --json)
contains "info json" '"hidden_size": 48' "$out"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
