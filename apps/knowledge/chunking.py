"""Text clean-up and chunking for the knowledge base (pure functions, no database).

Chunks are about ``size`` characters (``KNOWLEDGE_CHUNK_CHARS``); each one after the first starts
with the tail of the one before (about ``overlap`` characters, ``KNOWLEDGE_CHUNK_OVERLAP``) so a
passage cut at a boundary is still whole in one of the two. Cuts fall on paragraph boundaries when
that does not leave a chunk less than half full, otherwise on sentence boundaries, otherwise (one
very long sentence) between words; a word is only ever split when it is longer than a chunk.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Invisible characters that carry no meaning for search but can hide text from a human reviewer
# (zero-width spaces and joiners, bidi overrides, word joiners, BOM, Unicode "tag" characters).
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+")


def normalize_newlines(text: str) -> str:
    """Browsers post textareas with CRLF; count and store one character per line break."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n")


def clean_text(text: str) -> str:
    """NFC, one kind of newline, no control or invisible characters, no trailing spaces, at most one
    blank line in a row."""
    text = unicodedata.normalize("NFC", normalize_newlines(text))
    text = _INVISIBLE.sub("", text)
    text = text.replace("\t", " ").replace("\u00a0", " ")
    text = _CONTROL.sub("", text)
    lines = [re.sub(r" {2,}", " ", line).strip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


@dataclass
class _Unit:
    text: str
    sep: str  # what joins it to the unit before: "\n\n" (new paragraph), "\n" (new line) or " "


def _split_words(sentence: str, limit: int) -> list[tuple[str, str]]:
    """A sentence longer than ``limit`` cut between words, as (piece, glue to the piece before):
    " " between words, "" inside a word longer than ``limit`` (the only place a word is cut)."""
    pieces: list[tuple[str, str]] = []
    current, glue = "", " "
    for word in sentence.split(" "):
        if not word:
            continue
        if current and len(current) + 1 + len(word) <= limit:
            current = f"{current} {word}"
            continue
        if current:
            pieces.append((current, glue))
            current, glue = "", " "
        while len(word) > limit:  # a URL or a run of symbols: nothing better than a hard cut
            pieces.append((word[:limit], glue))
            word, glue = word[limit:], ""
        current = word
    if current:
        pieces.append((current, glue))
    return pieces


def _units(text: str, max_unit: int) -> list[list[_Unit]]:
    """Paragraphs, each a list of sentence-sized units no longer than ``max_unit``."""
    paragraphs = []
    for raw in re.split(r"\n\s*\n", text):
        raw = raw.strip()
        if not raw:
            continue
        units: list[_Unit] = []
        for line_no, line in enumerate(raw.split("\n")):
            line = line.strip()
            if not line:
                continue
            for sent_no, sentence in enumerate(s for s in _SENTENCE_END.split(line) if s.strip()):
                sentence = sentence.strip()
                sep = "\n" if sent_no == 0 else " "
                for piece_no, (piece, glue) in enumerate(_split_words(sentence, max_unit)):
                    units.append(_Unit(piece, sep if piece_no == 0 else glue))
        if units:
            units[0].sep = "\n\n"
            paragraphs.append(units)
    return paragraphs


def _join(units: list[_Unit]) -> str:
    out = ""
    for unit in units:
        out = f"{out}{unit.sep}{unit.text}" if out else unit.text
    return out


def _length(units: list[_Unit]) -> int:
    return len(_join(units))


def _tail(units: list[_Unit], overlap: int) -> list[_Unit]:
    """The end of a chunk to repeat at the start of the next: whole sentences when they fit in
    ``overlap``, else the last words of the last sentence."""
    if overlap <= 0 or not units:
        return []
    taken: list[_Unit] = []
    for unit in reversed(units):
        if _length([_Unit(unit.text, ""), *taken]) > overlap:
            break
        taken.insert(0, _Unit(unit.text, unit.sep))
    if taken:
        taken[0] = _Unit(taken[0].text, "")
        return taken
    words = units[-1].text.split(" ")
    tail: list[str] = []
    for word in reversed(words[1:]):  # never the whole sentence (it did not fit)
        if len(" ".join([word, *tail])) > overlap:
            break
        tail.insert(0, word)
    return [_Unit(" ".join(tail), "")] if tail else []


def chunk_text(text: str, *, size: int = 800, overlap: int = 160) -> list[str]:
    """Cut ``text`` into overlapping chunks of at most ``size`` characters (see the module doc)."""
    size = max(int(size), 50)
    overlap = max(0, min(int(overlap), size // 2))
    text = clean_text(text)
    if not text:
        return []
    max_unit = size - overlap  # so that an overlap plus any unit still fits in one chunk
    chunks: list[str] = []
    current: list[_Unit] = []  # units of the chunk being filled (may start with the overlap)
    fresh = 0  # how many of them are new (not overlap)

    def close():
        nonlocal current, fresh
        if fresh:
            chunks.append(_join(current))
            current = _tail(current, overlap)
        fresh = 0

    for paragraph in _units(text, max_unit):
        whole = _length(current + paragraph)
        if fresh and whole > size and _length(current) >= size // 2:
            close()  # the paragraph does not fit: cut at its start rather than inside it
        for unit in paragraph:
            if fresh and _length(current + [unit]) > size:
                close()
            if not current:
                unit = _Unit(unit.text, "")
            current.append(unit)
            fresh += 1
            while _length(current) > size:  # overlap + unit too long (only with odd separators)
                current.pop(0)
                if current:
                    current[0] = _Unit(current[0].text, "")
    if fresh:
        chunks.append(_join(current))
    return chunks
