"""What a file or a web page says, as plain text.

The type of an upload is sniffed from its bytes, never taken from its name or the browser's
Content-Type: a PDF starts with ``%PDF-``, a DOCX is a ZIP holding ``word/document.xml``, and a
TXT / MD / CSV is text that decodes (UTF-8, else Windows-1252 / Latin-1) with no NUL bytes and
hardly any control characters. Anything else is refused with a message naming what it looks like.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .chunking import clean_text

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TEXT = "text/plain"
MARKDOWN = "text/markdown"
CSV = "text/csv"


class ExtractionError(Exception):
    """The file or page cannot be turned into text; the message is readable by the tenant's staff."""


# Magic numbers of things people upload by mistake, to say what the file is instead of "unknown".
_KNOWN_BINARIES = [
    (b"MZ", gettext_lazy("a Windows program")),
    (b"\x7fELF", gettext_lazy("a program")),
    (b"\x89PNG\r\n\x1a\n", gettext_lazy("an image (PNG)")),
    (b"\xff\xd8\xff", gettext_lazy("an image (JPEG)")),
    (b"GIF87a", gettext_lazy("an image (GIF)")),
    (b"GIF89a", gettext_lazy("an image (GIF)")),
    (b"\x1f\x8b", gettext_lazy("a compressed archive (gzip)")),
    (b"7z\xbc\xaf\x27\x1c", gettext_lazy("a compressed archive (7z)")),
    (b"Rar!\x1a\x07", gettext_lazy("a compressed archive (RAR)")),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", gettext_lazy("an old Office document (.doc / .xls)")),
]


def _describe_binary(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _("an image (WebP)")
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1"):
        return _("an image (HEIC)")
    if head[4:8] == b"ftyp":
        return _("a video")
    for magic, label in _KNOWN_BINARIES:
        if head.startswith(magic):
            return str(label)
    return None


def _unsupported(what: str | None) -> ExtractionError:
    if what:
        return ExtractionError(_("This file is %(what)s, which is not supported. Upload a PDF, DOCX, TXT, MD "
                                 "or CSV file.") % {"what": what})
    return ExtractionError(_("This file type is not supported. Upload a PDF, DOCX, TXT, MD or CSV file."))


def decode_text(data: bytes) -> str | None:
    """``data`` as text when it is text (UTF-8, else Windows-1252, else Latin-1); None when it is
    binary (NUL bytes, or more than 1% control characters)."""
    if b"\x00" in data:
        return None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    controls = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\t\n\r\f") or 0x7f <= ord(ch) < 0xa0)
    if text and controls / len(text) > 0.01:
        return None
    return text


@dataclass
class Sniffed:
    mime: str
    text: str | None = None  # decoded already, for text files


def sniff(data: bytes, *, name: str = "") -> Sniffed:
    """The kind of file ``data`` is (see the module doc); ExtractionError when not supported."""
    if not data:
        raise ExtractionError(_("The file is empty."))
    head = data[:1024]
    if head.lstrip(b"\xef\xbb\xbf \t\r\n\x00").startswith(b"%PDF-"):
        return Sniffed(PDF)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError):
            raise _unsupported(_("a damaged ZIP archive")) from None
        if "word/document.xml" in names:
            return Sniffed(DOCX)
        if "xl/workbook.xml" in names:
            raise _unsupported(_("an Excel spreadsheet (export it as CSV)"))
        if "ppt/presentation.xml" in names:
            raise _unsupported(_("a PowerPoint presentation"))
        if "content.xml" in names and "mimetype" in names:
            raise _unsupported(_("an OpenDocument file (save it as DOCX)"))
        raise _unsupported(_("a ZIP archive"))
    text = decode_text(data)
    if text is None:  # binary: say what it looks like when we can tell
        raise _unsupported(_describe_binary(head))
    lowered = name.lower()
    mime = CSV if lowered.endswith(".csv") else MARKDOWN if lowered.endswith((".md", ".markdown")) else TEXT
    return Sniffed(mime, text)


def pdf_text(data: bytes) -> str:
    import pypdf
    from pypdf.errors import PdfReadError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise ExtractionError(_("The PDF is protected by a password."))
            except ExtractionError:
                raise
            except Exception:  # noqa: BLE001 - pypdf raises several kinds for unsupported encryption
                raise ExtractionError(_("The PDF is protected by a password.")) from None
        pages = [page.extract_text() or "" for page in reader.pages]
    except ExtractionError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError,
            RecursionError, AssertionError, ZeroDivisionError):
        raise ExtractionError(_("The PDF could not be read (it may be damaged).")) from None
    text = clean_text("\n\n".join(pages))
    if not text:
        raise ExtractionError(_("No text was found in the PDF (is it a scanned image? Text inside images "
                                "cannot be read)."))
    return text


