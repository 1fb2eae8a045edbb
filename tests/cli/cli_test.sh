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

"$BERTLITE" tokenize --bogus-flag >/dev/null 2>&1; code=$?
check "bad usage exit code" "109" "$code"

help=$("$BERTLITE" tokenize --help)
contains "help mentions --json" "--json" "$help"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
