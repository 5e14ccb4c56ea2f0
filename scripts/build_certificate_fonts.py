"""Rebuild shared/certificates/fonts/ from Debian's Noto packages (how the shipped files
were made; run by hand when the fonts change, then commit the files and SHA256SUMS).

    apt-get install fonts-noto-core fonts-noto-cjk   # 20201225-1, 1:20220127+repack1-1
    .venv/bin/python scripts/build_certificate_fonts.py

Noto Sans (Latin with every diacritic incl. Vietnamese, Greek, Cyrillic) and Noto Sans
Arabic are copied unchanged. Noto Sans CJK SC is cut down to what names use (CJK symbols,
kana, the Unified Ideographs with Extension A, fullwidth forms, Hangul): 12 MB instead of the
collection's 19 MB for four faces, and converted from CFF to TrueType outlines, which pypdf
and other text extractors read back reliably (weasyprint embeds CFF fonts with a custom CMap
some extractors mis-decode). It gets a space glyph, so a space between two CJK words is not
a .notdef. Takes about ten minutes (fontTools)."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont, newTable

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "shared" / "certificates" / "fonts"
CORE = Path("/usr/share/fonts/truetype/noto")
CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
COPIED = [
    "NotoSans-Regular.ttf",
    "NotoSans-Bold.ttf",
    "NotoSansArabic-Regular.ttf",
    "NotoSansArabic-Bold.ttf",
]
CJK_OUT = "NotoSansCJKsc-Regular-subset.ttf"
CJK_FACE = 2  # "Noto Sans CJK SC" in the collection
CJK_RANGES = [
    (0x3000, 0x30FF),  # CJK symbols and punctuation, hiragana, katakana
    (0x3400, 0x4DBF),  # CJK Unified Ideographs Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xFF00, 0xFFEF),  # half- and fullwidth forms
    (0xAC00, 0xD7A3),  # Hangul syllables
    (0x1100, 0x11FF),  # Hangul jamo
    (0x3130, 0x318F),  # Hangul compatibility jamo
]


def cjk_subset() -> TTFont:
    font = TTCollection(str(CJK)).fonts[CJK_FACE]
    opts = subset.Options()
    opts.layout_features = ["*"]
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    opts.hinting = False
    sub = subset.Subsetter(options=opts)
    sub.populate(unicodes=[u for a, b in CJK_RANGES for u in range(a, b + 1)])
    space = font.getBestCmap()[0x20]
    metrics = font["hmtx"][space], font["vmtx"][space]
    sub.subset(font)
    font = to_truetype(font)
    order = [*font.getGlyphOrder(), "space"]
    font.setGlyphOrder(order)
    font["glyf"].glyphOrder = order
    font["glyf"]["space"] = TTGlyphPen(None).glyph()
    font["hmtx"]["space"], font["vmtx"]["space"] = metrics
    for table in font["cmap"].tables:
        if table.isUnicode():
            table.cmap[0x20] = table.cmap[0xA0] = "space"
    font["maxp"].numGlyphs = len(order)
    return font


def to_truetype(font: TTFont) -> TTFont:
    """CFF outlines to quadratic TrueType ones (fontTools' otf2ttf recipe)."""
    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyphs)
        glyphs[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf[name] = pen.glyph()
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for field in (
        "maxZones",
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
        "maxComponentDepth",
    ):
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    font["post"].formatType = 3.0  # no glyph names: 30k of them would add a megabyte
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    font.sfntVersion = "\000\001\000\000"
    font["head"].glyphDataFormat = 0
    return font


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        shutil.copyfile(CORE / name, OUT / name)
    cjk_subset().save(str(OUT / CJK_OUT))
    sums = [
        f"{hashlib.sha256((OUT / n).read_bytes()).hexdigest()}  {n}"
        for n in sorted([*COPIED, CJK_OUT])
    ]
    (OUT / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    print("\n".join(sums))
    return 0


if __name__ == "__main__":
    sys.exit(main())
