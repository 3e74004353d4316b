"""Writes the labelled privacy sets: realistic patient messages (en/es/zh) carrying synthetic HIPAA Safe Harbor
identifiers, each labelled with its type and exact value, and benign messages with no identifier at all.

  dev.jsonl      templates the scrubber was developed against
  heldout.jsonl  templates written at the same time but never used while tuning (an honest recall figure)
  benign.jsonl   health messages with numbers that are not identifiers (doses, readings, ages, years): what the
                 scrubber must leave alone

Every value is made up: names from invented surnames, 555-01xx phone numbers, TEST-NET IP addresses, example.*
domains, SSNs in the 9xx range that the SSA never issues. Deterministic (seeded). Usage: python evals/privacy/make_sets.py
"""

from __future__ import annotations

import itertools
import json
import random
import re
import string
from pathlib import Path

HERE = Path(__file__).resolve().parent
TYPES = ("NAME", "ADDRESS", "LOCATION", "ZIP", "DATE", "AGE", "PHONE", "FAX", "EMAIL", "SSN", "MRN", "HEALTH_PLAN",
         "ACCOUNT", "LICENSE", "VEHICLE", "DEVICE", "URL", "IP", "ID")

FIRST = {"en": ["Marisol", "Derek", "Priya", "Owen", "Tamsin", "Gideon", "Lena", "Caleb", "Ivy", "Rufus", "Nadia",
                "Hollis"],
         "es": ["Ximena", "Teodoro", "Rocío", "Anselmo", "Itzel", "Baltasar", "Maite", "Efraín", "Noemí", "Leandro"],
         "zh": ["小明", "丽华", "建国", "秀英", "志强", "晓燕", "海涛", "玉兰"]}
LAST = {"en": ["Quintanilla", "Vorhees", "Abernathy-Kole", "Fairweather", "Okonkwo", "Lindqvist", "Brannigan",
               "Thistlewood", "Marchetti", "Delacroix-Hale"],
        "es": ["Quiroga", "Villaseñor", "Echeverría", "Zubiaurre", "Arreola", "Santibáñez", "Olmedo", "Barrientos"],
        "zh": ["王", "李", "张", "刘", "陈", "杨", "赵", "黄"]}
