"""Write ragkit's sample documents into docs/samples (deterministic: same bytes every run).

    python scripts/make_samples.py [OUT_DIR]

The folder holds the documents only (so that ingesting it ingests nothing else); the
questions each one answers are in docs/samples.md.

Needs only the standard library and python-docx (installed with ragkit). The PDF is written
byte by byte with the standard Helvetica font, so no PDF library is needed.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "docs" / "samples"

LLAMAS_MD = """\
# Llamas: a field guide

Llamas are South American camelids kept for wool, meat and as pack animals. This guide
covers where they come from, how big they grow and how to keep them healthy.

## Origins

Llamas were domesticated in the Andes about 4,500 years ago, descending from the wild
guanaco. The Inca empire relied on large llama caravans to carry goods along its
mountain roads, because the animals cope well with thin air at high altitude.

Today most of the world's llamas still live in Bolivia, Peru, Ecuador, Chile and
Argentina, though herds are now kept on farms in North America, Europe and Australia.

## Size and body

An adult llama weighs between 130 and 200 kg and stands 1.7 to 1.8 metres tall at the
head. Llamas have two padded toes on each foot, which makes them sure-footed on rocks
and gentle on fragile pasture.

### Llama or alpaca?

| trait | llama | alpaca |
|---|---|---|
| height at the shoulder | 1.1 to 1.2 m | 0.8 to 0.9 m |
| weight | 130 to 200 kg | 48 to 90 kg |
| fibre | coarser, used for rope and rugs | fine, prized for knitwear |
| ears | long and banana-shaped | short and spear-shaped |

## Care

- Llamas are herd animals: never keep a single llama on its own.
- A llama can carry 25 to 30 percent of its body weight for up to 30 km a day.
- Shear the fleece every one or two years, in late spring.
- Trim the toenails about every two months.

