"""Writes ROWS embed-input rows ({"text", "id"}) to stdout: the peer corpus repeated, copy k
(k = 1, 2, ...) carrying "(variant k)" at a place that depends on the row, so that no two rows
share a text (a first run finds nothing in the embedding cache).

    python3 bench/job_input.py CORPUS.jsonl ROWS > input.jsonl
"""
import json
import sys


def main(corpus_path, rows):
    corpus = [json.loads(line) for line in open(corpus_path, encoding="utf-8") if line.strip()]
    for i in range(rows):
        k, text = i // len(corpus), corpus[i % len(corpus)]
        if k:
            words = text.split(" ")
            at = (i * 7919) % (len(words) + 1)
            text = " ".join(words[:at] + [f"(variant {k})"] + words[at:])
        print(json.dumps({"text": text, "id": i}, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
