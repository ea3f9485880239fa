"""Write a deterministic mixed-format corpus for ingestion benchmarks.

    python bench/make_corpus.py OUT_DIR [--files N] [--seed S]
    python bench/make_corpus.py OUT_DIR --mutate FRACTION [--seed S]

The first form writes N files (default 240) into OUT_DIR, in subfolders: md, txt, html, docx,
pdf, csv, xlsx, pptx, eml, rst and json, about a quarter of them in Chinese (never the PDFs,
which are plain ASCII Helvetica). Sizes vary from a few KB to 50-100 KB of text; the default
corpus holds about 1.3 M word-piece tokens (over 5,000 chunks of ~200 tokens). The same
arguments give the same bytes on every run and machine.

The second form rewrites FRACTION of the files already in OUT_DIR (at least one), chosen from
the seed, with new content of the same kind and size: for incremental-ingest benchmarks. The
new content is seeded from the file's current bytes, so a second mutation changes it again.

Needs the standard library, python-docx, openpyxl and python-pptx (all installed with
ragkit's unstructured extras). Prose is built from vocabularies with a seeded generator:
headings, sections, paragraphs, lists and tables, not one repeated sentence.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import io
import json
import random
import re
import sys
import zipfile
from collections import Counter
from email import policy
from email.message import EmailMessage
from pathlib import Path

# ---------------------------------------------------------------------------------------------
# vocabularies

DOMAINS = {
    "water": (
        "water treatment",
        [
            "filtration plant",
            "reservoir",
            "pumping station",
            "chlorine dosing unit",
            "sediment basin",
            "distribution network",
            "pressure valve",
            "turbidity sensor",
        ],
    ),
    "logistics": (
        "supply chain logistics",
        [
            "warehouse",
            "freight schedule",
            "container terminal",
            "routing algorithm",
            "inventory buffer",
            "last-mile fleet",
            "customs broker",
            "pallet scanner",
        ],
    ),
    "energy": (
        "renewable energy",
        [
            "wind farm",
            "battery array",
            "solar inverter",
            "grid interconnect",
            "heat pump",
            "load forecast",
            "transmission line",
            "substation",
        ],
    ),
    "health": (
        "public health",
        [
            "clinic network",
            "vaccination campaign",
            "patient registry",
            "triage protocol",
            "laboratory pipeline",
            "outbreak model",
            "nursing roster",
            "screening program",
        ],
    ),
    "finance": (
        "corporate finance",
        [
            "quarterly budget",
            "cash-flow model",
            "audit trail",
            "credit facility",
            "expense policy",
            "procurement ledger",
            "treasury desk",
            "revenue forecast",
        ],
    ),
    "software": (
        "software engineering",
        [
            "build pipeline",
            "message queue",
            "database index",
            "release train",
            "caching layer",
            "test harness",
            "deployment script",
            "service mesh",
        ],
    ),
    "farming": (
        "sustainable farming",
        [
            "irrigation canal",
            "seed bank",
            "soil survey",
            "crop rotation plan",
            "greenhouse",
            "grain silo",
            "compost facility",
            "orchard",
        ],
    ),
    "transit": (
        "urban transit",
        [
            "tram line",
            "bus depot",
            "ticketing system",
            "signal interlock",
            "timetable",
            "bike-share dock",
            "interchange station",
            "rolling stock",
        ],
    ),
    "education": (
        "school administration",
        [
            "curriculum review",
            "exam timetable",
            "library catalogue",
            "teacher training",
            "enrolment database",
            "science lab",
            "tutoring scheme",
            "parent survey",
        ],
    ),
    "climate": (
        "climate research",
        [
            "ice core archive",
            "ocean buoy",
            "carbon budget",
            "weather station",
            "satellite dataset",
            "glacier survey",
            "emission inventory",
            "flood model",
        ],
    ),
}

SUBJECTS = [
    "The operations team",
    "Our analysts",
    "The regional manager",
    "The steering committee",
    "A small working group",
    "The night shift",
    "Field engineers",
    "The board",
    "The quality office",
    "An external auditor",
    "The project lead",
    "Most contractors",
    "The planning department",
    "Two senior technicians",
    "The customer panel",
    "The maintenance crew",
    "A visiting inspector",
    "The data team",
    "Local partners",
    "The procurement office",
]
VERBS = [
    "reviewed",
    "replaced",
    "documented",
    "inspected",
    "redesigned",
    "measured",
    "postponed",
    "approved",
    "simplified",
    "monitored",
    "benchmarked",
    "audited",
    "upgraded",
    "questioned",
    "extended",
    "consolidated",
    "tested",
    "recalibrated",
    "budgeted for",
    "compared",
]
ADJECTIVES = [
    "ageing",
    "critical",
    "overloaded",
    "experimental",
    "redundant",
    "northern",
    "new",
    "temporary",
    "shared",
    "under-used",
    "seasonal",
    "automated",
    "legacy",
    "secondary",
    "modular",
    "coastal",
    "central",
    "backup",
    "low-cost",
    "high-capacity",
]
OUTCOMES = [
    "which cut downtime by {n} percent",
    "after {n} complaints in a single month",
    "ahead of the {season} peak",
    "because the old figures no longer matched reality",
    "at a cost of roughly {n} thousand euros",
    "within {n} working days",
    "so that reports reach the right people sooner",
    "despite a shortage of spare parts",
    "following the incident in {month}",
    "as the previous contract expired",
    "with help from {n} volunteers",
    "while the budget was still under discussion",
    "to meet the new safety rules",
    "and published the results internally",
    "although nobody had asked for it",
    "for the first time since {year}",
]
OPENERS = [
    "In {month},",
    "Last year,",
    "According to the latest report,",
    "During the audit,",
    "As a result,",
    "In practice,",
    "By contrast,",
    "Meanwhile,",
    "For the {season} season,",
    "After several delays,",
    "On balance,",
    "Since {year},",
    "",
    "",
    "",
    "",
]
CLAUSES = [
    "Costs rose faster than expected in the second half.",
    "The figures are provisional and will be revised next quarter.",
    "Several staff members raised concerns about the schedule.",
    "A follow-up review is planned for early next year.",
    "Nobody expects the change to be popular at first.",
    "The details are listed in the appendix.",
    "Feedback from the pilot sites was mostly positive.",
    "The same approach may work elsewhere with minor changes.",
]
HEADINGS = [
    "Background",
    "Current situation",
    "Key findings",
    "Risks and mitigation",
    "Budget overview",
    "Timeline",
    "Lessons learned",
    "Recommendations",
    "Open questions",
    "Stakeholders",
    "Methodology",
    "Results",
    "Next steps",
    "Summary",
    "Maintenance notes",
    "Staffing",
    "Performance indicators",
    "Incidents",
    "Procurement",
    "Outlook",
]
DOC_KINDS = [
    "Annual review",
    "Field report",
    "Internal memo",
    "Project brief",
    "Status update",
    "Technical note",
    "Audit summary",
    "Planning paper",
    "Meeting minutes",
    "Handbook",
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
SEASONS = ["winter", "spring", "summer", "autumn"]
PEOPLE = [
    "Alice Moreau",
    "Ben Okafor",
    "Chen Wei",
    "Dana Kowalski",
    "Elif Aydin",
    "Farid Haddad",
    "Grace Lindqvist",
    "Hugo Brandt",
    "Ines Ferreira",
    "Jonas Weber",
    "Kofi Mensah",
    "Lena Novak",
    "Mateo Rossi",
    "Nadia Petrova",
    "Omar Farouk",
    "Priya Nair",
]

ZH_DOMAINS = {
    "water": (
        "城市供水",
        ["自来水厂", "水库", "泵站", "管网", "净水设备", "水质监测点", "加压站", "沉淀池"],
    ),
    "logistics": (
        "物流运输",
        [
            "仓库",
            "配送中心",
            "集装箱码头",
            "运输车队",
            "库存系统",
            "分拣线",
            "报关流程",
            "冷链设备",
        ],
    ),
    "energy": (
        "新能源",
        [
            "风电场",
            "储能电站",
            "光伏电站",
            "变电站",
            "输电线路",
            "充电桩",
            "热泵系统",
            "负荷预测模型",
        ],
    ),
    "health": (
        "公共卫生",
        [
            "社区医院",
            "疫苗接种点",
            "病历系统",
            "检验中心",
            "急诊流程",
            "健康档案",
            "体检项目",
            "护理团队",
        ],
    ),
    "finance": (
        "财务管理",
        [
            "年度预算",
            "现金流报表",
            "审计记录",
            "采购台账",
            "报销制度",
            "税务申报",
            "资金计划",
            "成本中心",
        ],
    ),
    "software": (
        "软件开发",
        [
            "构建流水线",
            "消息队列",
            "数据库索引",
            "发布流程",
            "缓存层",
            "测试框架",
            "部署脚本",
            "监控平台",
        ],
    ),
    "farming": (
        "现代农业",
        ["灌溉渠", "种子库", "土壤检测", "轮作计划", "温室大棚", "粮仓", "果园", "农机合作社"],
    ),
    "transit": (
        "城市交通",
        [
            "地铁线路",
            "公交场站",
            "票务系统",
            "信号系统",
            "时刻表",
            "共享单车",
            "换乘枢纽",
            "有轨电车",
        ],
    ),
    "education": (
        "学校管理",
        [
            "课程改革",
            "考试安排",
            "图书馆",
            "教师培训",
            "学籍系统",
            "实验室",
            "课后辅导",
            "家长问卷",
        ],
    ),
    "climate": (
        "气候研究",
        [
            "冰芯样本",
            "海洋浮标",
            "碳排放清单",
            "气象站",
            "卫星数据",
            "冰川调查",
            "洪水模型",
            "降水记录",
        ],
    ),
}
ZH_SUBJECTS = [
    "运营团队",
    "我们的分析人员",
    "区域经理",
    "项目指导委员会",
    "一个小型工作组",
    "夜班人员",
    "现场工程师",
    "董事会",
    "质量管理部门",
    "外部审计师",
    "项目负责人",
    "多数承包商",
    "规划部门",
    "两位高级技术员",
    "客户代表",
    "维修班组",
    "数据团队",
    "当地合作伙伴",
]
ZH_VERBS = [
    "全面检查了",
    "重新设计了",
    "详细记录了",
    "更换了",
    "评估了",
    "推迟了",
    "批准了",
    "简化了",
    "持续监测了",
    "升级了",
    "扩建了",
    "整合了",
    "测试了",
    "重新校准了",
    "对比分析了",
    "优化了",
]
ZH_ADJ = [
    "老化的",
    "关键的",
    "超负荷运行的",
    "试验性的",
    "备用的",
    "北部的",
    "新建的",
    "临时的",
    "共用的",
    "自动化的",
    "旧有的",
    "模块化的",
    "沿海的",
    "中心的",
    "低成本的",
    "大容量的",
]
ZH_OUTCOMES = [
    "停机时间因此减少了百分之{n}",
    "此前一个月内收到了{n}起投诉",
    "以应对{season}季用量高峰",
    "因为原有数据已经不能反映实际情况",
    "总费用约为{n}万元",
    "用时{n}个工作日",
    "这样报告可以更快送到相关人员手中",
    "尽管备件一直短缺",
    "起因是{month}发生的事故",
    "原合同即将到期",
    "共有{n}名志愿者参与",
    "当时预算仍在讨论之中",
    "以符合新的安全规定",
    "并在内部公布了结果",
    "这是自{year}年以来的第一次",
]
ZH_OPENERS = [
    "{month}，",
    "去年，",
    "根据最新报告，",
    "在审计过程中，",
    "因此，",
    "实际上，",
    "与此同时，",
    "经过多次延误，",
    "总的来看，",
    "自{year}年以来，",
    "在{season}季，",
    "",
    "",
    "",
    "",
]
ZH_CLAUSES = [
    "下半年的成本增长快于预期",
    "这些数字只是初步结果，下季度还会修订",
    "部分员工对进度安排表示担忧",
    "明年年初将安排一次后续评估",
    "试点单位的反馈总体上是积极的",
    "详细情况见附录",
    "同样的做法稍作调整后也可用于其他地区",
    "很多人一开始并不看好这项改变",
]
ZH_HEADINGS = [
    "背景",
    "现状",
    "主要发现",
    "风险与应对",
    "预算概况",
    "时间安排",
    "经验教训",
    "建议",
    "待解决的问题",
    "相关方",
    "研究方法",
    "结果",
    "下一步工作",
    "总结",
    "维护记录",
    "人员配置",
    "绩效指标",
    "事故记录",
    "采购情况",
    "展望",
]
ZH_DOC_KINDS = [
    "年度报告",
    "现场调研报告",
    "内部备忘录",
    "项目简介",
    "进展通报",
    "技术说明",
    "审计摘要",
    "规划文件",
    "会议纪要",
    "工作手册",
]
ZH_MONTHS = [f"{m}月" for m in "一 二 三 四 五 六 七 八 九 十 十一 十二".split()]
ZH_SEASONS = ["冬", "春", "夏", "秋"]
ZH_PEOPLE = [
    "王芳",
    "李强",
    "张伟",
    "刘洋",
    "陈静",
    "杨帆",
    "赵磊",
    "黄丽",
    "周敏",
    "吴军",
    "徐婷",
    "孙浩",
]
ZH_END = "。。。。。。。！？；"

# format -> (subfolder, weight in a cycle of 48 files)
FORMATS = {
    "md": ("docs/notes", 6),
    "txt": ("docs/plain", 5),
    "html": ("web", 5),
    "docx": ("office/word", 5),
    "pdf": ("papers", 5),
    "csv": ("data/tables", 3),
    "xlsx": ("office/sheets", 3),
    "pptx": ("office/slides", 4),
    "eml": ("mail", 5),
    "rst": ("docs/manuals", 3),
    "json": ("data/records", 4),
}
FIXED_DATE = dt.datetime(2026, 1, 1)
NAME_RE = re.compile(r"_(\d{4})(_zh)?\.([a-z]+)$")


# ---------------------------------------------------------------------------------------------
# prose


class Prose:
    """Sentences, paragraphs and headings for one document (one domain, one language)."""

    def __init__(self, rng: random.Random, domain: str, zh: bool) -> None:
        self.rng, self.zh = rng, zh
        self.topic, self.things = (ZH_DOMAINS if zh else DOMAINS)[domain]

    def _fill(self, text: str) -> str:
        r = self.rng
        months, seasons = (ZH_MONTHS, ZH_SEASONS) if self.zh else (MONTHS, SEASONS)
        return text.format(
            n=r.randint(2, 95),
            month=r.choice(months),
            season=r.choice(seasons),
            year=r.randint(1998, 2025),
        )

    def sentence(self) -> str:
        r = self.rng
        if self.zh:
            s = (
                self._fill(r.choice(ZH_OPENERS))
                + r.choice(ZH_SUBJECTS)
                + r.choice(ZH_VERBS)
                + r.choice(ZH_ADJ)
                + r.choice(self.things)
            )
            if r.random() < 0.7:
                s += "，" + self._fill(r.choice(ZH_OUTCOMES))
            if r.random() < 0.2:
                s += "，" + r.choice(ZH_CLAUSES)
            return s + r.choice(ZH_END)
        if r.random() < 0.12:
            return r.choice(CLAUSES)
        opener = self._fill(r.choice(OPENERS))
        subject = r.choice(SUBJECTS)
        if opener:
            subject = subject[0].lower() + subject[1:]
        s = f"{opener} {subject}".strip()
        s += f" {r.choice(VERBS)} the {r.choice(ADJECTIVES)} {r.choice(self.things)}"
        if r.random() < 0.35:
            s += f" and the {r.choice(self.things)}"
        if r.random() < 0.75:
            s += ", " + self._fill(r.choice(OUTCOMES))
        return s + "."

    def paragraph(self, lo: int = 3, hi: int = 7) -> str:
        return ("" if self.zh else " ").join(
            self.sentence() for _ in range(self.rng.randint(lo, hi))
        )

    def heading(self) -> str:
        return self.rng.choice(ZH_HEADINGS if self.zh else HEADINGS)

    def title(self) -> str:
        kinds = ZH_DOC_KINDS if self.zh else DOC_KINDS
        if self.zh:
            return f"{self.topic}{self.rng.choice(kinds)}：{self.rng.choice(self.things)}"
        return f"{self.rng.choice(kinds)}: {self.topic}, the {self.rng.choice(self.things)}"

    def person(self) -> str:
        return self.rng.choice(ZH_PEOPLE if self.zh else PEOPLE)

    def sections(self, target: int) -> list[tuple[str, list[str]]]:
        """(heading, paragraphs) until about ``target`` bytes of UTF-8 text."""
        out: list[tuple[str, list[str]]] = []
        size = 0
        used: Counter[str] = Counter()
        while size < target:
            h = self.heading()
            used[h] += 1
            if used[h] > 1:
                h = f"{h} ({used[h]})" if not self.zh else f"{h}（{used[h]}）"
            paras = [self.paragraph() for _ in range(self.rng.randint(2, 5))]
            size += len(h.encode()) + sum(len(p.encode()) + 2 for p in paras)
            out.append((h, paras))
        return out

    def table(self, rows: int) -> tuple[list[str], list[list[str]]]:
        r = self.rng
        if self.zh:
            header = ["编号", "日期", "对象", "负责人", "金额（元）", "说明"]
        else:
            header = ["ID", "Date", "Asset", "Owner", "Amount (EUR)", "Notes"]
        body = []
        for k in range(rows):
            day = dt.date(2024, 1, 1) + dt.timedelta(days=r.randint(0, 700))
            body.append(
                [
                    f"R-{k + 1:04d}",
                    day.isoformat(),
                    r.choice(self.things),
                    self.person(),
                    f"{r.randint(100, 250000)}.{r.randint(0, 99):02d}",
                    self.sentence(),
                ]
            )
        return header, body


# ---------------------------------------------------------------------------------------------
# writers: each takes (prose, target bytes) and returns the file's bytes


_MODIFIED_RE = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _rezip(data: bytes) -> bytes:
    """Rewrite an OOXML zip with fixed timestamps and order, so bytes do not depend on the clock."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            fixed = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps "modified" at save time
                data = _MODIFIED_RE.sub(rb"\g<1>2026-01-01T00:00:00Z\g<2>", data)
            dst.writestr(fixed, data)
    return out.getvalue()


