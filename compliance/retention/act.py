"""The destruction act and journal extract of a run (Roskomnadzor order No. 179).

The act is a DOCX file (python-docx): people must add the names, positions
and signatures of those responsible (item г), which a Word document lets them
do on paper or with an e-signature, and Cyrillic needs no embedded fonts. The
extract is also given as CSV for spreadsheets. Both are stored with the run
and deleted three years after destruction.

The act names subjects as the law asks (by lead id and phone pseudonym, or by
full name if the policy says so); the journal entries it quotes carry ids and
codes only.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from b24app import crypto
from compliance.models import JournalEntry
from compliance.retention.archive import CATEGORY_LABELS
from compliance.retention.models import DestructionAct, RetentionRun, RunLead
from compliance.retention.policy import policy_for
from compliance.retention.run import system_code

REASONS = {
    "retention_period_ended": "истёк срок хранения необработанного лида "
    "(цель обработки достигнута, ч. 7 ст. 5, ч. 4 ст. 21 152-ФЗ)",
    "class_period_ended": "истёк срок хранения, установленный политикой оператора",
    "consent_withdrawn": "отзыв согласия субъектом (ч. 5 ст. 21 152-ФЗ)",
}
METHOD = (
    "Удаление записи лида из CRM Битрикс24 через REST API (crm.lead.delete) "
    "с проверкой, что запись больше не находится; уничтожение архивной копии "
    "в базе данных приложения удалением её ключа шифрования и шифртекста "
    "(криптографическое стирание)."
)
RECYCLE_BIN = (
    "Битрикс24 помещает удалённые элементы CRM в Корзину, где они хранятся до "
    "30 дней, если Корзина включена; очистить её может только администратор "
    "портала, в REST API способа очистки нет. Удаление через REST без очистки "
    "Корзины уничтожением не является: до подписания акта администратор "
    "очищает Корзину CRM (или подтверждает, что она отключена), удаляет "
    "историю чатов Открытых линий и файлы этих лидов."
)
PAPER = "Не применимо: обработка автоматизированная, бумажные носители не уничтожались."
EXTRACT_HEADER = [
    "seq",
    "entry_hash",
    "subject",
    "categories",
    "system",
    "reason",
    "destroyed_on",
]


@dataclass(frozen=True)
class ActLine:
    subject: str
    categories: list[str]
    reason: str
    destroyed_on: str
    deleted_on: str


def act_lines(run: RetentionRun) -> list[ActLine]:
    policy = policy_for(run.portal)
    purpose = f"retention-act:{run.portal.member_id}"
    lines = []
    for row in RunLead.objects.filter(purged_run=run).order_by("lead_id"):
        subject = row.subject_ref or f"lead#{row.lead_id}"
        if policy.act_names and row.subject_name_sealed:
            subject = (
                f"{crypto.unseal(row.subject_name_sealed, purpose=purpose)}, {subject}"
            )
        lines.append(
            ActLine(
                subject=subject,
                categories=list(row.categories),
                reason=row.reason,
                destroyed_on=(row.purged_at or timezone.now()).date().isoformat(),
                deleted_on=row.deleted_at.date().isoformat() if row.deleted_at else "",
            )
        )
    return lines


def extract_rows(run: RetentionRun) -> list[list[str]]:
    """The journal extract: the five fields of order No. 179 from the entries."""
    seqs = list(
        RunLead.objects.filter(purged_run=run, journal_seq__isnull=False).values_list(
            "journal_seq", flat=True
        )
    )
    entries = JournalEntry.objects.filter(portal=run.portal, seq__in=seqs).order_by(
        "seq"
    )
    rows = []
    for entry in entries:
        details = json.loads(entry.details)
        rows.append(
            [
                str(entry.seq),
                entry.entry_hash,
                entry.subject,
                ";".join(details.get("categories", [])),
                str(details.get("system", "")),
                str(details.get("reason", "")),
                str(details.get("destroyed_on", "")),
            ]
        )
    return rows


def extract_csv(run: RetentionRun) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXTRACT_HEADER)
    writer.writerows(extract_rows(run))
    return buffer.getvalue()


def act_make(run: RetentionRun) -> DestructionAct:
    """Build and store the run's act and extract; once per run."""
    existing = DestructionAct.objects.filter(run=run).first()
    if existing is not None:
        return existing
    lines = act_lines(run)
    number = f"{run.portal.member_id[:40]}-{run.run_date:%Y%m%d}-{run.pk}"
    docx = act_docx(run, number, lines)
    destroyed_on = run.finished_at.date() if run.finished_at else timezone.localdate()
    return DestructionAct.objects.create(
        run=run,
        portal=run.portal,
        number=number,
        destroyed_count=len(lines),
        docx=docx,
        csv=extract_csv(run),
        sha256=hashlib.sha256(docx).hexdigest(),
        keep_until=DestructionAct.keep_until_for(destroyed_on),
    )