When annoyed, a llama flattens its ears and may spit, usually at other llamas rather than
at people. A guard llama placed with sheep will chase off foxes and stray dogs.
"""

SOLAR_SYSTEM_HTML = """\
<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>A short tour of the Solar System</title></head>
<body>
<h1>A short tour of the Solar System</h1>
<p>The Solar System formed about 4.6 billion years ago from a collapsing cloud of gas and
dust. It holds the Sun, eight planets, their moons, dwarf planets such as Pluto, and
countless asteroids and comets.</p>
<h2>The inner planets</h2>
<p>Mercury is the smallest planet and the closest to the Sun; a year there lasts only 88
Earth days. Venus rotates backwards compared with most planets, so on Venus the Sun rises
in the west. Its thick carbon dioxide atmosphere makes it the hottest planet, at about
465 degrees Celsius.</p>
<p>Earth is the only planet known to support life. Mars is a cold desert world whose
Olympus Mons is the tallest volcano in the Solar System, about 22 km high.</p>
<h2>The giant planets</h2>
<p>Jupiter is the largest planet: more than 1,300 Earths would fit inside it. Jupiter has
95 officially recognised moons, among them Ganymede, the largest moon in the Solar
System. The Great Red Spot is a storm wider than Earth that has raged for centuries.</p>
<p>Saturn is famous for its bright rings of ice and rock. Uranus spins on its side, tilted
by about 98 degrees, and Neptune has the fastest winds measured on any planet, over
2,000 km per hour.</p>
<h2>Moons at a glance</h2>
<table>
<thead><tr><th>Planet</th><th>Known moons</th><th>Largest moon</th></tr></thead>
<tbody>
<tr><td>Earth</td><td>1</td><td>the Moon</td></tr>
<tr><td>Mars</td><td>2</td><td>Phobos</td></tr>
<tr><td>Jupiter</td><td>95</td><td>Ganymede</td></tr>
<tr><td>Saturn</td><td>146</td><td>Titan</td></tr>
</tbody>
</table>
</body>
</html>
"""

TEA_DOCX = [
    ("Title", "A brief history of tea"),
    ("Heading 1", "Origins in China"),
    ("Normal", "Tea has been drunk in China for more than two thousand years. Legend credits "
               "the emperor Shen Nong with the first cup, when leaves blew into his boiling "
               "water around 2737 BC."),
    ("Normal", "During the Tang dynasty the scholar Lu Yu wrote The Classic of Tea, the first "
               "book devoted to growing, preparing and drinking it."),
    ("Heading 1", "Tea reaches Europe"),
    ("Normal", "Dutch traders brought tea to Europe in the early 1600s. Tea reached Britain in "
               "the 1650s, when London coffee houses began to sell it as an exotic drink."),
    ("Heading 2", "Tea at the English court"),
    ("Normal", "Catherine of Braganza popularised tea at the English court after she married "
               "Charles II in 1662. Drinking tea soon became a sign of refinement among the "
               "aristocracy."),
    ("Heading 2", "Afternoon tea"),
    ("Normal", "Anna, Duchess of Bedford, is said to have invented afternoon tea in the 1840s "
               "to bridge the long gap between lunch and a late dinner."),
    ("Heading 1", "Tea today"),
    ("Normal", "Tea is now the most widely consumed drink in the world after water. India and "
               "China together grow more than half of the world's tea, and Assam and Darjeeling "
               "are among the best-known growing regions."),
]

VOLCANO_PAGES = [
    [
        "Volcanoes of the world",
        "",
        "A volcano is an opening in the crust where molten rock,",
        "ash and gases escape from below the surface.",
        "",
        "Shield volcanoes",
        "Shield volcanoes are broad and gently sloping, built by",
        "runny basalt lava that flows a long way before it cools.",
        "Mauna Loa is the largest active volcano on Earth.",
        "It rises about 4,169 metres above sea level in Hawaii.",
        "",
        "Stratovolcanoes",
        "Stratovolcanoes are steep cones of alternating ash and",
        "lava layers. Mount Fuji and Mount St. Helens are examples.",
    ],
    [
        "Famous eruptions",
        "",
        "The 1883 eruption of Krakatoa was heard 4,800 km away.",
        "Its explosions and tsunamis killed more than 36,000 people.",
        "Ash in the upper atmosphere turned sunsets red worldwide.",
        "",
        "In the year 79 the eruption of Mount Vesuvius buried the",
        "Roman towns of Pompeii and Herculaneum under ash.",
        "",
        "Measuring eruptions",
        "The Volcanic Explosivity Index runs from 0 to 8.",
        "Each step is roughly ten times more ejected material.",
    ],
]

GIANT_PANDA_MD = """\
# 大熊猫

大熊猫是中国特有的珍稀动物，被誉为“国宝”。它们性情温和，外表黑白相间，深受世界各地人们的喜爱。

## 分布与栖息地

大熊猫主要分布在中国四川、陕西和甘肃的山区。它们生活在海拔一千二百米到三千四百米之间的竹林中，那里气候凉爽湿润。

目前，野生大熊猫的数量约为一千八百多只。为了保护它们，中国建立了大熊猫国家公园。

## 饮食习惯

大熊猫每天要花十到十六个小时吃竹子！一只成年大熊猫每天要吃十二到三十八公斤的竹子。虽然它们属于食肉目，但食物中百分之九十九都是竹子。

为什么大熊猫要吃这么多竹子？因为竹子的营养很低，大熊猫只能消化其中大约百分之二十。

## 身体特征

成年大熊猫体重约为一百公斤左右，体长一点二米到一点八米。刚出生的大熊猫幼崽只有一百克左右，大约是母亲体重的千分之一。

- 大熊猫的前掌有一块特别的“伪拇指”，可以帮助它们抓握竹子。
- 大熊猫的寿命在野外约为二十年；在人工饲养下可以超过三十年。
"""

GREAT_WALL_TXT = """\
长城

长城是中国古代伟大的防御工程，也是世界上最著名的建筑之一。一九八七年，长城被列入《世界遗产名录》。

长城始建于春秋战国时期，当时各个诸侯国为了防御，在边境修筑城墙。秦始皇统一中国后，把各国的长城连接起来，形成了“万里长城”。

今天人们看到的长城大多是明朝修建的。明长城全长约八千八百五十公里，东起辽宁的虎山，西到甘肃的嘉峪关。

修建长城用了大量的砖、石头和泥土。在一些地方，工匠们还在泥浆中加入糯米汁，使城墙更加坚固。

