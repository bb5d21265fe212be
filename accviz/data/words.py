"""Word-pieces back to words, and the category of every word-vector (for the corpus lens).

A WordPiece tokenizer writes "unbelievable" as ``un ##bel ##ievable``. ``word_types`` joins the
pieces back, lower-cased, so every piece knows the word it belongs to; ``token_categories`` puts
each word-vector in exactly one category, checked in this order:

    special      [CLS], [SEP], [PAD], [UNK], [MASK] (the tokenizer's special tokens)
    sub-word     a piece of a word split into two or more pieces (all of its pieces)
    punctuation  every character is Unicode punctuation or a symbol
    number       digits, optionally with , . : / - inside ("1,000", "3.5", "9/11")
    stop word    in STOP_WORDS, a fixed English list shipped with the package
    other word   everything else
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

CATEGORIES = ("special", "sub-word", "punctuation", "number", "stop word", "other word")
SPECIAL_TOKENS = frozenset({"[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"})
CONTINUATION = "##"
_NUMBER = re.compile(r"^\d+([,.:/\-]\d+)*$")

# A fixed English stop-word list (function words: articles, pronouns, auxiliaries, prepositions,
# conjunctions, common adverbs), close to the usual NLTK/spaCy core. Contractions appear as the
# pieces BERT's tokenizer makes of them ("n", "t", "s", "ll", "re", "ve", "d", "m").
STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves also may might must shall us upon yet ever even still
    n t s ll re ve d m o y
    """.split()
)


def _word_starts(tokens) -> list[int]:
    """(T,) index of the first piece of the word each token belongs to."""
    starts: list[int] = []
    for i, token in enumerate(tokens):
        joins = token.startswith(CONTINUATION) and i > 0 and tokens[i - 1] not in SPECIAL_TOKENS
        starts.append(starts[-1] if joins else i)
    return starts


def word_types(tokens) -> list[str]:
    """The lower-cased word each token belongs to: (T,) tokens -> (T,) words.

    Continuation pieces (``##…``) are joined to the pieces before them; special tokens stand for
    themselves.
    """
    starts = _word_starts(tokens)
    joined: dict[int, list[str]] = {}
    for token, start in zip(tokens, starts, strict=True):
        piece = token if start not in joined else token[len(CONTINUATION) :]
        joined.setdefault(start, []).append(piece)
    return [
        tokens[start] if tokens[start] in SPECIAL_TOKENS else "".join(joined[start]).lower()
        for start in starts
    ]


def _is_punctuation(text: str) -> bool:
    return bool(text) and all(unicodedata.category(c)[0] in "PS" for c in text)


def token_categories(tokens, words=None) -> list[str]:
    """One category of ``CATEGORIES`` per token (rules in the module docstring)."""
    words = word_types(tokens) if words is None else words
    starts = _word_starts(tokens)
    pieces = Counter(starts)
    categories = []
    for token, word, start in zip(tokens, words, starts, strict=True):
        if token in SPECIAL_TOKENS:
            categories.append("special")
        elif pieces[start] > 1:
            categories.append("sub-word")
        elif _is_punctuation(word):
            categories.append("punctuation")
        elif _NUMBER.match(word):
            categories.append("number")
        elif word in STOP_WORDS:
            categories.append("stop word")
        else:
            categories.append("other word")
    return categories
