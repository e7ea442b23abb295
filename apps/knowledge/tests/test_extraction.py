"""File sniffing and text extraction (no database)."""
from __future__ import annotations

import pytest

from apps.knowledge.extraction import (CSV, DOCX, PDF, TEXT, ExtractionError, file_text, html_text, pdf_text,
                                       sniff)

from .files import make_docx, make_exe, make_pdf, make_png, make_zip


def test_pdf_is_recognised_by_its_bytes_and_its_text_extracted():
    data = make_pdf(["Horário de funcionamento: segunda a sexta, das 8h às 19h.", "Aceitamos Pix e cartão."])
    assert sniff(data, name="whatever.txt").mime == PDF  # the name does not matter
    text, mime = file_text(data, name="x")
    assert mime == PDF
    assert "segunda a sexta, das 8h às 19h" in text and "Aceitamos Pix" in text


def test_docx_is_recognised_by_its_bytes_and_paragraphs_and_tables_extracted():
    data = make_docx(["Política de trocas", "Trocamos produtos em até 7 dias."],
                     table=[["Produto", "Preço"], ["Presunto", "R$ 59,90"]])
    assert sniff(data, name="trocas.pdf").mime == DOCX
    text, _ = file_text(data)
    assert "Trocamos produtos em até 7 dias." in text
    assert "Presunto | R$ 59,90" in text


@pytest.mark.parametrize("data, name, expected", [
    (make_exe(), "catalogo.pdf", "a Windows program"),
    (make_png(), "cardapio.pdf", "an image (PNG)"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 50, "foto.txt", "an image (JPEG)"),
    (make_zip({"a.txt": b"hello"}), "docs.docx", "a ZIP archive"),
    (make_zip({"xl/workbook.xml": b"<x/>"}), "planilha.csv", "an Excel spreadsheet"),
    (b"PK\x03\x04garbage", "x.docx", "a damaged ZIP archive"),
    (bytes(range(256)) * 4, "dados.txt", "not supported"),
], ids=["exe-renamed-pdf", "png-renamed-pdf", "jpeg-renamed-txt", "zip-renamed-docx", "xlsx-renamed-csv",
        "damaged-zip", "binary-renamed-txt"])
def test_unsupported_files_are_refused_with_a_message_saying_what_they_are(data, name, expected):
    with pytest.raises(ExtractionError) as info:
        sniff(data, name=name)
    assert expected in str(info.value)
    assert "PDF, DOCX, TXT, MD or CSV" in str(info.value)


def test_text_files_decode_as_utf8_or_windows_1252():
    assert sniff("Pão de queijo às 7h".encode(), name="a.txt").text == "Pão de queijo às 7h"
    assert sniff("Pão de queijo às 7h".encode("cp1252"), name="a.txt").text == "Pão de queijo às 7h"
    assert sniff(b"\xef\xbb\xbfcom BOM", name="a.md").text == "com BOM"
    assert sniff(b"# Title", name="a.md").mime == "text/markdown"
    assert sniff(b"plain", name="noext").mime == TEXT
    with pytest.raises(ExtractionError):
        sniff(b"", name="a.txt")


def test_csv_rows_become_labelled_paragraphs():
    data = "produto;preço;unidade\nPresunto cozido;59,90;kg\nMuçarela;54,90;kg\n".encode()
    assert sniff(data, name="precos.csv").mime == CSV
    text, mime = file_text(data, name="precos.csv")
    assert mime == CSV
    assert "produto: Presunto cozido\npreço: 59,90\nunidade: kg" in text
    assert "produto: Muçarela" in text


def test_a_damaged_or_empty_pdf_gives_a_readable_error():
    with pytest.raises(ExtractionError, match="could not be read"):
        pdf_text(b"%PDF-1.7\n" + b"this is not really a pdf" * 20)
    blank = make_pdf([" "])
    with pytest.raises(ExtractionError, match="No text was found"):
        pdf_text(blank)


def test_html_main_text_drops_navigation_and_scripts_and_keeps_paragraphs():
    html = """<!doctype html><html><head><title> Bom Sabor | Entregas </title>
      <style>.x{color:red}</style><script>var secret = "do not index";</script></head>
      <body><header><nav><a href="/">Início</a><a href="/loja">Loja</a></nav></header>
      <aside>Promoção relâmpago!</aside>
      <main><h1>Entregas</h1><p>Entregamos em <b>Jardim América</b> e Vila Nova.</p>
      <p>Taxa de R$&nbsp;7,00 &amp; frete grátis acima de R$ 150.</p><ul><li>Motoboy próprio</li></ul>
      <form><input name="q"><button>Buscar</button></form></main>
      <footer>© 2026 Bom Sabor</footer></body></html>"""
    title, text = html_text(html)
    assert title == "Bom Sabor | Entregas"
    assert "Entregamos em Jardim América e Vila Nova." in text
    assert "Taxa de R$ 7,00 & frete grátis acima de R$ 150." in text
    assert "- Motoboy próprio" in text
    assert "\n\n" in text
    for noise in ("Início", "Promoção", "secret", "color", "Buscar", "©"):
        assert noise not in text


def test_html_without_main_uses_the_body():
    title, text = html_text("<html><body><h1>Trocas</h1><div>Trocamos em até 7 dias.</div><br>Fim</body></html>")
    assert title == "Trocas"  # no <title>: the first heading
    assert "Trocamos em até 7 dias." in text and "Fim" in text