长城上每隔一段距离就有一座烽火台。敌人来时，守军点燃烽火，消息可以很快传到远方。

八达岭长城位于北京西北，是游客最多的一段长城；慕田峪长城则以风景秀丽著称。
"""

COFFEE_TXT = """\
Notes on coffee

Coffee was first cultivated in Yemen in the 15th century, where Sufi monks drank it to
stay awake during night prayers. The legend of Kaldi, an Ethiopian goat herder who noticed
his goats dancing after eating coffee cherries, is older but impossible to verify.

From the port of Mocha, coffee spread to Mecca, Cairo and Istanbul. The first coffee
house in Europe opened in Venice in 1645, and London had hundreds of them by 1700.

The two species grown for drinking are arabica and robusta. Arabica grows at higher
altitude and tastes sweeter; robusta has about twice as much caffeine and resists pests
better. Brazil is the largest producer of coffee in the world, followed by Vietnam.

Espresso is brewed at about 9 bars of pressure, forcing hot water through finely ground
coffee in 25 to 30 seconds. A cappuccino adds steamed milk and a thick layer of foam.

Green coffee beans are roasted at around 200 degrees Celsius. Light roasts keep more of
the bean's acidity; dark roasts taste more bitter and smoky.
"""

def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[list[str]]) -> bytes:
    """A minimal PDF 1.4: Helvetica text, one line per Tj, correct xref offsets."""
    n_pages = len(pages)
    # objects: 1 catalog, 2 pages, 3 font, then (page, content) per page
    page_ids = [4 + 2 * i for i in range(n_pages)]
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: (f"<< /Type /Pages /Kids [{' '.join(f'{p} 0 R' for p in page_ids)}] "
            f"/Count {n_pages} >>").encode(),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    }
    for i, lines in enumerate(pages):
        page_id, content_id = page_ids[i], page_ids[i] + 1
        ops = ["BT", "/F1 12 Tf", "16 TL", "72 760 Td"]
        for line in lines:
            ops.append(f"({_pdf_escape(line)}) Tj T*" if line else "T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects[page_id] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {content_id} 0 R >>"
        ).encode()
        objects[content_id] = (
            f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream"
        )
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for num in sorted(objects):
        offsets[num] = out.tell()
        out.write(f"{num} 0 obj\n".encode() + objects[num] + b"\nendobj\n")
    xref = out.tell()
    size = max(objects) + 1
    out.write(f"xref\n0 {size}\n0000000000 65535 f \n".encode())
    for num in range(1, size):
        out.write(f"{offsets[num]:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def make_docx(paragraphs: list[tuple[str, str]]) -> bytes:
    """A Word file via python-docx, with fixed dates and zip timestamps (deterministic)."""
    import docx

    document = docx.Document()
    props = document.core_properties
    fixed = dt.datetime(2026, 1, 1)
    props.created = props.modified = props.last_printed = fixed
    props.author = props.last_modified_by = "ragkit"
    props.revision = 1
    for style, text in paragraphs:
        document.add_paragraph(text, style=style)
    raw = io.BytesIO()
    document.save(raw)
    # re-zip with a fixed timestamp so the bytes do not depend on the clock
    src = zipfile.ZipFile(io.BytesIO(raw.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            fixed_info = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            fixed_info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed_info, src.read(info.filename))
    return out.getvalue()


def main(out: Path = HERE) -> None:
    """Write the samples into ``out`` (default docs/samples)."""
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {
        "llamas.md": LLAMAS_MD.encode(),
        "solar_system.html": SOLAR_SYSTEM_HTML.encode(),
        "tea_history.docx": make_docx(TEA_DOCX),
        "volcanoes.pdf": make_pdf(VOLCANO_PAGES),
        "giant_panda_zh.md": GIANT_PANDA_MD.encode(),
        "great_wall_zh.txt": GREAT_WALL_TXT.encode(),
        "coffee_notes.txt": COFFEE_TXT.encode(),
    }
    for name, data in files.items():
        (out / name).write_bytes(data)
        print(f"{name:20} {len(data):6d} bytes")


if __name__ == "__main__":
    import sys

    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
