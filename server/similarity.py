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

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from facilitation.limits import MAX_SHARED_TERMS

# Word-bounded n-grams of 3 to 5 characters: short enough to bridge a plural or a conjugation,
# long enough that two texts do not look alike for sharing "the" or "les".
NGRAM_RANGE = (3, 5)
# Two positions at or above this cosine are proposed as one. Chosen on the planted pairs of
# tests/fixtures/synthesis_session.py (French and English): lower lets positions that share
# a topic but not a proposal through, higher misses rewordings.
MERGE_THRESHOLD = 0.5
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
    found = []
    rows, cols = np.nonzero(np.triu(cosines >= threshold, k=1))
    for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
        a, b = texts[i], texts[j]
        if not (a.new or b.new) or a.group == b.group or frozenset((a.entry, b.entry)) in done:
            continue
        weights = matrix[i].multiply(matrix[j]).tocoo()
        order = np.argsort(-weights.data)[:TOP_NGRAMS]
        grams = [(str(vocabulary[weights.col[k]]), float(weights.data[k])) for k in order]
        similarity = round(float(cosines[i, j]), 3)
        found.append(Pair(a.entry, b.entry, similarity, shared_words(a.text, b.text, grams)))
    found.sort(key=lambda pair: -pair.similarity)
    return found


def shared_words(first: str, second: str, grams: Sequence[tuple[str, float]]) -> tuple[str, ...]:
    """Why two texts were paired, for the lead: the words of each that hold the n-grams
    weighing most in their similarity, heaviest first ("residents ~ resident" when the two
    words differ). `grams` are n-grams as the vectorizer pads them, with their weight."""
    left = dict.fromkeys(fold(w) for w in WORD.findall(first))
    right = dict.fromkeys(fold(w) for w in WORD.findall(second))
    weight: dict[str, float] = {}
    for gram, value in grams:
        core = gram.strip()
        if len(core) < NGRAM_RANGE[0]:
            continue
        # A padded n-gram (" bus") is a word's start or end: match it in the padded word.
        mine = next((w for w in left if gram in f" {w} "), None)
        theirs = next((w for w in right if gram in f" {w} "), None)
        if mine is None or theirs is None:
            continue
        word = mine if mine == theirs else f"{mine} ~ {theirs}"
        weight[word] = weight.get(word, 0.0) + value
    ranked = sorted(weight, key=lambda word: -weight[word])
    return tuple(ranked[:MAX_SHARED_TERMS])
