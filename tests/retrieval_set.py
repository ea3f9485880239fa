"""A small BEIR-format retrieval set written by the project itself (MIT, like ragkit).

36 documents: 12 English prose (for paraphrase queries, which share few words with their
answer), 12 English technical notes full of model numbers and error codes (for exact-term
queries), 12 Chinese. 18 queries: 6 paraphrase, 6 exact-term, 6 Chinese, each with one relevant
document (grade 1).

    python tests/retrieval_set.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DOCS: dict[str, tuple[str, str]] = {
    # -- English prose ---------------------------------------------------------------------
    "en-cats": ("Feline behaviour", "Cats knead soft blankets, slowly blink at people they "
                "trust and rub their cheeks against furniture and legs to leave their scent. A "
                "purring cat curled on a lap is showing contentment and attachment."),
    "en-sleep": ("Rest and recovery", "Adults need seven to nine hours of rest each night. "
                 "Skipping rest weakens memory, slows reaction time and raises the risk of heart "
                 "disease; a regular bedtime and a dark, cool bedroom help."),
    "en-bread": ("Sourdough baking", "A sourdough loaf rises with wild yeast and lactic "
                 "bacteria kept alive in a starter of flour and water. Long fermentation gives "
                 "the crumb its open holes and the crust its sour tang."),
    "en-bees": ("Pollinators", "Honeybees carry pollen between blossoms while collecting "
                "nectar, which lets orchards and many vegetable crops set fruit. Colonies have "
                "declined because of mites, pesticides and the loss of wild flowers."),
    "en-volcano": ("Eruptions", "Magma rises through cracks in the crust and gathers in a "
                   "chamber; when pressure from dissolved gases exceeds the strength of the rock "
                   "above, it bursts out as lava, ash and pumice."),
    "en-tides": ("Ocean tides", "The moon's gravity pulls the oceans into two bulges, so most "
                 "coasts see the sea rise and fall twice a day; when sun and moon line up the "
                 "range is largest, the spring tides."),
    "en-rainbow": ("Light and water", "Sunlight entering a raindrop bends, reflects off the "
                   "back of the drop and bends again on the way out, splitting white light into "
                   "its colours from red to violet."),
    "en-compost": ("Garden compost", "Kitchen peelings, leaves and grass clippings break down "
                   "into dark crumbly humus when microbes have air and moisture; turning the "
                   "heap every few weeks speeds the process."),
    "en-inflation": ("Rising prices", "When the general level of prices climbs, each unit of "
                     "money buys fewer goods; central banks raise interest rates to cool "
                     "spending and bring the rate back toward two percent."),
    "en-migration": ("Bird journeys", "Arctic terns fly from the far north to Antarctica and "
                     "back every year, navigating by the sun, the stars and the earth's magnetic "
                     "field, the longest yearly journey of any animal."),
    "en-coffee": ("Coffee roasting", "Green coffee beans turn brown in the roaster as sugars "
                  "caramelise; a light roast keeps fruity acidity while a dark roast tastes "
                  "bitter and smoky."),
    "en-glacier": ("Ice on the move", "Compacted snow becomes dense ice that creeps downhill "
                   "under its own weight, carving U-shaped valleys and leaving ridges of rock "
                   "debris called moraines."),
    # -- English technical, exact terms -----------------------------------------------------
    "tech-zx9000": ("ZX-9000 pump manual", "Error E42 on the ZX-9000 means the impeller "
                    "sensor lost its signal. Power the unit down, reseat connector J7 and "
                    "restart; if E42 returns, replace sensor part KT-118."),
    "tech-zx7000": ("ZX-7000 pump manual", "Error E17 on the ZX-7000 means the inlet pressure "
                    "is low. Open valve V2 fully and bleed the air from the line before "
                    "restarting the pump."),
    "tech-router": ("RT-AX58 router notes", "Firmware 3.0.0.4.386 for the RT-AX58 fixes the "
                    "WPA3 roaming bug. Hold the WPS button for 10 seconds to restore the "
                    "factory configuration."),
    "tech-printer": ("LaserJet M404dn faults", "Code 49.4C02 on the M404dn is a firmware "
                     "fault: update to version 002.2149A. Paper jam 13.A2.D2 means the duplex "
                     "path is blocked."),
    "tech-sql": ("PostgreSQL error notes", "SQLSTATE 40P01 is a deadlock detected between two "
                 "transactions; retry the transaction. SQLSTATE 23505 is a unique_violation on "
                 "an index such as orders_pkey."),
    "tech-http": ("HTTP status notes", "Status 429 Too Many Requests means the client passed "
                  "the rate limit; honour the Retry-After header. Status 503 means the server "
                  "is overloaded or down for maintenance."),
    "tech-kernel": ("Kernel parameters", "Set vm.swappiness=10 in /etc/sysctl.d/99-tuning.conf "
                    "to keep pages in memory longer, and fs.inotify.max_user_watches=524288 for "
                    "large source trees."),
    "tech-drug": ("Dosage card", "Amoxicillin 500 mg capsules: one capsule every 8 hours for "
                  "7 days. Do not combine with methotrexate; report a rash at once."),
    "tech-flight": ("Flight LH-454", "Flight LH-454 from Frankfurt to San Francisco leaves "
                    "gate Z25 at 13:40; boarding closes 20 minutes before departure."),
    "tech-invoice": ("Invoice INV-2024-0087", "Invoice INV-2024-0087 for 3,450.00 EUR is due "
                     "on 15 March; reference PO-55231 on the bank transfer."),
    "tech-gene": ("Gene notes", "Mutations in BRCA1 and BRCA2 raise the risk of breast cancer; "
                  "the TP53 gene encodes the p53 tumour suppressor protein."),
    "tech-isbn": ("Library record", "ISBN 978-0-262-03384-8 is the third edition of "
                  "Introduction to Algorithms, shelf mark QA76.6 .C662."),
    # -- Chinese ------------------------------------------------------------------------------
    "zh-greatwall": ("长城", "长城是中国古代修建的军事防御工程，东起山海关，西至嘉峪关，"
                     "全长两万多公里，明朝时大规模重修。"),
    "zh-panda": ("大熊猫", "大熊猫生活在四川、陕西和甘肃的山区竹林中，每天要吃十几公斤竹子，"
                 "是中国的国宝。"),
    "zh-tea": ("龙井茶", "西湖龙井是产于杭州的绿茶，以色绿、香郁、味甘、形美著称，"
               "清明前采摘的明前茶最为珍贵。"),
    "zh-palace": ("故宫", "故宫位于北京中轴线的中心，是明清两代的皇家宫殿，"
                  "有大小宫殿七十多座，现为故宫博物院。"),
    "zh-opera": ("京剧", "京剧形成于清代的北京，融合了徽剧和汉剧，"
                 "角色分为生、旦、净、丑四大行当，脸谱颜色代表人物性格。"),
    "zh-silk": ("丝绸之路", "丝绸之路是古代连接中国与地中海世界的商路，"
                "张骞出使西域后逐渐形成，运送丝绸、瓷器和香料。"),
    "zh-festival": ("中秋节", "中秋节在农历八月十五，人们赏月、吃月饼，寄托团圆的心愿。"),
    "zh-rice": ("水稻", "水稻原产于中国长江流域，袁隆平培育的杂交水稻大幅提高了单位面积产量。"),
    "zh-yangtze": ("长江", "长江是中国第一长河，全长约六千三百公里，三峡大坝建在湖北宜昌。"),
    "zh-paper": ("造纸术", "东汉的蔡伦改进了造纸术，用树皮、麻头、破布和旧渔网造纸，"
                 "是中国古代四大发明之一。"),
    "zh-medicine": ("中医", "中医通过望、闻、问、切四诊了解病情，常用针灸和草药调理身体。"),
    "zh-highspeed": ("高铁", "京沪高铁全长一千三百一十八公里，最高运营时速三百五十公里，"
                     "北京到上海最快约四个半小时。"),
}

QUERIES: dict[str, tuple[str, dict[str, int]]] = {
    # paraphrase: few or no words in common with the answer
    "q-para-1": ("how do kitties show they love their owners", {"en-cats": 1}),
    "q-para-2": ("what happens to your body if you do not get enough shut-eye",
                 {"en-sleep": 1}),
    "q-para-3": ("why are insects important for growing apples", {"en-bees": 1}),
    "q-para-4": ("what makes a mountain blow up", {"en-volcano": 1}),
    "q-para-5": ("why does the sea level at the beach change during the day", {"en-tides": 1}),
    "q-para-6": ("why does money lose its value over time", {"en-inflation": 1}),
    # exact terms: codes and names the embedding model has never seen
    "q-exact-1": ("ZX-9000 E42", {"tech-zx9000": 1}),
    "q-exact-2": ("SQLSTATE 40P01", {"tech-sql": 1}),
    "q-exact-3": ("49.4C02", {"tech-printer": 1}),
    "q-exact-4": ("INV-2024-0087 PO-55231", {"tech-invoice": 1}),
    "q-exact-5": ("vm.swappiness", {"tech-kernel": 1}),
    "q-exact-6": ("LH-454 gate", {"tech-flight": 1}),
    # Chinese
    "q-zh-1": ("大熊猫吃什么", {"zh-panda": 1}),
    "q-zh-2": ("长城东起哪里", {"zh-greatwall": 1}),
    "q-zh-3": ("京剧有哪些行当", {"zh-opera": 1}),
    "q-zh-4": ("杂交水稻是谁培育的", {"zh-rice": 1}),
    "q-zh-5": ("三峡大坝在哪里", {"zh-yangtze": 1}),
    "q-zh-6": ("京沪高铁的时速", {"zh-highspeed": 1}),
}


def write(folder: str | Path) -> Path:
    """Write corpus.jsonl, queries.jsonl and qrels/test.tsv into ``folder``."""
    root = Path(folder)
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    with (root / "corpus.jsonl").open("w", encoding="utf-8") as f:
        for doc_id, (title, text) in DOCS.items():
            f.write(json.dumps({"_id": doc_id, "title": title, "text": text},
                               ensure_ascii=False) + "\n")
    with (root / "queries.jsonl").open("w", encoding="utf-8") as f:
        for qid, (text, _) in QUERIES.items():
            f.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")
    with (root / "qrels" / "test.tsv").open("w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for qid, (_, rel) in QUERIES.items():
            for doc_id, grade in rel.items():
                f.write(f"{qid}\t{doc_id}\t{grade}\n")
    return root


if __name__ == "__main__":
    print(write(sys.argv[1]))