def _md_table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in body]
    return "\n".join(lines)


def write_md(p: Prose, target: int) -> bytes:
    r = p.rng
    parts = [f"# {p.title()}", "", p.paragraph(2, 4), ""]
    for h, paras in p.sections(target):
        parts += [f"## {h}", ""]
        for para in paras:
            parts += [para, ""]
        roll = r.random()
        if roll < 0.2:
            parts += [f"- {p.sentence()}" for _ in range(r.randint(3, 6))] + [""]
        elif roll < 0.3:
            parts += [_md_table(*p.table(r.randint(4, 12))), ""]
        elif roll < 0.4:
            parts += [f"### {p.heading()}", "", p.paragraph(), ""]
    return "\n".join(parts).encode()


def write_txt(p: Prose, target: int) -> bytes:
    title = p.title()
    parts = [title, "=" * min(len(title), 60) if not p.zh else "", ""]
    for h, paras in p.sections(target):
        parts += [h.upper(), ""]
        for para in paras:
            parts += [para, ""]
    return "\n".join(parts).encode()


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_html(p: Prose, target: int) -> bytes:
    r = p.rng
    title = _esc(p.title())
    lang = "zh-CN" if p.zh else "en"
    parts = [
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">',
        f"<title>{title}</title>\n</head>\n<body>",
        '<nav><a href="/">Home</a> | <a href="/reports">Reports</a></nav>',
        f"<article>\n<h1>{title}</h1>",
    ]
    for h, paras in p.sections(target):
        parts.append(f"<h2>{_esc(h)}</h2>")
        parts += [f"<p>{_esc(x)}</p>" for x in paras]
        roll = r.random()
        if roll < 0.2:
            parts.append(
                "<ul>"
                + "".join(f"<li>{_esc(p.sentence())}</li>" for _ in range(r.randint(3, 6)))
                + "</ul>"
            )
        elif roll < 0.35:
            header, body = p.table(r.randint(4, 15))
            rows = ["<tr>" + "".join(f"<th>{_esc(c)}</th>" for c in header) + "</tr>"]
            rows += ["<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in body]
            parts.append("<table>\n" + "\n".join(rows) + "\n</table>")
    parts += [
        "</article>",
        "<footer>Generated for the ragkit benchmark.</footer>",
        "</body>\n</html>\n",
    ]
    return "\n".join(parts).encode()


def write_docx(p: Prose, target: int) -> bytes:
    import docx

    r = p.rng
    document = docx.Document()
    props = document.core_properties
    props.created = props.modified = props.last_printed = FIXED_DATE
    props.author = props.last_modified_by = "ragkit"
    props.revision = 1
    document.add_heading(p.title(), level=1)
    for h, paras in p.sections(target):
        document.add_heading(h, level=2)
        for para in paras:
            document.add_paragraph(para)
        if r.random() < 0.15:
            for _ in range(r.randint(3, 5)):
                document.add_paragraph(p.sentence(), style="List Bullet")
        elif r.random() < 0.1:
            header, body = p.table(r.randint(3, 8))
            table = document.add_table(rows=1 + len(body), cols=len(header))
            for j, c in enumerate(header):
                table.cell(0, j).text = c
            for i, row in enumerate(body, 1):
                for j, c in enumerate(row):
                    table.cell(i, j).text = c
    raw = io.BytesIO()
    document.save(raw)
    return _rezip(raw.getvalue())


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[list[str]]) -> bytes:
    """A minimal PDF 1.4: Helvetica text, one line per Tj, correct xref offsets
    (as scripts/make_samples.py)."""
    n_pages = len(pages)
    page_ids = [4 + 2 * i for i in range(n_pages)]
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: (
            f"<< /Type /Pages /Kids [{' '.join(f'{p} 0 R' for p in page_ids)}] /Count {n_pages} >>"
        ).encode(),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    }
    for i, lines in enumerate(pages):
        page_id, content_id = page_ids[i], page_ids[i] + 1
        ops = ["BT", "/F1 11 Tf", "14 TL", "60 750 Td"]
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


