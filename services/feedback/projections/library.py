"""The case library (案例库): resolved cases, anonymised, searchable, for training (DOMAIN.md step 7).

**What an entry keeps.** Codes: category, subcategory, severity, channel, the store's region and business kind
(jewelry, wine, ...: from the master data, resolved when the event is applied), whether the complaint was
well-founded, the responsible parties, root cause, the accepted remedies (codes and amounts, never their notes),
which deadlines were met, flags, the outcome of the follow-up and its score, how long it took (hours) and the
month of resolution. Texts, each scrubbed (``scrub``): the description and demand (already masked by intake), the
findings, the reason for the responsibility, the resolution summary and the closing summary.

**What it drops.** Case id and number (an entry has its own keyed id), store, merchant, staff and customer ids,
order, SKU, batch and serial, amounts paid, exact instants, every actor. Texts that are risky are omitted rather
than scrubbed: the survey comment, refusal and counter-offer reasons (the customer's own words, never masked by
intake), remedy and accountability notes and the accountability measure (they are about an identifiable member of
staff), interview, task, evidence and emergency notes.

**Order independence.** A row is folded from the set of a case's events (each kind of fact from its latest
recorded event, ties broken by the values; counts and flag sets are order-free), so live and rebuilt rows are
byte-identical. Visibility is decided from that fold: an entry shows once the case is resolved, and leaves while a
reopening (``CaseReopened``, ``ResolutionReopened``, ``AppealLodged``) is later than the latest ``CaseResolved``,
or once the complaint is withdrawn.

**Search.** ``search_text`` is the normalised text (NFKC, lower case, single spaces) of the texts and the Chinese
and English labels of the codes. A query is cut into words by jieba; an entry matches when every word occurs in it
(``LIKE '%word%'``). Plain SQL, the same on SQLite and PostgreSQL; fine for thousands of entries, not millions.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import re
import unicodedata
from datetime import datetime
from typing import Any

import jieba
import jieba.posseg as pseg

from services.feedback import labels
from services.feedback.projections.base import BatchRunner, Projection, RowsOf, Table
from services.feedback.projections.facts import Fact, as_fact, dump, load
from shared.contracts import EventMessage
from shared.keys import blind_index_key
from shared.masterdata import MasterData
from shared.privacy import mask_contact
from shared.settings import Settings
from shared.sidetables import LIKE_ESCAPE, containing

jieba.setLogLevel(logging.WARNING)

# --- scrubbing free text -------------------------------------------------------------------------------------------

# Common Chinese surnames (the compound ones first, so 欧阳 is not read as 欧).
_COMPOUND_SURNAMES = "欧阳|司马|上官|诸葛|东方|皇甫|尉迟|公孙|慕容|令狐|长孙|夏侯|宇文|司徒|端木"
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖萧田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔"
    "钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊"
    "葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝"
    "路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全"
    "佟应臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
_SURNAME = f"(?:{_COMPOUND_SURNAMES}|[{_SURNAMES}])"
_HONORIFICS = "先生|女士|小姐|太太|夫人|师傅|老师|经理|主管|主任|店长|阿姨|大爷|大妈|大姐|大哥|同学|医生|律师"
# 王女士, 王芳女士, 欧阳先生: a surname and up to two more characters right before a title.
_NAME_BEFORE_TITLE = re.compile(f"{_SURNAME}[\u4e00-\u9fff]{{0,2}}(?=(?:{_HONORIFICS}))")
# Words jieba tags as names that are not (顾客 is tagged ``nr``).
_NOT_NAMES = frozenset(
    "店员 营业员 导购 售货员 销售员 销售 客服 顾客 客户 消费者 员工 工作人员 经理 店长 主管 技师 师傅 快递员 司机".split()
)
# 姓王: a surname named on its own.
_SURNAME_ALONE = re.compile(f"(?<=姓){_SURNAME}")
# Mr Smith, Mrs. Jane Doe, Dr. Li.
_ENGLISH_TITLE = re.compile(
    r"\b(Mr|Mrs|Ms|Miss|Mx|Dr|Madam|Sir)(\.?\s+)[A-Z][A-Za-z'-]+(?:\s+[A-Z][A-Za-z'-]+)?", flags=re.UNICODE
)


def scrub(text: str | None) -> str | None:
    """``text`` with anything that looks like contact details or a person's name replaced.

    On top of intake's masking (phone numbers, e-mail addresses, identity card numbers: ``[phone]``, ``[email]``,
    ``[id]``) it replaces with ``[name]`` a name before a title (王女士 -> [name]女士, by a list of common
    surnames), after 姓 (姓王 -> 姓[name]), an English name after Mr/Ms/Dr (Mr [name]) and every word jieba's
    part-of-speech tagger takes for a person's name (店员张伟 -> 店员[name], 小刘 -> 小[name]).

    Deliberately eager: a word starting with a common surname right before a title goes too (向经理 ->
    [name]经理). Still best effort: a name the tagger does not know and that has no title, or an address written
    out, stays; texts likely to hold them are left out of the library rather than scrubbed (see the module's
    documentation). Deterministic for one jieba version (rebuilt rows equal live ones).
    """
    if text is None:
        return None
    return _scrub(text)


@functools.lru_cache(maxsize=16_384)
def _scrub(text: str) -> str:
    # Cached by the text: a pure function of it (for one jieba version), so a text seen again (a rebuild replays every
    # complaint; many complaints share wording) skips the part-of-speech tagger and gives the same string.
    text = mask_contact(text)
    text = _ENGLISH_TITLE.sub(lambda m: f"{m.group(1)}{m.group(2)}[name]", text)
    text = _NAME_BEFORE_TITLE.sub("[name]", text)
    text = _SURNAME_ALONE.sub("[name]", text)
    return "".join(
        "[name]" if flag.startswith("nr") and word not in _NOT_NAMES else word for word, flag in pseg.lcut(text)
    )


# --- searching -----------------------------------------------------------------------------------------------------

_STOPWORDS = frozenset("的 了 吗 呢 吧 啊 是 在 和 与 及 或 也 都 就 很 a an the of to and or in on at is are was for".split())


def normalise(text: str) -> str:
    """Text as the search compares it: NFKC (full-width letters become ASCII), lower case, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def query_words(query: str) -> list[str]:
    """The words of a search query: jieba's cut of the normalised query, without punctuation and stop words."""
    words = []
    for word in jieba.lcut(normalise(query)):
        word = word.strip()
        if not word or word in _STOPWORDS or all(unicodedata.category(c)[0] in "PZS" for c in word):
            continue
        if word not in words:
            words.append(word)
    return words


