"""Generated movie-review-like texts whose sentiment needs word order to be read.

A review is an opinion such as ``the plot was not very clever``, or two joined by ``and`` (both
of the same polarity) or ``but`` (opposite polarities: the one after ``but`` wins), with neutral
remarks around it. An opinion's polarity is its adjective's, flipped by ``not`` or ``never``
(three opinions in ten). The words alone say little: a review with ``but`` holds a positive and
a negative adjective, and which one a ``not`` belongs to, or which comes after ``but``, is a
matter of order. A bag of words (logistic regression on word counts) scores about 0.63 on it.

    python tests/text_data.py OUT.csv [N] [SEED]     # writes columns review,label
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

POSITIVE = ["good", "great", "excellent", "wonderful", "brilliant", "enjoyable", "moving",
            "clever", "funny", "beautiful"]  # fmt: skip
NEGATIVE = ["bad", "awful", "boring", "dull", "terrible", "weak", "predictable", "messy",
            "silly", "slow"]  # fmt: skip
SUBJECTS = ["the movie", "the film", "the plot", "the acting", "the story", "the ending",
            "the cast", "the music", "the script", "the dialogue", "the pacing",
            "the direction"]  # fmt: skip
VERBS = ["was", "is", "felt", "seemed"]
INTENSIFIERS = ["", "", "", "really", "very", "quite", "truly"]
NEGATIONS = ["not", "never"]
REMARKS = ["i saw it last week", "we went on a rainy evening", "my sister chose it",
           "it runs about two hours", "the cinema was half empty", "i watched it twice",
           "it is based on a novel", "there were many children there", "a friend recommended it",
           "i had popcorn"]  # fmt: skip


NEGATED = 0.3  # share of opinions negated


def clause(rng: random.Random, polarity: int) -> str:
    """An opinion whose polarity is ``polarity`` (+1 or -1), negated now and then."""
    negated = rng.random() < NEGATED
    words = POSITIVE if (polarity > 0) != negated else NEGATIVE
    parts = [rng.choice(SUBJECTS), rng.choice(VERBS)]
    parts += [rng.choice(NEGATIONS)] if negated else []
    parts += [rng.choice(INTENSIFIERS), rng.choice(words)]
    return " ".join(p for p in parts if p)


def review(rng: random.Random) -> tuple[str, int]:
    """One review and its label (1 positive, 0 negative)."""
    label = rng.choice([1, -1])
    form = rng.random()
    if form < 0.25:
        text = clause(rng, label)
    elif form < 0.6:
        text = f"{clause(rng, label)} and {clause(rng, label)}"
    else:
        text = f"{clause(rng, -label)} but {clause(rng, label)}"
    remarks = rng.sample(REMARKS, rng.randint(0, 2))
    before = [r for r in remarks if rng.random() < 0.5]
    after = [r for r in remarks if r not in before]
    return ". ".join([*before, text, *after]) + ".", int(label > 0)


def reviews(n: int, seed: int = 0) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    return [review(rng) for _ in range(n)]


def write_csv(path: Path, n: int, seed: int = 0) -> Path:
    """``n`` reviews as a CSV with a header row: review,label."""
    with Path(path).open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["review", "label"])
        writer.writerows(reviews(n, seed))
    return Path(path)


if __name__ == "__main__":
    out, *rest = sys.argv[1:]
    write_csv(Path(out), int(rest[0]) if rest else 10000, int(rest[1]) if len(rest) > 1 else 0)