def _categories_text(codes: list[str]) -> str:
    return ", ".join(CATEGORY_LABELS.get(code, code) for code in codes)


def act_docx(run: RetentionRun, number: str, lines: list[ActLine]) -> bytes:
    from docx import Document

    portal = run.portal
    policy = policy_for(portal)
    system = policy.system_name or (
        f"CRM Битрикс24 портала {portal.domain} и база данных приложения PDn Guard"
    )
    all_categories: list[str] = []
    for line in lines:
        all_categories.extend(c for c in line.categories if c not in all_categories)
    reasons = sorted({line.reason for line in lines})
    dates = sorted({line.destroyed_on for line in lines})

    doc = Document()
    doc.add_heading(f"Акт об уничтожении персональных данных № {number}", level=1)
    doc.add_paragraph(
        "Составлен по требованиям приказа Роскомнадзора от 28.10.2022 № 179."
    )
    operator, operator_address, processors = _parties(run)
    items = [
        ("а) Оператор", _or_blank(operator, portal.domain)),
        ("   Адрес оператора", _or_blank(operator_address)),
        ("б) Лица, обрабатывающие данные по поручению", processors),
        ("д) Категории уничтоженных данных", _categories_text(all_categories)),
        ("е) Бумажные носители", PAPER),
        ("ж) Информационная система", system),
        ("з) Способ уничтожения", METHOD),
        ("и) Причина уничтожения", "; ".join(REASONS.get(r, r) for r in reasons)),
        ("к) Дата уничтожения", ", ".join(dates)),
    ]
    for label, value in items:
        paragraph = doc.add_paragraph()
        paragraph.add_run(f"{label}: ").bold = True
        paragraph.add_run(value)

    doc.add_heading("в) Субъекты, чьи данные уничтожены", level=2)
    table = doc.add_table(rows=1, cols=6)
    header = ["№", "Субъект", "Категории", "Причина", "Удалён из CRM", "Уничтожен"]
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
    _append_rows(
        table,
        (
            [
                str(index),
                line.subject,
                _categories_text(line.categories),
                REASONS.get(line.reason, line.reason),
                line.deleted_on,
                line.destroyed_on,
            ]
            for index, line in enumerate(lines, start=1)
        ),
    )

    doc.add_heading("Что остаётся на стороне Битрикс24", level=2)
    doc.add_paragraph(RECYCLE_BIN)

    doc.add_heading("г) Лица, уничтожившие персональные данные", level=2)
    doc.add_paragraph(
        "Удаление выполнено автоматически приложением PDn Guard от имени "
        f"пользователя Битрикс24 id {portal.token_user_id or '—'} по политике "
        "хранения оператора. Ответственные лица:"
    )
    for _n in range(2):
        doc.add_paragraph(
            "ФИО ______________________  должность ______________________  "
            "подпись ____________"
        )

    doc.add_heading("Выгрузка из журнала регистрации событий", level=2)
    extract = extract_rows(run)
    table = doc.add_table(rows=1, cols=len(EXTRACT_HEADER))
    for cell, text in zip(table.rows[0].cells, EXTRACT_HEADER, strict=True):
        cell.text = text
    _append_rows(table, extract)
    doc.add_paragraph(
        f"Система (поле system): {system_code(portal)}. Записи журнала связаны "
        "цепочкой хешей; проверка — выгрузкой журнала для аудитора."
    )

    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _append_rows(table: Any, rows: Iterable[list[str]]) -> None:
    """Table rows written as XML: python-docx's row API is quadratic in rows,
    and an act may list ten thousand subjects."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    grid = table._tbl
    for values in rows:
        row = OxmlElement("w:tr")
        for text in values:
            cell, paragraph = OxmlElement("w:tc"), OxmlElement("w:p")
            run, node = OxmlElement("w:r"), OxmlElement("w:t")
            node.text = text
            node.set(qn("xml:space"), "preserve")
            run.append(node)
            paragraph.append(run)
            cell.append(paragraph)
            row.append(cell)
        grid.append(row)


def _parties(run: RetentionRun) -> tuple[str, str, str]:
    """Operator, its address and processors: the policy's, else the consent texts'."""
    policy = policy_for(run.portal)
    operator, address = policy.operator_name, policy.operator_address
    processors = []
    if policy.processor_name:
        processors.append(f"{policy.processor_name}, {policy.processor_address or '—'}")
    consent = getattr(run.portal, "consent_settings", None)
    if consent is not None:
        operator = operator or consent.operator_name
        address = address or consent.operator_address
        for item in consent.processors or []:
            if not policy.processor_name and isinstance(item, dict):
                processors.append(f"{item.get('name', '')}, {item.get('address', '')}")
    return operator, address, "; ".join(processors) or "не привлекались"


def _or_blank(value: str, default: str = "") -> str:
    return value or default or "______________________"


def act_text(act: DestructionAct) -> str:
    """All text of the stored act, paragraphs and table cells."""
    from docx import Document

    doc = Document(io.BytesIO(bytes(act.docx)))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(parts)