# --- folding a case's events into its library row ------------------------------------------------------------------

_REOPENINGS = ("CaseReopened", "ResolutionReopened", "AppealLodged")
_FLAGS = {
    "RepeatComplaintLinked": "repeat",
    "CaseEscalated": "escalated",
    "EmergencyDeclared": "emergency",
    "SlaBreached": "sla_breached",
    "FraudEstablished": "fraud",
}
_TEXTS = ("description", "demand", "findings", "resolution_summary", "closing_summary", "subcategory")


def new_row(case_id: str) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "received": None,
        "classification": None,
        "severity": None,
        "validity": None,
        "responsibility": None,
        "findings": None,
        "offers": {},
        "accepted": {},
        "resolved": None,
        "resolutions": 0,
        "reopened_at": None,
        "reopenings": 0,
        "survey": None,
        "closed": None,
        "withdrawn_at": None,
        "flags": [],
        "clocks": {},
        "event_count": 0,
    }


def fold(
    row: dict[str, Any] | None, message: EventMessage | Fact, stores: dict[str, tuple[str, str]]
) -> dict[str, Any]:
    """The library row after one more event (pure); the same set of events gives the same row in any order.

    ``stores`` maps a store id to its (region, business). Only scrubbed texts and codes enter the row.
    """
    return fold_into(load(dump(row)) if row is not None else None, as_fact(message), stores)


