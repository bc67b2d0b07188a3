"""Features of a title a marketer understands: its length, whether it fits the 16 characters the
chat list shows, how many of the brand's key words fall inside those 16, a number, a question, and
the campaign's topic tags."""

from __future__ import annotations

import re
from dataclasses import dataclass

PREVIEW_CHARS = 16
QUESTION = re.compile(r"[?？]|[吗呢么]\s*$")
NUMBER = re.compile(r"\d|[一二三四五六七八九十百千万]+[折件元个天]")


@dataclass(frozen=True)
class Title:
    text: str
    topics: tuple[str, ...] = ()
    key_words: tuple[str, ...] = ()


BASE_FEATURES = ("length / 10", "fits in 16 characters", "key words in the first 16", "has a number", "is a question")


def title_features(title: Title, topics: list[str]) -> list[float]:
    """The feature vector (intercept first); `topics` names the topic columns in order."""
    text = title.text.strip()
    preview = text[:PREVIEW_CHARS]
    in_preview = sum(1 for word in title.key_words if word and word in preview)
    return [
        1.0,
        len(text) / 10,
        1.0 if len(text) <= PREVIEW_CHARS else 0.0,
        float(in_preview),
        1.0 if NUMBER.search(text) else 0.0,
        1.0 if QUESTION.search(text) else 0.0,
        *[1.0 if topic in title.topics else 0.0 for topic in topics],
    ]


def feature_names(topics: list[str]) -> list[str]:
    return ["intercept", *BASE_FEATURES, *[f"topic: {t}" for t in topics]]