def docx_text(data: bytes) -> str:
    import docx
    from docx.oxml.ns import qn

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception:  # noqa: BLE001 - python-docx raises zip, XML and KeyError alike
        raise ExtractionError(_("The DOCX file could not be read (it may be damaged).")) from None
    blocks: list[str] = []
    # Paragraphs and tables in document order (document.paragraphs alone would drop the tables).
    for element in document.element.body.iterchildren():
        if element.tag == qn("w:p"):
            text = "".join(node.text or "" for node in element.iter(qn("w:t")))
            if text.strip():
                blocks.append(text.strip())
        elif element.tag == qn("w:tbl"):
            for row in element.iter(qn("w:tr")):
                cells = ["".join(t.text or "" for t in cell.iter(qn("w:t"))).strip() for cell in row.iter(qn("w:tc"))]
                cells = [c for c in cells if c]
                if cells:
                    blocks.append(" | ".join(cells))
    text = clean_text("\n\n".join(blocks))
    if not text:
        raise ExtractionError(_("No text was found in the DOCX file."))
    return text


def csv_text(text: str) -> str:
    """A CSV with a header row as "column: value" lines, one paragraph per row, so every chunk
    still says what its numbers mean; anything that does not parse stays as it is."""
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
        rows = list(csv.reader(io.StringIO(text), dialect))
    except csv.Error:
        return text
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if len(rows) < 2 or len(rows[0]) < 2:
        return text
    header = [h.strip() for h in rows[0]]
    lines = []
    for row in rows[1:]:
        pairs = [f"{header[i] if i < len(header) and header[i] else '#' + str(i + 1)}: {cell.strip()}"
                 for i, cell in enumerate(row) if cell.strip()]
        lines.append("\n".join(pairs))
    return "\n\n".join(lines)


def file_text(data: bytes, *, name: str = "") -> tuple[str, str]:
    """(text, mime) of an uploaded file."""
    kind = sniff(data, name=name)
    if kind.mime == PDF:
        return pdf_text(data), kind.mime
    if kind.mime == DOCX:
        return docx_text(data), kind.mime
    text = kind.text or ""
    if kind.mime == CSV:
        text = csv_text(text)
    text = clean_text(text)
    if not text:
        raise ExtractionError(_("The file has no text."))
    return text, kind.mime


# --- HTML ------------------------------------------------------------------------------------------

_SKIP = {"script", "style", "noscript", "template", "svg", "nav", "header", "footer", "aside", "form",
         "iframe", "button", "select", "canvas", "object", "head"}
_BLOCK = {"p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4",
          "h5", "h6", "blockquote", "pre", "table", "tr", "td", "th", "figcaption", "address", "hr", "details",
          "summary", "body"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _MainText(HTMLParser):
    """Collects visible text by block, separately for <main>/<article> and for the whole body."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.skip = 0
        self.main = 0
        self.in_title = False
        self.title = ""
        self.h1 = ""
        self.in_h1 = False
        self.all_blocks: list[str] = []
        self.main_blocks: list[str] = []
        self._buffer: list[str] = []
        self._buffer_main = False

    def _flush(self):
        text = re.sub(r"[ \t\r\f\v]+", " ", "".join(self._buffer))
        text = "\n".join(line.strip() for line in text.split("\n")).strip()
        if text:
            self.all_blocks.append(text)
            if self._buffer_main:
                self.main_blocks.append(text)
        self._buffer = []
        self._buffer_main = self.main > 0

    def handle_starttag(self, tag, attrs):
        if tag == "title":
            self.in_title = True
            return
        if tag in _SKIP:
            if tag not in _VOID:
                self.skip += 1
            return
        if self.skip:
            return
        if tag in ("main", "article"):
            self._flush()
            self.main += 1
            self._buffer_main = True
        elif tag == "br":
            self._buffer.append("\n")
        elif tag in _BLOCK:
            self._flush()
        if tag == "li":
            self._buffer.append("- ")
        if tag == "h1":
            self.in_h1 = True

    def handle_startendtag(self, tag, attrs):
        if tag == "br" and not self.skip:
            self._buffer.append("\n")

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False
            return
        if tag in _SKIP:
            if tag not in _VOID and self.skip:
                self.skip -= 1
            return
        if self.skip:
            return
        if tag in _BLOCK or tag in ("main", "article"):
            self._flush()
        if tag in ("main", "article") and self.main:
            self.main -= 1
            self._buffer_main = self.main > 0
        if tag == "h1":
            self.in_h1 = False

    def handle_data(self, data):
        if self.in_title:
            self.title += data
            return
        if self.skip:
            return
        if self.in_h1 and len(self.h1) < 300:
            self.h1 += data
        self._buffer.append(data)

    def close(self):
        super().close()
        self._flush()


def html_text(html: str) -> tuple[str, str]:
    """(title, main text) of an HTML page: script, style, nav, header, footer, aside and forms
    dropped; the <main> / <article> content when it has substance, else the whole body; one
    paragraph per block element."""
    parser = _MainText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - html.parser is lenient; this is belt and braces
        pass
    main = "\n\n".join(parser.main_blocks)
    whole = "\n\n".join(parser.all_blocks)
    text = main if len(main) >= 200 or (main and len(main) >= 0.3 * len(whole)) else whole
    title = re.sub(r"\s+", " ", parser.title).strip() or re.sub(r"\s+", " ", parser.h1).strip()
    return title[:200], clean_text(text)
