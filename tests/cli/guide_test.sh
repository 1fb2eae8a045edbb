#!/usr/bin/env bash
# The walkthrough end to end on the real default model, small enough for every test run:
# `bertlite guide` on the first rows of SST-2 (its report opened in headless Chromium), then
# `bertlite train` and `bertlite predict` as a user runs them.
set -u
BERTLITE=${BERTLITE:?set BERTLITE to the bertlite executable}
PYTHON=${PYTHON:-python3}
root="$(cd "$(dirname "$0")/../.." && pwd)"
failures=0
passes=0
check() { if [ "$2" == "$3" ]; then passes=$((passes + 1)); else
  failures=$((failures + 1)); printf 'FAIL %s\n  expected: %s\n  actual:   %s\n' "$1" "$2" "$3"; fi; }
contains() { if [[ "$3" == *"$2"* ]]; then passes=$((passes + 1)); else
  failures=$((failures + 1)); printf 'FAIL %s\n  missing: %s\n  in: %s\n' "$1" "$2" "$3"; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export BERTLITE_CACHE="$tmp/cache"
head -n 800 "$root/data/sst2/train.tsv" > "$tmp/train.tsv"
head -n 200 "$root/data/sst2/dev.tsv" > "$tmp/dev.tsv"

out=$("$BERTLITE" guide --train "$tmp/train.tsv" --dev "$tmp/dev.tsv" --rows 400 --seeds 3 \
      --grid 0.1,1,10 --finetune --finetune-epochs 1 --report "$tmp/report.html" 2>&1); code=$?
check "guide exit code" "0" "$code"
contains "guide rows" "800 rows x 2 columns" "$out"
contains "guide example tokens" "[CLS]  a     visually  stunning  rum    ##ination  on    love  [SEP]" "$out"
contains "guide split" "train (300, 384), test (100, 384)" "$out"
contains "guide baseline" "baseline, the most frequent class" "$out"
contains "guide beyond" "all 800 training sentences -> the 200 dev sentences" "$out"
contains "guide finetune step" "[9] the walkthrough's next step: fine-tune every weight (mean head" "$out"
contains "guide finetune epoch" "epoch 1/1: train loss" "$out"
contains "guide finetune result" "fine-tuned -> accuracy on the 200 dev sentences:" "$out"
contains "guide report" "report: $tmp/report.html" "$out"
contains "report has the fine-tuning section" 'id="finetune"' "$(cat "$tmp/report.html")"
# Bad fine-tuning data fails before the walkthrough runs.
printf 'only one\t1\nclass here\t1\n' > "$tmp/one.tsv"
err=$("$BERTLITE" guide --train "$tmp/train.tsv" --dev "$tmp/dev.tsv" --finetune \
      --finetune-train "$tmp/one.tsv" --report "" 2>&1); code=$?
check "guide bad finetune data exit code" "1" "$code"
contains "guide bad finetune data message" "a classifier needs at least two classes" "$err"
check "guide bad finetune data before step 1" "" "$(echo "$err" | grep '\[1\]')"
"$PYTHON" "$root/tests/report/check_report.py" "$tmp/report.html" "$tmp/report.png" --experiments 3 --finetune
check "guide report renders in Chromium" "0" "$?"
# A second run takes the features from the cache.
out=$("$BERTLITE" guide --train "$tmp/train.tsv" --dev "$tmp/dev.tsv" --rows 400 --seeds 1 \
      --grid 1 --report "" 2>&1)
contains "second run uses the cache" "(from the feature cache)" "$out"
# The report's captions follow the run's pooling (the default model's own is mean).
html=$(cat "$tmp/report.html")
contains "mean run: the flow says mean" "real token vectors (mean pooling" "$html"
check "mean run: no [CLS] feature caption" "" "$(echo "$html" | grep -o 'kept as the features')"
for pooling in cls pooler; do
  "$BERTLITE" guide --train "$tmp/train.tsv" --dev "$tmp/dev.tsv" --rows 400 --seeds 1 \
    --grid 1 --pooling "$pooling" --report "$tmp/report-$pooling.html" >/dev/null 2>&1
  check "guide --pooling $pooling exit code" "0" "$?"
done
html=$(cat "$tmp/report-cls.html")
contains "cls run: the flow says [CLS]" "token&rsquo;s, is kept as its features" "$html"
check "cls run: no mean caption" "" "$(echo "$html" | grep -o 'real token vectors (mean pooling')"
html=$(cat "$tmp/report-pooler.html")
contains "pooler run: the flow says pooler" "through BERT&rsquo;s pooler" "$html"
contains "pooler run: the shapes say pooler" "through the pooler (tanh of a dense layer)" "$html"

out=$("$BERTLITE" train --train "$tmp/train.tsv" --test "$tmp/dev.tsv" --grid 0.1,1,10 \
      --pooling mean --normalize --out "$tmp/clf.json" 2>&1); code=$?
check "train exit code" "0" "$code"
contains "train chose C" "chosen C =" "$out"
contains "train test metrics" "test accuracy" "$out"
out=$("$BERTLITE" predict --classifier "$tmp/clf.json" "a visually stunning rumination on love" \
      "a dull , witless mess")
check "predict labels" "1 0" "$(echo "$out" | cut -f1 | tr '\n' ' ' | sed 's/ $//')"
out=$("$BERTLITE" predict --classifier "$tmp/clf.json" --json "a visually stunning rumination on love")
contains "predict json" '"label":"1"' "$out"
printf 'fine\nawful\n' > "$tmp/two.txt"
out=$("$BERTLITE" predict --classifier "$tmp/clf.json" --input "$tmp/two.txt" | wc -l)
check "predict input file" "2" "$out"
echo '{"format": "bertlite-classifier", "version": 99}' > "$tmp/new.json"
err=$("$BERTLITE" predict --classifier "$tmp/new.json" "x" 2>&1); code=$?
check "newer classifier exit code" "1" "$code"
contains "newer classifier message" "$tmp/new.json" "$err"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
