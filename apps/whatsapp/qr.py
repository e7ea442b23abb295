"""The QR code as an image the page can show: providers give either a data URI (Evolution's
``base64``) or only the raw pairing string, which is drawn here as an SVG (reportlab, no network)."""
from __future__ import annotations

import base64


def qr_image_uri(value: str, size: int = 320) -> str:
    """A data URI for ``value``: returned as is when it already is an image, else rendered."""
    if not value:
        return ""
    if value.startswith("data:image/"):
        return value
    from reportlab.graphics import renderSVG
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing

    widget = QrCodeWidget(value, barWidth=size, barHeight=size, barBorder=2)
    drawing = Drawing(size, size)
    drawing.add(widget)
    svg = renderSVG.drawToString(drawing)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
