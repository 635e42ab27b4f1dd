"""Near-duplicate positions across rooms: character n-gram TF-IDF and cosine similarity.

Character n-grams within words match "bus" with "buses" and "gratuit" with "gratuits" in any
language written with spaces, with no word list, no stemmer and no model to download. The
core never sees this: it receives the pairs found as proposals, which the lead confirms or
rejects (`facilitation.synthesis`).
"""

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from facilitation.limits import MAX_MERGE_PROPOSALS, MAX_SHARED_TERMS

# Word-bounded n-grams of 3 to 5 characters: short enough to bridge a plural or a conjugation,
# long enough that two texts do not look alike for sharing "the" or "les".
NGRAM_RANGE = (3, 5)
# Two positions at or above this cosine are proposed as one. Chosen on the planted pairs of
# tests/fixtures/synthesis_session.py (French and English): lower lets positions that share
# a topic but not a proposal through, higher misses rewordings.
MERGE_THRESHOLD = 0.5
# Each text is proposed with its few most similar others, not with every text that passes the
# threshold: twelve rooms raising one proposal would otherwise make 66 proposals of it, where
# a few confirmations merge them all (a merge takes the whole group along).
MAX_PARTNERS = 3
# The n-grams that weigh most in a pair's similarity, from which its shared words are drawn.
TOP_NGRAMS = 60
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Text:
    """A carried position as the similarity sees it: its map entry, its group, its words."""

    entry: str
    # The entry it stands under on the map: two texts of one group are one already.
    group: str
    text: str
    # Carried in the round just recalled: only pairs with at least one new text are proposed.
    new: bool


@dataclass(frozen=True)
class Pair:
    first: str
    second: str
    similarity: float
    shared: tuple[str, ...]


def fold(text: str) -> str:
    """Lower case without accents: "Médiathèque" and "mediatheque" are one word here."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def near_duplicates(
    texts: Sequence[Text],
    *,
    skip: Iterable[tuple[str, str]] = (),
    threshold: float = MERGE_THRESHOLD,
) -> list[Pair]:
    """Every pair of texts at or above `threshold`, most alike first.

    A pair is left out when both texts are old, when they stand in one group already, or when
    it is in `skip` (proposed before, in either order).
    """
    if len(texts) < 2 or not any(t.new for t in texts):
        return []
    # Imported here, not at the top: scikit-learn takes seconds to load, and the command line
    # and a server that never sees a recall have no use for it.
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=NGRAM_RANGE,
        preprocessor=fold,
        sublinear_tf=True,
    )
    matrix = vectorizer.fit_transform([t.text for t in texts])
    # Rows are L2-normalised, so their dot products are the cosines.
    cosines = (matrix @ matrix.T).toarray()
    vocabulary = vectorizer.get_feature_names_out()
    done = {frozenset(pair) for pair in skip}
    candidates = []
    rows, cols = np.nonzero(np.triu(cosines >= threshold, k=1))
    for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
        a, b = texts[i], texts[j]
        if not (a.new or b.new) or a.group == b.group or frozenset((a.entry, b.entry)) in done:
            continue
        candidates.append((round(float(cosines[i, j]), 3), i, j))
    candidates.sort(key=lambda c: (-c[0], texts[c[1]].entry, texts[c[2]].entry))
    found = []
    rows_of = _rows(matrix)
    words_of: dict[int, dict[str, str]] = {}
    for similarity, i, j in _fewest(candidates):
        mine, theirs = rows_of[i], rows_of[j]
        weights = sorted(
            ((mine[col] * theirs[col], col) for col in mine.keys() & theirs.keys()), reverse=True
        )[:TOP_NGRAMS]
        grams = [(str(vocabulary[col]), weight) for weight, col in weights]
        for k in (i, j):
            if k not in words_of:
                words_of[k] = gram_words(texts[k].text)
        shared = shared_words(words_of[i], words_of[j], grams)
        found.append(Pair(texts[i].entry, texts[j].entry, similarity, shared))
    return found


def _rows(matrix: Any) -> list[dict[int, float]]:
    """Each row of a CSR matrix as {column: weight}: read straight from its arrays, since
    slicing rows out of a sparse matrix one pair at a time costs milliseconds each."""
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    return [
        dict(zip(indices[start:end].tolist(), data[start:end].tolist(), strict=True))
        for start, end in zip(indptr[:-1].tolist(), indptr[1:].tolist(), strict=True)
    ]


def _fewest(candidates: list[tuple[float, int, int]]) -> list[tuple[float, int, int]]:
    """The most similar pairs first, each kept while one of its two texts has fewer than
    `MAX_PARTNERS` partners: at most `MAX_PARTNERS` pairs per text in all."""
    partners: dict[int, int] = {}
    kept = []
    for candidate in candidates:
        _, i, j = candidate
        if min(partners.get(i, 0), partners.get(j, 0)) >= MAX_PARTNERS:
            continue
        kept.append(candidate)
        partners[i] = partners.get(i, 0) + 1
        partners[j] = partners.get(j, 0) + 1
        if len(kept) == MAX_MERGE_PROPOSALS:
            break
    return kept


def gram_words(text: str) -> dict[str, str]:
    """Every n-gram of a text's words, padded as the vectorizer pads them, to its word."""
    found: dict[str, str] = {}
    low, high = NGRAM_RANGE
    for word in WORD.findall(fold(text)):
        padded = f" {word} "
        for size in range(low, high + 1):
            for at in range(len(padded) - size + 1):
                found.setdefault(padded[at : at + size], word)
    return found


def shared_words(
    first: dict[str, str], second: dict[str, str], grams: Sequence[tuple[str, float]]
) -> tuple[str, ...]:
    """Why two texts were paired, for the lead: the words of each (`gram_words`) that hold the
    n-grams weighing most in their similarity, heaviest first ("residents ~ resident" when the
    two words differ). `grams` are n-grams as the vectorizer pads them, with their weight."""
    weight: dict[str, float] = {}
    for gram, value in grams:
        mine, theirs = first.get(gram), second.get(gram)
        # Padding alone ("s ", " l") says nothing about a word.
        if mine is None or theirs is None or len(gram.strip()) < NGRAM_RANGE[0]:
            continue
        word = mine if mine == theirs else f"{mine} ~ {theirs}"
        weight[word] = weight.get(word, 0.0) + value
    ranked = sorted(weight, key=lambda word: -weight[word])
    return tuple(ranked[:MAX_SHARED_TERMS])
