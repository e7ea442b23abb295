"""Chunking and text clean-up (pure functions)."""
from __future__ import annotations

import random
import re

from apps.knowledge.chunking import chunk_text, clean_text

WORDS = ("queijo presunto entrega bairro pagamento cartão frete loja horário sábado domingo muçarela "
         "parmesão tábua encomenda vinho").split()


def _paragraphs(seed: int, count: int = 14) -> str:
    rng = random.Random(seed)
    paragraphs = []
    for _ in range(count):
        sentences = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 28))).capitalize() + "."
                     for _ in range(rng.randint(1, 6))]
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


def _words(text: str) -> list[str]:
    return text.split()


def test_chunks_stay_within_size_and_cover_every_word_in_order():
    text = _paragraphs(1)
    chunks = chunk_text(text, size=800, overlap=160)
    assert len(chunks) > 5
    assert all(len(c) <= 800 for c in chunks)
    assert sum(len(c) for c in chunks) / len(chunks) > 400  # not needlessly small
    # Stripping each chunk's overlap with the previous one gives back the text, word for word.
    rebuilt = _words(chunks[0])
    for previous, current in zip(chunks, chunks[1:]):
        words = _words(current)
        overlap = next(n for n in range(min(len(words), len(_words(previous))), -1, -1)
                       if n == 0 or _words(previous)[-n:] == words[:n])
        rebuilt += words[overlap:]
    assert rebuilt == _words(clean_text(text))


def test_consecutive_chunks_overlap_by_about_the_configured_amount():
    chunks = chunk_text(_paragraphs(2, count=30), size=800, overlap=160)
    overlaps = []
    for previous, current in zip(chunks, chunks[1:]):
        # the longest prefix of the chunk that ends the previous one
        n = max((k for k in range(1, min(len(previous), len(current)) + 1) if previous.endswith(current[:k])),
                default=0)
        overlaps.append(n)
    assert all(n <= 160 for n in overlaps)
    assert sum(1 for n in overlaps if n > 0) >= 0.8 * len(overlaps)  # almost every boundary overlaps
    assert sum(overlaps) / len(overlaps) > 50


def test_cuts_fall_on_sentence_or_paragraph_boundaries_never_inside_a_word():
    text = _paragraphs(3, count=20)
    chunks = chunk_text(text, size=800, overlap=160)
    vocabulary = {w.strip(".").lower() for w in text.split()}
    for chunk in chunks:
        assert chunk == chunk.strip()
        assert chunk.endswith("."), chunk[-30:]  # each chunk ends a sentence
        for word in chunk.split():
            assert word.strip(".").lower() in vocabulary  # no word cut in half


def test_paragraph_boundaries_are_preferred_to_sentence_boundaries():
    paragraphs = [("Primeiro bloco sobre entregas e bairros atendidos. " * 6).strip(),
                  ("Segundo bloco sobre pagamentos com Pix e cartão. " * 6).strip(),
                  ("Terceiro bloco sobre queijos e frios fatiados. " * 6).strip()]
    chunks = chunk_text("\n\n".join(paragraphs), size=800, overlap=160)
    # Each paragraph (~300 chars) is whole inside one chunk instead of being split across two.
    for paragraph in paragraphs:
        assert any(paragraph in chunk for chunk in chunks)
    assert "\n\n" in chunks[0]


def test_a_long_sentence_is_cut_between_words_and_a_huge_word_only_when_it_must():
    sentence = " ".join(["palavra"] * 400) + "."  # 3,200 characters, no sentence boundary
    chunks = chunk_text(sentence, size=800, overlap=160)
    assert all(len(c) <= 800 for c in chunks)
    assert all(set(c.replace(".", "").split()) == {"palavra"} for c in chunks)

    url = "https://example.com/" + "x" * 2000
    chunks = chunk_text(f"Veja {url} agora.", size=800, overlap=160)
    assert all(len(c) <= 800 for c in chunks)
    assert "".join(c.replace("Veja ", "").replace(" agora.", "") for c in chunks) == url


def test_short_and_empty_text():
    assert chunk_text("") == []
    assert chunk_text(" \n\n \t ") == []
    assert chunk_text("Abrimos às 8h.") == ["Abrimos às 8h."]


def test_clean_text_removes_invisible_and_control_characters_and_normalises_newlines():
    dirty = "Ola\u200b mundo\r\n\r\n\r\n\r\nlinha\u202e dois\x07\ttab \ufeff"
    assert clean_text(dirty) == "Ola mundo\n\nlinha dois tab"
    # decomposed accents become composed (so they fold and match like typed ones)
    assert clean_text("cafe\u0301") == "café"


def test_chunk_size_setting_is_respected():
    text = _paragraphs(4)
    small = chunk_text(text, size=300, overlap=60)
    assert all(len(c) <= 300 for c in small)
    assert len(small) > len(chunk_text(text, size=800, overlap=160))
    assert not any(re.search(r"\s{3,}", c) for c in small)
