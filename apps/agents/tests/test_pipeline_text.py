"""The turn's text helpers (apps.agents.prompts): splitting long replies, picking the passage a
retrieval-only answer sends, small talk, invisible characters. Pure functions, no database."""
from __future__ import annotations

import pytest

from apps.agents import prompts


def test_split_reply_respects_the_limit_and_keeps_every_word():
    text = "Primeiro parágrafo curto.\n\n" + ("Uma frase bem comprida sobre frios. " * 40).strip() + "\n\n" + \
        "x" * 2500
    pieces = prompts.split_reply(text, 1000)
    assert all(0 < len(p) <= 1000 for p in pieces)
    assert "".join("".join(pieces).split()) == "".join(text.split())
    assert pieces[0].startswith("Primeiro parágrafo curto.")
    assert prompts.split_reply("curto", 1000) == ["curto"] and prompts.split_reply("   ", 1000) == []


def test_split_reply_prefers_sentence_boundaries():
    sentence = "Esta é uma frase de tamanho médio para o teste. "
    pieces = prompts.split_reply(sentence * 30, 300)
    assert all(p.endswith(".") for p in pieces)


def test_best_passage_answers_the_question_in_a_line_by_line_faq():
    faq = "\n".join([
        "P: Qual o horário de funcionamento?", "R: De segunda a sexta das 8h às 18h e sábado até 12h.",
        "P: Vocês entregam em Campinas?", "R: Sim, entregamos em Campinas às terças e quintas.",
        "P: Quais as formas de pagamento?", "R: Pix, cartão e dinheiro.",
    ] * 4)
    passage = prompts.best_passage(faq, "vocês entregam em campinas?", max_chars=1000)
    assert "Campinas às terças" in passage
    assert "Pix" not in passage and "horário" not in passage
    assert len(passage) < 300


def test_best_passage_cuts_an_overlong_paragraph_at_a_sentence():
    paragraph = " ".join(f"Frase número {i} sobre o presunto cru." for i in range(80))
    passage = prompts.best_passage(paragraph, "presunto", max_chars=400)
    assert len(passage) <= 400 and passage.endswith(".")


@pytest.mark.parametrize("text,expected", [
    ("Oi", True), ("Bom dia!!", True), ("obrigada 😊", True), ("👍", True), ("Oi, tudo bem?", True),
    ("Oi, vocês entregam na zona sul?", False), ("Qual o preço do presunto?", False), ("ok", True),
    ("ok, pode ser", False),  # conservative: an answer to a question may need the model
])
def test_small_talk(text, expected):
    assert prompts.is_small_talk(text) is expected


def test_invisible_characters_are_removed_but_text_and_emoji_stay():
    text = "Pro\u200bmo\u202eção\ufeff 🍕\U000e0041!"
    assert prompts.strip_invisible(text) == "Promoção 🍕!"