def fold_into(row: dict[str, Any] | None, fact: Fact, stores: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """``fold`` on a row the caller owns (changed in place and returned; a new row for None): no copy per event."""
    payload, kind = fact.payload, fact.type
    if row is None:
        row = new_row(fact.case_id)
    at = fact.at.iso
    if kind == "ComplaintReceived":
        region, business = stores.get(payload.get("store_id") or "", (None, None))
        _latest(
            row,
            "received",
            at,
            channel=payload.get("channel"),
            region=region,
            business=business,
            description=scrub(payload.get("description")),
            demand=scrub(payload.get("demand")),
        )
    elif kind in ("ComplaintTriaged", "CategoryOverridden"):
        _latest(row, "classification", at, category=payload.get("category"), subcategory=payload.get("subcategory"))
        if kind == "ComplaintTriaged":
            _latest(row, "severity", at, severity=payload.get("severity"))
    elif kind == "SeverityChanged":
        _latest(row, "severity", at, severity=payload.get("severity"))
    elif kind == "ValidityDecided":
        _latest(row, "validity", at, well_founded=payload.get("well_founded"))
    elif kind == "ResponsibilityDetermined":
        _latest(
            row,
            "responsibility",
            at,
            primary=payload.get("primary"),
            secondary=sorted(payload.get("secondary") or []),
            reason=scrub(payload.get("reason")),
        )
    elif kind == "FindingsRecorded":
        _latest(row, "findings", at, findings=scrub(payload.get("findings")), root_cause=payload.get("root_cause"))
    elif kind == "ProposalOffered":
        offer = {
            "at": at,
            "remedies": [{"remedy": r.get("remedy"), "amount": r.get("amount")} for r in payload.get("remedies", [])],
            "total": payload.get("total"),
        }
        key = str(payload.get("proposal"))
        if key not in row["offers"] or _key(offer) > _key(row["offers"][key]):
            row["offers"][key] = offer
    elif kind == "CustomerAccepted":
        key = str(payload.get("proposal"))
        row["accepted"][key] = _later(row["accepted"].get(key), at)
    elif kind == "CaseResolved":
        _latest(row, "resolved", at, summary=scrub(payload.get("summary")))
        row["resolutions"] += 1
    elif kind in _REOPENINGS:
        row["reopened_at"] = _later(row["reopened_at"], at)
        row["reopenings"] += int(kind == "CaseReopened")
    elif kind == "SurveyAnswered":
        _latest(row, "survey", at, score=payload.get("score"), anything_left=payload.get("anything_left"))
    elif kind == "CaseClosed":
        _latest(row, "closed", at, outcome=payload.get("outcome"), summary=scrub(payload.get("summary")))
    elif kind == "ComplaintWithdrawn":
        row["withdrawn_at"] = _later(row["withdrawn_at"], at)
    elif kind == "ClockStopped":
        name = str((payload.get("clock") or {}).get("name"))
        stopped = {"at": at, "met": bool(payload.get("met"))}
        if name not in row["clocks"] or _key(stopped) > _key(row["clocks"][name]):
            row["clocks"][name] = stopped
    flag = _FLAGS.get(kind)
    if flag:
        row["flags"] = sorted({*row["flags"], flag})
    row["event_count"] += 1
    return row


def _key(fact: dict[str, Any]) -> tuple[datetime, str]:
    """Which of two versions of a fact wins: the later recorded; at the same instant, the larger values."""
    values = {k: v for k, v in fact.items() if k != "at"}
    return datetime.fromisoformat(fact["at"]), dump(values)


def _later(current: str | None, at: str) -> str:
    return at if current is None or datetime.fromisoformat(at) > datetime.fromisoformat(current) else current


def _latest(row: dict[str, Any], field: str, at: str, **values: Any) -> None:
    fact = {"at": at, **values}
    if row[field] is None or _key(fact) > _key(row[field]):
        row[field] = fact


def visible(row: dict[str, Any]) -> bool:
    """Whether the case belongs in the library: resolved, not reopened since, not withdrawn."""
    resolved = row["resolved"]
    if resolved is None or row["withdrawn_at"] is not None:
        return False
    reopened = row["reopened_at"]
    return reopened is None or datetime.fromisoformat(resolved["at"]) > datetime.fromisoformat(reopened)


def entry(row: dict[str, Any], key: bytes = b"") -> dict[str, Any]:
    """The public, anonymised entry of a library row (whether or not it is visible)."""
    return {"entry_id": entry_id(row["case_id"], key), **_public(row)}


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """An entry less its id."""
    received, resolved = row["received"] or {}, row["resolved"] or {}
    classification, findings = row["classification"] or {}, row["findings"] or {}
    resolved_at = _at(resolved.get("at"))
    closed = row["closed"] if row["closed"] and resolved_at and _at(row["closed"]["at"]) >= resolved_at else None
    survey = row["survey"] if row["survey"] and resolved_at and _at(row["survey"]["at"]) >= resolved_at else None
    responsibility = row["responsibility"]
    offer = _accepted_offer(row)
    received_at = _at(received.get("at"))
    return {
        "status": "closed" if closed else "resolved",
        "category": classification.get("category"),
        "subcategory": classification.get("subcategory"),
        "severity": (row["severity"] or {}).get("severity"),
        "channel": received.get("channel"),
        "region": received.get("region"),
        "business": received.get("business"),
        "well_founded": (row["validity"] or {}).get("well_founded"),
        "responsibility": (
            None
            if responsibility is None
            else {k: responsibility[k] for k in ("primary", "secondary", "reason")}
        ),
        "root_cause": findings.get("root_cause"),
        "description": received.get("description"),
        "demand": received.get("demand"),
        "findings": findings.get("findings"),
        "remedies": offer["remedies"] if offer else [],
        "remedy_total": offer["total"] if offer else None,
        "resolution_summary": resolved.get("summary"),
        "outcome": closed["outcome"] if closed else None,
        "satisfaction": survey["score"] if survey else None,
        "closing_summary": closed["summary"] if closed else None,
        "deadlines": {name: stop["met"] for name, stop in sorted(row["clocks"].items())},
        "flags": row["flags"],
        "reopened": row["reopenings"],
        "resolved_month": resolved_at.strftime("%Y-%m") if resolved_at else None,
        "hours_to_resolve": _hours(received_at, resolved_at),
        "hours_to_close": _hours(received_at, _at(closed["at"]) if closed else None),
    }


def entry_id(case_id: str, key: bytes = b"") -> str:
    """An entry's id: a keyed hash of its case id, so the library does not name the case."""
    return hmac.new(key, f"library:{case_id}".encode(), hashlib.sha256).hexdigest()[:24]


def search_text(row: dict[str, Any]) -> str:
    """What the text search looks in: the scrubbed texts and the labels of the codes, normalised."""
    public = _public(row)
    parts = [_normalised(public[name]) for name in _TEXTS if public[name]]
    reason = (public["responsibility"] or {}).get("reason")
    if reason:
        parts.append(_normalised(reason))
    for kind in ("category", "severity", "channel", "root_cause"):
        if public[kind]:
            parts.append(_code_words(kind, public[kind]))
    parts += [_code_words("remedy", line["remedy"], with_code=False) for line in public["remedies"]]
    return " ".join(part for part in parts if part)


@functools.lru_cache(maxsize=65_536)
def _normalised(text: str) -> str:
    # Normalised one text at a time (joined by one space, the same as normalising the joined text): codes, labels
    # and much wording repeat from case to case.
    return normalise(text)


@functools.lru_cache(maxsize=4_096)
def _code_words(kind: str, code: str, with_code: bool = True) -> str:
    words = [code] if with_code else []
    return normalise(" ".join([*words, labels.label(kind, code, "zh"), labels.label(kind, code, "en")]))


def _accepted_offer(row: dict[str, Any]) -> dict[str, Any] | None:
    """The offer the customer accepted last (by the time of acceptance, then the proposal number)."""
    accepted = [
        (_at(at), int(key) if key.isdigit() else -1, key) for key, at in row["accepted"].items() if key in row["offers"]
    ]
    return row["offers"][max(accepted)[2]] if accepted else None


def _at(iso: str | None) -> datetime | None:
    return datetime.fromisoformat(iso) if iso else None


def _hours(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 3600, 1)


class CaseLibrary(Projection):
    """The case library (案例库): resolved cases, anonymised, searchable."""

    name = "feedback_library"
    tables = {
        "entries": Table(
            {"case_id": "TEXT NOT NULL", "visible": "INTEGER NOT NULL", "category": "TEXT", "resolved_at": "TEXT",
             "search_text": "TEXT NOT NULL", "doc": "TEXT NOT NULL"},
            ("case_id",),
        ),
    }  # fmt: skip
    indexes = [
        "CREATE INDEX IF NOT EXISTS {prefix}_entries_by_category ON {entries} (visible, category, resolved_at)",
    ]

    def __init__(self, settings: Settings, **options: Any) -> None:
        super().__init__(settings, **options)
        master = MasterData.load(settings.master_data_dir)
        self.stores = {sid: (store.region, store.business) for sid, store in master.stores.items()}
        self.key = blind_index_key(settings)
        # jieba loads its dictionary on first use (about a second, once per process): here, not in the first batch,
        # so the consumer that feeds every read model is not held up by it.
        scrub("王女士")

    def new_state(self) -> dict[str, Any]:
        return {"row": None}

    def load(self, run: BatchRunner, case_ids: list[str]) -> dict[str, dict[str, Any]]:
        states = {case_id: self.new_state() for case_id in case_ids}
        sql = f"SELECT case_id, doc FROM {self.table['entries']} WHERE case_id IN ({{marks}})"
        for row in run.where_in(sql, case_ids):
            states[row["case_id"]]["row"] = load(row["doc"])
        return states

    def fold(self, state: dict[str, Any], fact: Fact) -> None:
        # The state owns its row (read from the store or new): folded in place.
        state["row"] = fold_into(state["row"], fact, self.stores)

    def case_rows(self, case_id: str, state: dict[str, Any], case_doc: str | None) -> RowsOf:
        row = state["row"]
        resolved = row["resolved"]["at"] if row["resolved"] else None
        category = (row["classification"] or {}).get("category")
        return (("entries", (case_id, int(visible(row)), category, resolved, search_text(row), dump(row))),)

    # --- reading ----------------------------------------------------------------------------------------------

    def search(
        self, category: str | None = None, query: str | None = None, limit: int = 20, offset: int = 0
    ) -> dict[str, Any]:
        """Visible entries, newest resolution first, filtered by category and by every word of ``query``."""
        where, params = ["visible = 1"], []
        if category:
            where.append("category = ?")
            params.append(category)
        words = query_words(query or "")
        for word in words:
            where.append(f"search_text LIKE ? {LIKE_ESCAPE}")
            params.append(containing(word))
        clause = " AND ".join(where)
        table = self.table["entries"]
        total = self.side.query(f"SELECT COUNT(*) AS n FROM {table} WHERE {clause}", params)[0]["n"]
        rows = self.side.query(
            f"SELECT doc FROM {table} WHERE {clause} ORDER BY resolved_at DESC, case_id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return {
            "total": int(total),
            "limit": limit,
            "offset": offset,
            "words": words,
            "entries": [entry(load(r["doc"]), self.key) for r in rows],
        }

    def rows(self) -> list[dict[str, Any]]:
        """Every stored row as stored (for checks: rebuilt and live rows must be identical)."""
        table = self.table["entries"]
        return self.side.query(
            f"SELECT case_id, visible, category, resolved_at, search_text, doc FROM {table} ORDER BY case_id"
        )