def _wrap(text: str, width: int = 95) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return lines


def write_pdf(p: Prose, target: int) -> bytes:
    assert not p.zh, "PDFs are ASCII only"
    lines = [p.title(), ""]
    for h, paras in p.sections(target):
        lines += [h, ""]
        for para in paras:
            lines += _wrap(para) + [""]
    per_page = 50
    pages = [lines[i : i + per_page] for i in range(0, len(lines), per_page)]
    return make_pdf(pages)


def _table_rows(p: Prose, target: int) -> tuple[list[str], list[list[str]]]:
    header, _ = p.table(0)
    body: list[list[str]] = []
    size = 0
    while size < target:
        _, (row,) = p.table(1)
        row[0] = f"R-{len(body) + 1:05d}"
        if p.rng.random() < 0.5:
            row[-1] += ("" if p.zh else " ") + p.sentence()
        body.append(row)
        size += sum(len(c.encode()) + 1 for c in row)
    return header, body


def write_csv(p: Prose, target: int) -> bytes:
    header, body = _table_rows(p, target)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(body)
    return buf.getvalue().encode()


def write_xlsx(p: Prose, target: int) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.properties.creator = "ragkit"
    wb.properties.created = wb.properties.modified = FIXED_DATE
    wb.remove(wb.active)
    n_sheets = 1 + (target > 20000) + (target > 50000)
    for s in range(n_sheets):
        ws = wb.create_sheet(f"{'表' if p.zh else 'Sheet'}{s + 1}")
        header, body = _table_rows(p, target // n_sheets)
        ws.append(header)
        for row in body:
            ws.append(row)
    raw = io.BytesIO()
    wb.save(raw)
    return _rezip(raw.getvalue())


def write_pptx(p: Prose, target: int) -> bytes:
    from pptx import Presentation

    prs = Presentation()
    props = prs.core_properties
    props.created = props.modified = props.last_printed = FIXED_DATE
    props.author = props.last_modified_by = "ragkit"
    props.revision = 1
    slide = prs.slides.add_slide(prs.slide_layouts[0])
    slide.shapes.title.text = p.title()
    slide.placeholders[1].text = p.person()
    for h, paras in p.sections(target):
        slide = prs.slides.add_slide(prs.slide_layouts[1])
        slide.shapes.title.text = h
        body = slide.placeholders[1].text_frame
        body.text = paras[0]
        for para in paras[1:]:
            body.add_paragraph().text = para
        if p.rng.random() < 0.5:
            slide.notes_slide.notes_text_frame.text = p.paragraph(1, 3)
    raw = io.BytesIO()
    prs.save(raw)
    return _rezip(raw.getvalue())


def write_eml(p: Prose, target: int) -> bytes:
    r = p.rng
    msg = EmailMessage(policy=policy.SMTP)
    sender, to = p.person(), p.person()

    def ascii_name(name: str) -> str:
        return re.sub(r"[^a-z]", "", name.lower()) or f"user{r.randint(1, 99)}"

    msg["From"] = f"{sender} <{ascii_name(sender)}@example.org>"
    msg["To"] = f"{to} <{ascii_name(to)}@example.org>"
    msg["Subject"] = p.title()
    day = FIXED_DATE - dt.timedelta(days=r.randint(1, 600), minutes=r.randint(0, 1440))
    msg["Date"] = day.strftime("%a, %d %b %Y %H:%M:%S +0000")
    msg["Message-ID"] = f"<{r.getrandbits(64):016x}@example.org>"
    greeting = f"{to}，你好：" if p.zh else f"Hi {to.split()[0]},"
    parts = [greeting, ""]
    for h, paras in p.sections(target):
        parts += [f"{h}：" if p.zh else f"{h}:", ""]
        parts += [x for para in paras for x in (para, "")]
    parts += ["祝好，" if p.zh else "Best regards,", sender]
    msg.set_content("\n".join(parts), charset="utf-8", cte="base64" if p.zh else "quoted-printable")
    return msg.as_bytes()


def write_rst(p: Prose, target: int) -> bytes:
    r = p.rng

    def underline(text: str, ch: str) -> str:
        width = sum(2 if ord(c) > 0x2E80 else 1 for c in text)
        return ch * width

    title = p.title()
    parts = [underline(title, "="), title, underline(title, "="), "", p.paragraph(2, 3), ""]
    for h, paras in p.sections(target):
        parts += [h, underline(h, "-"), ""]
        for para in paras:
            parts += [para, ""]
        if r.random() < 0.25:
            parts += [f"* {p.sentence()}" for _ in range(r.randint(3, 5))] + [""]
        if r.random() < 0.1:
            parts += [".. note::", "", "   " + p.sentence(), ""]
    return "\n".join(parts).encode()


def write_json(p: Prose, target: int) -> bytes:
    r = p.rng
    records = []
    size = 0
    while size < target:
        day = dt.date(2024, 1, 1) + dt.timedelta(days=r.randint(0, 700))
        rec = {
            "id": f"doc-{len(records) + 1:05d}",
            "title": p.title(),
            "author": p.person(),
            "date": day.isoformat(),
            "tags": [r.choice(p.things) for _ in range(r.randint(1, 3))],
            "sections": [
                {"heading": p.heading(), "text": p.paragraph()} for _ in range(r.randint(1, 4))
            ],
            "rating": r.randint(1, 5),
        }
        size += len(json.dumps(rec, ensure_ascii=False).encode())
        records.append(rec)
    return (json.dumps(records, ensure_ascii=False, indent=2) + "\n").encode()


WRITERS = {
    "md": write_md,
    "txt": write_txt,
    "html": write_html,
    "docx": write_docx,
    "pdf": write_pdf,
    "csv": write_csv,
    "xlsx": write_xlsx,
    "pptx": write_pptx,
    "eml": write_eml,
    "rst": write_rst,
    "json": write_json,
}


# ---------------------------------------------------------------------------------------------
# plan


def _cycle(seed: int) -> list[str]:
    cycle = [fmt for fmt, (_, weight) in FORMATS.items() for _ in range(weight)]
    random.Random(f"cycle:{seed}").shuffle(cycle)
    return cycle


def spec(seed: int, i: int) -> tuple[str, str, bool, int, str]:
    """(format, domain, chinese, target bytes, relative path) of file ``i``: a function of
    (seed, i) only, so --mutate can rebuild it from the file name."""
    fmt = _cycle(seed)[i % 48]
    r = random.Random(f"spec:{seed}:{i}")
    domain = r.choice(sorted(DOMAINS))
    zh = fmt != "pdf" and r.random() < 0.28
    roll = r.random()
    if roll < 0.3:
        target = r.randint(1500, 8000)
    elif roll < 0.8:
        target = r.randint(9000, 26000)
    else:
        target = r.randint(50000, 95000)
    if zh:  # 3 bytes a character, about 1 token each: fewer bytes for the same token count
        target = target * 3 // 5
    folder = FORMATS[fmt][0]
    name = f"{domain}_{i:04d}{'_zh' if zh else ''}.{fmt}"
    return fmt, domain, zh, target, f"{folder}/{name}"


def render(seed: int, i: int, variant: str = "") -> tuple[str, bytes]:
    fmt, domain, zh, target, rel = spec(seed, i)
    rng = random.Random(f"text:{seed}:{i}:{variant}")
    return rel, WRITERS[fmt](Prose(rng, domain, zh), target)


def summary(out: Path) -> None:
    files = sorted(p for p in out.rglob("*") if p.is_file())
    by_fmt: Counter[str] = Counter()
    size_fmt: Counter[str] = Counter()
    zh = 0
    for f in files:
        by_fmt[f.suffix.lstrip(".")] += 1
        size_fmt[f.suffix.lstrip(".")] += f.stat().st_size
        zh += "_zh." in f.name
    total = sum(size_fmt.values())
    print(f"{out}: {len(files)} files ({zh} Chinese), {total:,} bytes ({total / 1e6:.1f} MB)")
    for fmt in sorted(by_fmt):
        print(f"  {fmt:5s} {by_fmt[fmt]:4d} files {size_fmt[fmt]:>12,} bytes")
    sizes = sorted(f.stat().st_size for f in files)
    if sizes:
        print(
            f"  sizes: min {sizes[0]:,} median {sizes[len(sizes) // 2]:,} max {sizes[-1]:,} bytes"
        )


def generate(out: Path, n: int, seed: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        rel, data = render(seed, i)
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def mutate(out: Path, fraction: float, seed: int) -> list[str]:
    files = sorted(p for p in out.rglob("*") if p.is_file() and NAME_RE.search(p.name))
    if not files:
        raise SystemExit(f"{out}: no corpus files to mutate")
    k = min(len(files), max(1, round(fraction * len(files))))
    chosen = random.Random(f"mutate:{seed}:{fraction}").sample(files, k)
    changed = []
    for path in sorted(chosen):
        i = int(NAME_RE.search(path.name).group(1))
        if out / spec(seed, i)[4] != path:
            raise SystemExit(f"{path}: not made with --seed {seed}")
        variant = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        _, data = render(seed, i, variant)
        path.write_bytes(data)
        changed.append(str(path.relative_to(out)))
    return changed


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--files", type=int, default=240)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--mutate",
        type=float,
        metavar="FRACTION",
        help="rewrite this fraction of the existing files in OUT instead",
    )
    args = ap.parse_args(argv)
    if args.mutate is not None:
        changed = mutate(args.out, args.mutate, args.seed)
        print(f"mutated {len(changed)} files:")
        for rel in changed:
            print(f"  {rel}")
        return
    generate(args.out, args.files, args.seed)
    summary(args.out)


if __name__ == "__main__":
    sys.exit(main())