STREETS = ["Evergreen Terrace", "Larkspur Lane", "Quarry Hill Road", "Old Mill Drive", "Juniper Court", "Harbor View Avenue"]
CITIES = ["Millbrook", "Ashford", "Cedar Falls", "Port Haven", "Glenwood Springs"]
CALLES = ["Calle Olmo", "Avenida Las Palmas", "Calle del Pozo", "Paseo de los Cedros", "Calle Jacarandas"]
CIUDADES = ["Tlaquepaque", "Zapopan", "Villanueva", "San Isidro"]
ZH_CITIES = ["北京市朝阳区", "上海市浦东新区", "广州市天河区", "成都市武侯区", "杭州市西湖区"]
ZH_ROADS = ["建国路", "长宁路", "天河北路", "人民南路", "文三路"]
MONTHS_EN = ["January", "February", "March", "April", "June", "July", "August", "September", "October", "November"]
MONTHS_ES = ["enero", "febrero", "marzo", "abril", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre"]
QUESTIONS = {"en": ["How can I lower my blood pressure?", "What helps a fever?", "Do I need antibiotics for a cold?",
                    "How do I use my asthma inhaler the right way?", "What can I do for low back pain?",
                    "What should I eat if I have type 2 diabetes?"],
             "es": ["¿Cómo puedo bajar la presión arterial?", "¿Qué ayuda con la fiebre?",
                    "¿Necesito antibióticos para un resfriado?", "¿Qué puedo hacer para el dolor de espalda?"],
             "zh": ["怎样才能降低血压？", "发烧了怎么办？", "感冒需要吃抗生素吗？", "腰疼可以做些什么？"]}


class Values:
    """Fresh synthetic values, each drawn from a seeded generator."""

    def __init__(self, rng: random.Random, lang: str):
        self.r, self.lang = rng, lang

    def digits(self, n: int) -> str:
        return "".join(self.r.choice(string.digits) for _ in range(n))

    def letters(self, n: int) -> str:
        return "".join(self.r.choice(string.ascii_uppercase) for _ in range(n))

    def name(self) -> str:
        first, last = self.r.choice(FIRST[self.lang]), self.r.choice(LAST[self.lang])
        return last + first if self.lang == "zh" else f"{first} {last}"

    def first_name(self) -> str:
        return self.r.choice(FIRST[self.lang])

    def address(self) -> str:
        if self.lang == "zh":
            return f"{self.r.choice(ZH_CITIES)}{self.r.choice(ZH_ROADS)}{self.r.randint(1, 300)}号{self.r.randint(1, 9)}单元{self.r.randint(101, 2405)}室"
        if self.lang == "es":
            return f"{self.r.choice(CALLES)} {self.r.randint(1, 999)}"
        return f"{self.r.randint(10, 9999)} {self.r.choice(STREETS)}"

    def city(self) -> str:
        return self.r.choice(CIUDADES if self.lang == "es" else CITIES)

    def zip(self) -> str:
        return self.digits(5)

    def date(self) -> str:
        y, m, d = self.r.randint(1935, 2025), self.r.randint(1, 10), self.r.randint(1, 28)
        if self.lang == "zh":
            return self.r.choice([f"{y}年{m}月{d}日", f"{m}月{d}日", f"{y}-{m:02d}-{d:02d}"])
        if self.lang == "es":
            return self.r.choice([f"{d} de {MONTHS_ES[m - 1]} de {y}", f"{d}/{m:02d}/{y}", f"{d} de {MONTHS_ES[m - 1]}"])
        return self.r.choice([f"{m:02d}/{d:02d}/{y}", f"{MONTHS_EN[m - 1]} {d}, {y}", f"{MONTHS_EN[m - 1]} {d}",
                              f"{y}-{m:02d}-{d:02d}", f"{d} {MONTHS_EN[m - 1]} {y}"])

    def age(self) -> str:
        return str(self.r.randint(90, 104))

    def phone(self) -> str:
        if self.lang == "zh":
            return "13" + self.digits(9)
        if self.lang == "es":
            return self.r.choice([f"55 {self.digits(4)} {self.digits(4)}", f"+52 33 {self.digits(4)} {self.digits(4)}"])
        return self.r.choice([f"({self.r.randint(201, 989)}) 555-01{self.digits(2)}", f"{self.r.randint(201, 989)}-555-01{self.digits(2)}",
                              f"+1 {self.r.randint(201, 989)} 555 01{self.digits(2)}"])

    def email(self) -> str:
        user = self.r.choice(["m.quint", "derek_v", "lena.l", "rocio88", "teo.z", "xiaoming.w", "ivy.hale"])
        return f"{user}{self.digits(2)}@{self.r.choice(['example.com', 'example.org', 'mail.example.net'])}"

    def ssn(self) -> str:
        return f"9{self.digits(2)}-{self.digits(2)}-{self.digits(4)}"

    def mrn(self) -> str:
        return self.r.choice([self.digits(8), f"MRN{self.digits(7)}", f"{self.letters(2)}-{self.digits(6)}"])

    def plan(self) -> str:
        return self.r.choice([f"{self.letters(3)}{self.digits(9)}", f"W{self.digits(8)}", f"{self.digits(4)}-{self.digits(5)}"])

    def account(self) -> str:
        return self.r.choice([self.digits(10), f"AC-{self.digits(7)}"])

    def license(self) -> str:
        return self.r.choice([f"{self.letters(1)}{self.digits(7)}", f"D{self.digits(3)}-{self.digits(4)}-{self.digits(4)}"])

    def vehicle(self) -> str:
        return self.r.choice([f"{self.digits(1)}{self.letters(3)}{self.digits(3)}",
                              f"1HGCM{self.digits(2)}{self.letters(1)}{self.digits(2)}A{self.digits(6)}"])

    def device(self) -> str:
        return self.r.choice([f"SN{self.digits(8)}", f"{self.letters(2)}{self.digits(4)}-{self.letters(1)}{self.digits(3)}"])

    def url(self) -> str:
        return self.r.choice([f"https://portal.example.org/patient/{self.digits(6)}",
                              f"http://www.example.com/u/{self.letters(3).lower()}{self.digits(3)}",
                              f"https://mychart.example.net/visit?id={self.digits(7)}"])

    def ip(self) -> str:
        return self.r.choice([f"203.0.113.{self.r.randint(1, 254)}", f"198.51.100.{self.r.randint(1, 254)}",
                              f"2001:db8::{self.r.randint(1, 9999):x}"])

    def other_id(self) -> str:
        return self.r.choice([f"{self.digits(3)}-{self.digits(3)}-{self.digits(3)}", f"CL{self.digits(9)}"])


# (template, slot -> (TYPE, Values method)); {q} is a health question in the language
SLOTS = {"name": ("NAME", "name"), "first": ("NAME", "first_name"), "address": ("ADDRESS", "address"),
         "city": ("LOCATION", "city"), "zip": ("ZIP", "zip"), "date": ("DATE", "date"), "age": ("AGE", "age"),
         "phone": ("PHONE", "phone"), "fax": ("FAX", "phone"), "email": ("EMAIL", "email"), "ssn": ("SSN", "ssn"),
         "mrn": ("MRN", "mrn"), "plan": ("HEALTH_PLAN", "plan"), "account": ("ACCOUNT", "account"),
         "license": ("LICENSE", "license"), "vehicle": ("VEHICLE", "vehicle"), "device": ("DEVICE", "device"),
         "url": ("URL", "url"), "ip": ("IP", "ip"), "id": ("ID", "other_id")}

DEV = {
    "en": [
        "Hi, my name is {name} and my MRN is {mrn}. {q}",
        "This is {name}, born {date}. You can reach me at {phone}. {q}",
        "{q} I live at {address}, {city}, and my email is {email}.",
        "My mother is {age} years old and lives at {address}. {q}",
        "Please fax my results to {fax}, attention Dr. {name}. {q}",
        "My SSN is {ssn} and my insurance member ID is {plan}. {q}",
        "I got a bill with account number {account} for my visit on {date}. {q}",
        "My driver's license number is {license} if you need it. {q}",
        "My insulin pump serial number is {device} and it keeps alarming. {q}",
        "I logged in from {ip} to {url} and saw my lab results. {q}",
        "My license plate is {vehicle}, I parked in the clinic lot. {q}",
        "My claim number is {id}. {q}",
        "{q} Thanks, {name}",
        "I'm {name}, zip code {zip}. {q}",
    ],
    "es": [
        "Hola, me llamo {name} y mi número de expediente es {mrn}. {q}",
        "Soy {name}, nací el {date}. Mi celular es {phone}. {q}",
        "{q} Vivo en {address}, {city}, mi correo es {email}.",
        "Mi abuela tiene {age} años y vive en {address}. {q}",
        "Envíe los resultados al fax {fax} por favor. {q}",
        "Mi número de seguro social es {ssn} y mi póliza es {plan}. {q}",
        "Tengo una factura de la cuenta {account} de la consulta del {date}. {q}",
        "Mi licencia de conducir es {license}. {q}",
        "El número de serie de mi glucómetro es {device}. {q}",
        "Entré desde la IP {ip} a {url}. {q}",
        "Mi placa es {vehicle}. {q}",
        "Mi número de caso es {id}. {q}",
        "{q} Gracias, {name}",
        "Código postal {zip}. {q}",
    ],
    "zh": [
        "你好，我叫{name}，病历号是{mrn}。{q}",
        "我是{name}，出生日期{date}，手机{phone}。{q}",
        "{q}我住在{address}，邮箱是{email}。",
        "我奶奶今年{age}岁了。{q}",
        "请把报告传真到{fax}。{q}",
        "我的社保号是{ssn}，医保卡号是{plan}。{q}",
        "我的账号{account}在{date}被扣了费。{q}",
        "我的驾照号码是{license}。{q}",
        "我的血糖仪序列号是{device}。{q}",
        "我从{ip}登录了{url}。{q}",
        "我的车牌号是{vehicle}。{q}",
        "我的编号是{id}。{q}",
        "邮编{zip}。{q}",
    ],
}

HELDOUT = {
    "en": [
        "{q} - {name}, DOB {date}, cell {phone}",
        "Patient: {name}. Chart number {mrn}. Seen {date}. {q}",
        "Can you send the form to {email}? My Medicaid number is {plan}. {q}",
        "My husband {name} is {age} and uses a CPAP, device ID {device}. {q}",
        "Our office fax is {fax} and the account # is {account}. {q}",
        "I moved to {address} last month, zip {zip}. {q}",
        "My son {first} has a fever since {date}. {q}",
        "Reference number {id}, social security number {ssn}. {q}",
        "The portal at {url} shows my IP as {ip}. {q}",
        "VIN {vehicle}, licence {license}. Sorry, wrong chat. {q}",
    ],
    "es": [
        "{q} Atentamente, {name}. Tel. {phone}",
        "Paciente: {name}, historia clínica {mrn}, cita el {date}. {q}",
        "Mi hijo {first} tiene fiebre desde el {date}. {q}",
        "Mándenlo a {email}, mi número de afiliado es {plan}. {q}",
        "Mi esposo tiene {age} años, su marcapasos tiene número de serie {device}. {q}",
        "Me mudé a {address}, C.P. {zip}. {q}",
        "Número de cuenta {account}, fax {fax}. {q}",
        "Mi pasaporte es {license} y la matrícula del coche {vehicle}. {q}",
        "Folio {id}, NSS {ssn}. {q}",
        "Desde {ip} no abre {url}. {q}",
    ],
    "zh": [
        "{q}患者：{name}，住院号{mrn}，电话{phone}",
        "我儿子叫{name}，{date}开始发烧。{q}",
        "我父亲{age}岁，住在{address}。{q}",
        "麻烦发到{email}，保险单号{plan}。{q}",
        "传真号码{fax}，帐号{account}。{q}",
        "身份证号{license}，车牌{vehicle}。{q}",
        "设备编号{device}。{q}",
        "单号{id}，社保号{ssn}。{q}",
        "我在{ip}打不开{url}。{q}",
    ],
}

BENIGN = {
    "en": ["My blood pressure was 130/80 this morning. Is that high?", "I take 500 mg of metformin twice a day.",
           "I am 45 years old and want to start exercising 150 minutes a week.", "My A1C went from 7.2 to 6.8.",
           "I have had asthma since 2010. What helps?", "My child is 3 and has a fever of 38.5 C.",
           "Is 10,000 steps a day enough?", "I had COVID-19 last winter and still cough.",
           "My doctor said my LDL is 160. What does that mean?", "Can I take ibuprofen 200 mg with lisinopril 10 mg?",
           "I sleep 5 to 6 hours a night. How can I sleep better?", "How much vitamin B12 do adults need?",
           "My fasting glucose was 126 mg/dL twice.", "Type 2 diabetes runs in my family. How do I prevent it?",
           "I walk 30 minutes 5 days a week. Is that enough?", "What is a normal heart rate for a 60 year old?"],
    "es": ["Mi presión fue 140/90 hoy. ¿Es alta?", "Tomo 850 mg de metformina dos veces al día.",
           "Tengo 52 años y quiero bajar de peso.", "Tengo asma desde 2015. ¿Qué me ayuda?",
           "Mi hijo de 4 años tiene 39 grados de fiebre.", "¿Cuántas horas debo dormir?",
           "Mi glucosa en ayunas fue 110. ¿Es prediabetes?", "¿Puedo tomar paracetamol 500 mg cada 8 horas?"],
    "zh": ["我的血压是140/90，高吗？", "我每天吃两次二甲双胍500毫克。", "我今年52岁，想减肥。",
           "孩子3岁，发烧38.5度怎么办？", "我从2015年开始有哮喘。", "空腹血糖7.0算糖尿病吗？",
           "每天走一万步够吗？", "感冒需要吃抗生素吗？"],
}


def fill(template: str, values: Values, lang: str, rng: random.Random,
         questions: dict[str, list[str]] | None = None) -> dict:
    identifiers = []

    def slot(match: re.Match) -> str:
        key = match.group(1)
        if key == "q":
            return rng.choice((questions or QUESTIONS)[lang])
        kind, method = SLOTS[key]
        value = getattr(values, method)()
        identifiers.append({"type": kind, "value": value})
        return value

    text = re.sub(r"\{(\w+)\}", slot, template)
    return {"lang": lang, "text": text, "identifiers": identifiers}


def make(templates: dict[str, list[str]], per_template: int, seed: int, prefix: str) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for lang, items in templates.items():
        values = Values(rng, lang)
        for t, template in enumerate(items):
            for n in range(per_template):
                records.append({"id": f"{prefix}-{lang}-{t:02d}-{n}", **fill(template, values, lang, rng)})
    return records


def messages(count: int, seed: int, questions: dict[str, list[str]] | None = None) -> list[dict]:
    """`count` labelled messages from every template in turn (dev and held-out, all languages), fresh values each."""
    rng = random.Random(seed)
    templates = [(lang, t) for group in (DEV, HELDOUT) for lang, items in group.items() for t in items]
    values = {lang: Values(rng, lang) for lang in QUESTIONS}
    return [{"id": f"msg-{n}", **fill(template, values[lang], lang, rng, questions)}
            for n, (lang, template) in zip(range(count), itertools.cycle(templates))]


def write(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def main() -> None:
    write(HERE / "dev.jsonl", make(DEV, 8, 1, "dev"))
    write(HERE / "heldout.jsonl", make(HELDOUT, 8, 2, "held"))
    write(HERE / "benign.jsonl", [{"id": f"benign-{lang}-{i:02d}", "lang": lang, "text": text, "identifiers": []}
                                  for lang, texts in BENIGN.items() for i, text in enumerate(texts)])


if __name__ == "__main__":
    main()
