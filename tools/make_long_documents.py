"""tools/make_long_documents.py - long documents from SST-2's own sentences, for reading texts
longer than the model (`--long-text window`).

Movie reviews are long; SST's sentences come from Rotten Tomatoes reviews but are one sentence
each. This joins consecutive sentences of the same label (in file order, per label) into
documents of 600 to 1,000 tokens (each document's length drawn uniformly in that range, seeded),
counted with the default model's tokenizer (Hugging Face `tokenizers`, special tokens excluded),
and writes `document<TAB>label` rows. A last run shorter than 600 tokens is dropped.

  .venv/bin/python tools/make_long_documents.py --split dev --out .cache/long/dev_docs.tsv
"""

import argparse
import random
from pathlib import Path

from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parents[1]


def make_documents(rows, tokenizer, low, high, seed):
    rng = random.Random(seed)
    documents = []
    for label in sorted({label for _, label in rows}):
        target, parts, tokens = rng.randint(low, high), [], 0
        for text, row_label in rows:
            if row_label != label:
                continue
            parts.append(text)
            tokens += len(tokenizer.encode(text, add_special_tokens=False).ids)
            if tokens >= target:
                documents.append((" ".join(parts), label))
                target, parts, tokens = rng.randint(low, high), [], 0
    # Interleave the labels by a seeded shuffle, so a file's order says nothing.
    rng.shuffle(documents)
    return documents


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="dev", choices=["train", "dev"])
    parser.add_argument("--model", default=str(ROOT / "models" / "all-MiniLM-L6-v2"))
    parser.add_argument("--min-tokens", type=int, default=600)
    parser.add_argument("--max-tokens", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    lines = (ROOT / "data" / "sst2" / f"{args.split}.tsv").read_text(encoding="utf-8").splitlines()
    rows = [tuple(line.split("\t")) for line in lines]
    tokenizer = Tokenizer.from_file(str(Path(args.model) / "tokenizer.json"))
    # tokenizer.json pads and cuts to 128 for sentence-transformers: count every real token.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    documents = make_documents(rows, tokenizer, args.min_tokens, args.max_tokens, args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text("".join(f"{text}\t{label}\n" for text, label in documents), encoding="utf-8")
    tmp.replace(out)
    lengths = [len(tokenizer.encode(text).ids) for text, _ in documents]
    print(f"{out}: {len(documents)} documents from {len(rows)} sentences of {args.split}, "
          f"{min(lengths)}..{max(lengths)} tokens (median {sorted(lengths)[len(lengths) // 2]})")


if __name__ == "__main__":
    main()
