"""A seeded chat corpus labelled by construction, for evaluation and tests.

Messages read like a small clinic's or salon's open-line chat: names in all
six cases (capitalised or not, surname first or last), phones in a dozen
writings, identifiers with valid check digits, e-mails, addresses and birth
dates, mixed with things that must stay: order numbers, prices, times,
appointment dates, and the words вера, надежда, любовь as plain words.
"""

import random
from dataclasses import dataclass, field
from functools import lru_cache

from pii.checksums import luhn_valid, oms_check, snils_check
from pii.kinds import Kind
from pii.names import parses
from pii.phones import phone_key

MALE = (
    "александр алексей андрей антон артем борис вадим виктор виталий владислав "
    "георгий григорий денис дмитрий евгений егор игорь илья кирилл константин "
    "максим михаил никита николай олег павел петр роман семен сергей степан "
    "тимур федор юрий ярослав"
).split()
FEMALE = (
    "алена алина анастасия анна валентина валерия галина дарья евгения екатерина "
    "елена елизавета жанна ирина карина кристина ксения лариса людмила маргарита "
    "марина мария наталья оксана ольга полина светлана софья татьяна ульяна юлия"
).split()
SURNAMES = (
    "иванов смирнов кузнецов попов васильев петров соколов михайлов новиков "
    "федоров морозов волков алексеев лебедев семенов егоров павлов козлов степанов "
    "николаев орлов андреев макаров никитин захаров зайцев соловьев борисов "
    "яковлев григорьев романов воробьев сергеев фролов александров дмитриев "
    "королев гусев киселев ильин максимов поляков сорокин виноградов ковалев "
    "белов медведев антонов тарасов жуков баранов филиппов комаров давыдов беляев "
    "герасимов богданов осипов сидоров матвеев титов марков миронов крылов "
    "куликов карпов власов мельников денисов гаврилов тихонов казаков афанасьев "
    "данилов савельев тимофеев фомин чернов абрамов мартынов ефимов федотов "
    "щербаков назаров калинин исаев чернышев быков маслов родионов коновалов "
    "лазарев воронин климов филатов пономарев голубев кудрявцев прохоров наумов "
    "потапов журавлев овчинников трофимов леонов соболев ермаков колесников "
    "гончаров емельянов никифоров грачев котов гришин ефремов архипов громов "
    "кириллов малышев панов моисеев румянцев акимов кондратьев бирюков горбунов "
    "анисимов еремин тихомиров галкин лукьянов михеев скворцов юдин белоусов "
    "нестеров симонов прокофьев харитонов князев цветков левин митрофанов воронов "
    "аксенов софронов мальцев логинов горшков савин краснов майоров демидов "
    "елисеев рыбаков сафонов калашников шубин зуев зимин"
).split()
CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct")
# Phrases that put a name into each case; {n} is the name.
CASE_FRAMES = {
    "nomn": ["Меня зовут {n}.", "Это {n}, по поводу записи.", "{n} придёт завтра."],
    "gent": ["Договор для {n} готов?", "Жду ответа от {n}.", "Нет ли {n} сегодня?"],
    "datv": ["Передайте {n}, что я перезвоню.", "Запишите к {n} на среду."],
    "accs": ["Запишите {n} на приём.", "Можно перенести {n} на пятницу?"],
    "ablt": ["Я говорила с {n} вчера.", "Хочу к мастеру вместе с {n}."],
    "loct": ["Вопрос о {n}, она записана?", "Речь о {n}, уточните время."],
}
HARD_NEGATIVES = [
    "Заказ № {order}, сумма {price} руб.",
    "Номер заказа {order}, оплата {price} ₽.",
    "Приём {date} в {time}, кабинет {room}.",
    "Вера в успех у нас есть!",
    "Надежда только на вас.",
    "Любовь к своему делу видна сразу.",
    "у меня есть надежда, что успеете",
    "Стоимость {price} рублей, скидка 10%.",
    "Перезвоните после {time}, пожалуйста.",
    "Артикул {order}, размер 42.",
    "Запись на {date}, к {time}.",
    "Спасибо, всё получила!",
]
STREETS = (
    "Ленина", "Мира", "Гагарина", "Садовая", "Лесная", "Советская",
    "Пушкина", "Кирова", "Молодёжная", "Школьная", "Новая", "Центральная",
)  # fmt: skip
TOWNS = ("Москва", "Казань", "Тверь", "Самара", "Пермь", "Омск", "Курск")
MONTHS = (
    "января", "февраля", "марта", "апреля", "мая", "июня", "июля",
    "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip
MAIL_HOSTS = ("mail.ru", "yandex.ru", "gmail.com", "bk.ru", "inbox.ru", "list.ru")
LATIN = str.maketrans(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    "abvgdeejziiklmnoprstufhccss_y_eua",
)


@dataclass
class Message:
    """One chat message with its gold spans: (start, end, kind, entity id)."""

    text: str
    spans: list[tuple[int, int, Kind, str]] = field(default_factory=list)


@dataclass
class _Person:
    first: str
    last: str
    patronymic: str
    gender: str
    ident: str


@lru_cache(maxsize=8192)
def _inflect(word: str, grammeme: str, gender: str, case: str) -> str:
    for p in parses(word):
        if grammeme in p.tag.grammemes and p.tag.case == "nomn":
            if grammeme != "Surn" and gender not in p.tag.grammemes:
                continue
            wanted = {case} if grammeme != "Surn" else {case, gender}
            form = p.inflect(wanted)
            if form is not None:
                return str(form.word)
    return word


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[tuple[int, int, Kind, str]] = []
        self.length = 0

    def text(self, value: str) -> None:
        self.parts.append(value)
        self.length += len(value)

    def pii(self, value: str, kind: Kind, ident: str) -> None:
        self.spans.append((self.length, self.length + len(value), kind, ident))
        self.text(value)

    def frame(self, frame: str, value: str, kind: Kind, ident: str) -> None:
        before, after = frame.split("{n}")
        self.text(before)
        self.pii(value, kind, ident)
        self.text(after)


class ChatGenerator:
    """Deterministic generator of labelled Russian chat dialogs."""

    def __init__(self, seed: int = 152) -> None:
        self.rng = random.Random(seed)
        self._count = 0

    # -- people ---------------------------------------------------------
    def person(self) -> _Person:
        rng = self.rng
        gender = rng.choice(("masc", "femn"))
        first = rng.choice(MALE if gender == "masc" else FEMALE)
        father = rng.choice(MALE)
        patronymic = father + ("ович" if gender == "masc" else "овна")
        for p in parses(father):
            if "Name" in p.tag.grammemes:
                forms = [
                    q.word
                    for q in parses(patronymic)
                    if "Patr" in q.tag.grammemes and q.is_known
                ]
                if not forms:
                    patronymic = ""
                break
        self._count += 1
        return _Person(
            first, rng.choice(SURNAMES), patronymic, gender, f"P{self._count}"
        )

    def name(self, person: _Person, case: str) -> str:
        rng = self.rng
        first = _inflect(person.first, "Name", person.gender, case)
        last = _inflect(person.last, "Surn", person.gender, case)
        patronymic = (
            _inflect(person.patronymic, "Patr", person.gender, case)
            if person.patronymic
            else ""
        )
        shape = rng.random()
        if shape < 0.4:
            words = [first, last]
        elif shape < 0.6 and patronymic:
            words = [last, first, patronymic]
        elif shape < 0.75 and patronymic:
            words = [first, patronymic]
        elif shape < 0.85:
            words = [last, first]
        else:
            words = [first]
        lower = rng.random() < 0.3
        if not lower:
            words = [w.capitalize() for w in words]
        if rng.random() < 0.1:
            words = [w.replace("е", "ё", 0) for w in words]
        return " ".join(words)

    # -- numbers --------------------------------------------------------
    def digits(self, n: int) -> str:
        return "".join(str(self.rng.randint(0, 9)) for _ in range(n))

    def phone(self) -> tuple[str, str]:
        rng = self.rng
        while True:
            code = rng.choice(["9" + self.digits(2), "495", "499", "812", "343", "800"])
            rest = self.digits(7)
            key = phone_key(code + rest, False)
            if key:
                break
        a, b, c = rest[:3], rest[3:5], rest[5:]
        writings = [
            f"8 ({code}) {a}-{b}-{c}",
            f"+7 {code} {a} {b} {c}",
            f"8{code}{rest}",
            f"7-{code}-{a}-{b}-{c}",
            f"+7({code}){rest}",
            f"8-{code}-{a}-{b}{c}",
            f"{code} {a} {b} {c}",
            f"+7{code}{rest}",
            f"8 {code} {a}-{b}-{c}",
            f"8({code}){a}-{b}-{c}",
            f"+7 ({code}) {a}-{b}-{c}",
            f"8.{code}.{a}.{b}.{c}",
        ]
        return rng.choice(writings), key

    def snils(self) -> str:
        first = f"{self.rng.randint(1_002_000, 999_999_999):09d}"
        d = first + snils_check(first)
        return self.rng.choice(
            [
                f"{d[:3]}-{d[3:6]}-{d[6:9]} {d[9:]}",
                d,
                f"{d[:3]} {d[3:6]} {d[6:9]} {d[9:]}",
            ]
        )

    def inn(self) -> str:
        from pii.checksums import inn_valid

        while True:
            d = self.digits(12 if self.rng.random() < 0.7 else 10)
            if d[0] != "0" and inn_valid(d):
                return d

    def card(self) -> str:
        while True:
            d = self.rng.choice(["2200", "2202", "4276", "5469", "2204"]) + self.digits(
                12
            )
            if luhn_valid(d):
                break
        return self.rng.choice([" ".join(d[i : i + 4] for i in range(0, 16, 4)), d])

    def oms(self) -> str:
        first = self.digits(15)
        return first + str(oms_check(first))

    def passport(self) -> str:
        s, n = self.digits(4), self.digits(6)
        return self.rng.choice(
            [f"{s[:2]} {s[2:]} {n}", f"{s} {n}", f"{s}{n}", f"{s[:2]} {s[2:]} № {n}"]
        )

    def birth_date(self) -> tuple[str, str]:
        rng = self.rng
        d, m, y = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1940, 2010)
        value = rng.choice(
            [
                f"{d:02d}.{m:02d}.{y}",
                f"{y}-{m:02d}-{d:02d}",
                f"{d} {MONTHS[m - 1]} {y} г.",
                f"{d}.{m}.{y}",
            ]
        )
        frame = rng.choice(
            [
                "Дата рождения {n}.",
                "д.р. {n}",
                "Родилась {n}, запишите.",
                "я родился {n}",
            ]
        )
        return frame, value

    # -- messages -------------------------------------------------------
    def _negative(self, b: _Builder) -> None:
        rng = self.rng
        template = rng.choice(HARD_NEGATIVES)
        b.text(
            template.format(
                order=self.digits(rng.choice([5, 6, 7])).lstrip("0") or "1",
                price=rng.choice(["1500", "15 000", "2 490", "990", "12500"]),
                date=f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.2025",
                time=f"{rng.randint(9, 19)}:{rng.choice(['00', '15', '30', '45'])}",
                room=rng.randint(1, 40),
            )
        )

    def _fragment(self, b: _Builder, people: list[_Person]) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.35:
            person = rng.choice(people)
            case = rng.choice(CASES)
            frame = rng.choice(CASE_FRAMES[case])
            value = self.name(person, case)
            if frame.startswith("{n}"):
                value = value[:1].upper() + value[1:]
            b.frame(frame, value, Kind.PERSON, person.ident)
        elif roll < 0.5:
            value, key = self.phone()
            frame = rng.choice(
                [
                    "Мой номер {n}.",
                    "тел.{n}",
                    "Звоните: {n}",
                    "т. {n}, Ватсап",
                    "{n} — это мобильный",
                    "перезвоните на {n}",
                ]
            )
            b.frame(frame, value, Kind.PHONE, key)
        elif roll < 0.58:
            person = rng.choice(people)
            local = (
                person.first.translate(LATIN)
                + rng.choice([".", "_", ""])
                + person.last.translate(LATIN)
            )
            value = f"{local}{rng.randint(1, 99)}@{rng.choice(MAIL_HOSTS)}"
            b.frame(
                rng.choice(["Почта {n}", "пишите на {n}, спасибо", "e-mail: {n}"]),
                value,
                Kind.EMAIL,
                value,
            )
        elif roll < 0.63:
            value = self.snils()
            b.frame(
                rng.choice(["СНИЛС {n}", "снилс: {n}.", "мой СНИЛС — {n}", "вот {n}"]),
                value,
                Kind.SNILS,
                value,
            )
        elif roll < 0.68:
            value = self.inn()
            b.frame(
                rng.choice(["ИНН {n}", "инн {n}, для чека", "Мой ИНН: {n}."]),
                value,
                Kind.INN,
                value,
            )
        elif roll < 0.73:
            value = self.card()
            b.frame(
                rng.choice(
                    [
                        "карта {n}",
                        "Оплачу картой {n}.",
                        "номер карты {n}",
                        "{n} — карта Мир",
                    ]
                ),
                value,
                Kind.CARD,
                value,
            )
        elif roll < 0.77:
            value = self.oms()
            b.frame(
                rng.choice(["полис ОМС {n}", "Полис: {n}", "номер полиса {n}."]),
                value,
                Kind.OMS,
                value,
            )
        elif roll < 0.82:
            value = self.passport()
            b.frame(
                rng.choice(["паспорт {n}", "Паспорт: {n}, выдан в 2015.", "пасп. {n}"]),
                value,
                Kind.PASSPORT,
                value,
            )
        elif roll < 0.86:
            frame, value = self.birth_date()
            b.frame(frame, value, Kind.BIRTH_DATE, value)
        elif roll < 0.9:
            street, house, flat = (
                rng.choice(STREETS),
                rng.randint(1, 120),
                rng.randint(1, 300),
            )
            value = rng.choice(
                [
                    f"г. {rng.choice(TOWNS)}, ул. {street}, д. {house}, кв. {flat}",
                    f"ул. {street}, д. {house}",
                    f"ул. {street} {house}, кв. {flat}",
                    f"пр-т {street}, д. {house}, кв. {flat}",
                ]
            )
            b.frame(
                rng.choice(["Адрес: {n}.", "живу по адресу {n}", "доставка на {n}"]),
                value,
                Kind.ADDRESS,
                value,
            )
        else:
            self._negative(b)

    def dialog(self, messages: int = 4) -> list[Message]:
        """A dialog whose messages share one to two people."""
        people = [self.person() for _ in range(self.rng.randint(1, 2))]
        out = []
        for _ in range(messages):
            b = _Builder()
            if self.rng.random() < 0.3:
                b.text(self.rng.choice(["Здравствуйте! ", "Добрый день. ", "Привет, "]))
            for i in range(self.rng.randint(1, 3)):
                if i:
                    b.text(" ")
                self._fragment(b, people)
            out.append(Message("".join(b.parts), b.spans))
        return out

    def corpus(self, messages: int = 2000) -> list[list[Message]]:
        """Dialogs holding at least ``messages`` messages in all."""
        dialogs: list[list[Message]] = []
        total = 0
        while total < messages:
            dialog = self.dialog()
            dialogs.append(dialog)
            total += len(dialog)
        return dialogs
