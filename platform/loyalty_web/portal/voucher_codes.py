"""A voucher's code as a QR code and a Code 128 barcode, drawn on the server as SVG.

Both are served as ``data:`` images: the page's Content-Security-Policy allows
those and no inline styles, and the barcode library styles its bars inline. A till
scanner reads either; the QR code also suits a phone held under a camera."""

from __future__ import annotations

import base64
from io import BytesIO

import segno
from barcode import Code128
from barcode.writer import SVGWriter


def _data_uri(svg: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def qr_code_svg(code: str) -> str:
    """The voucher code as a QR code (medium error correction: a scratched screen
    protector still scans), as a data URI."""
    out = BytesIO()
    segno.make(code, error="m", micro=False).save(out, kind="svg", scale=8, border=4)
    return _data_uri(out.getvalue())


def barcode_svg(code: str) -> str:
    """The voucher code as a Code 128 barcode (what most till scanners read), as a
    data URI; the human-readable code is printed on the page beside it."""
    svg = Code128(code, writer=SVGWriter()).render(
        {"module_height": 14.0, "module_width": 0.3, "write_text": False, "quiet_zone": 4.0}
    )
    return _data_uri(svg)
