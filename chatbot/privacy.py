"""Identifier scrubbing: HIPAA Safe Harbor identifiers in a patient's text become placeholders such as `[PHONE]`.

Used wherever message text must be kept (the `log_text` setting; an audit store that keeps text). Patterns and
checks only, no model: labelled values (an "MRN", "póliza", "病历号" followed by a number), formats (e-mail, URL,
IP, SSN, dates, phone numbers found by `phonenumbers`), names after the words that introduce them (or a common
first name followed by a capitalised word), street addresses and postcodes, ages over 89, and any other long
number. English, Spanish and Chinese cues. Recall is measured on evals/privacy/ by bench/privacy.py.

Biometric identifiers and photographs do not occur in text; a free-standing name with no cue and no common first
name (a surname alone) is the known gap.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

import phonenumbers

_REGIONS = ("US", "MX", "ES", "CN")
_W = r"[A-Za-zÀ-ÖØ-öø-ÿ]"  # a Latin letter, accented ones included
_CAP = rf"(?:[A-ZÁÉÍÓÚÑÜ]{_W}+(?:[-'][A-ZÁÉÍÓÚÑÜ]{_W}+)?)"  # a capitalised word (O'Neil, García-López)
_ID_TOKEN = r"(?=[A-Za-z0-9\-/.#]*\d)[A-Za-z0-9][A-Za-z0-9\-/.#]{2,}[A-Za-z0-9]"  # has a digit, 4+ characters

# cue words that say what the identifier after them is: (placeholder, pattern of the cue)
_LABELLED = [
    ("SSN", r"ssn|social security(?: number| no\.?| #)?|seguro social|número de seguro social|社会安全号(?:码)?|社保号(?:码)?"),
    ("MRN", r"mrn|medical record(?: number| no\.?| #)?|chart(?: number| no\.?| #)|patient id|hospital (?:id|number)|"
            r"(?:número de )?expediente(?: médico| clínico)?|historia clínica|n[úu]mero de paciente|"
            r"病历号(?:码)?|病案号|住院号|门诊号|就诊卡号"),
    ("HEALTH_PLAN", r"member id|member number|subscriber id|policy(?: number| no\.?| #)?|insurance(?: id| number| card)?|"
                    r"medicaid(?: id| number)?|medicare(?: id| number)?|health plan(?: id| number)?|group number|"
                    r"póliza|poliza|n[úu]mero de afiliado|afiliaci[óo]n|(?:número del |n[úu]mero de )?seguro(?! social)|"
                    r"nss|医保卡?号(?:码)?|医保编号|保险单?号(?:码)?|社保卡号"),
    ("ACCOUNT", r"account(?: number| no\.?| #)?|acct\.?(?: #)?|billing (?:id|number)|invoice(?: number| #)?|"
                r"(?:n[úu]mero de )?cuenta|factura|账号|账户(?:号)?|帐号|帐户"),
    ("LICENSE", r"(?:driver'?s |driving )?licen[cs]e(?: number| no\.?| #)?|dl(?: #)?|permit(?: number)?|certificate(?: number)?|"
                r"passport(?: number)?|licencia(?: de conducir)?|pasaporte|c[ée]dula(?: profesional)?|curp|"
                r"certificado|驾照号?(?:码)?|驾驶证号?(?:码)?|执照号?(?:码)?|护照号?(?:码)?|身份证号?(?:码)?|证书编号"),
    ("VEHICLE", r"license plate|plate(?: number)?|vin|vehicle id|placa|matr[íi]cula|车牌号?(?:码)?|车架号"),
    ("DEVICE", r"serial(?: number| no\.?| #)?|device(?: id| number| serial)?|imei|udid|model number|pump id|"
               r"pacemaker id|número de serie|n[úu]mero del dispositivo|dispositivo|id del dispositivo|"
               r"序列号|设备(?:编号|号码|号)|仪器编号"),
    ("FAX", r"fax(?: number| no\.?| #)?|n[úu]mero de fax|传真(?:号码?)?"),
    ("PHONE", r"phone|cell|mobile|tel\.?|teléfono|telefono|celular|móvil|movil|电话(?:号码?)?|手机(?:号码?)?"),
    ("ID", r"(?:id|identification|reference|case|claim|ticket|confirmation)(?: number| no\.?| #| code)?|"
           r"folio|n[úu]mero de (?:caso|referencia|identificaci[óo]n|reclamo)|编号|号码|单号"),
]
_CUE_GAP = r"(?:\s*(?:is|es|was|:|：|=|#|no\.?|number|n[úo]mero|是|为|為|de)\s*)*\s*"
_LABELLED_RE = [(tag, re.compile(rf"(?i)(?<![A-Za-z])(?:{cue})(?:(?<=[\u4e00-\u9fff])|(?![A-Za-z])){_CUE_GAP}(?:my |mi |el |la )?({_ID_TOKEN})"))
                for tag, cue in _LABELLED]

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_URL = re.compile(r"(?i)\b(?:https?://|ftp://|www\.)[^\s<>\"'）)，。]+|\b[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\."
                  r"(?:com|org|net|edu|gov|io|info|me|us|mx|es|cn|co)\b(?:/[^\s<>\"'）)，。]*)?")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)")
_IPV6 = re.compile(r"(?i)(?<![0-9a-f:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?![0-9a-f:])")
_SSN = re.compile(r"(?<!\d)\d{3}[- ]\d{2}[- ]\d{4}(?!\d)")
_MONTHS = (r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
           r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|enero|febrero|marzo|abril|mayo|junio|julio|agosto|"
           r"se?ptiembre|octubre|noviembre|diciembre")
_DATES = [
    re.compile(r"(?<![\d/.-])\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?![\d/-]|\.\d)"),
    re.compile(r"(?<![\d/.-])\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})(?![\d/-]|\.\d)"),
    re.compile(rf"(?i)\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b"),
    re.compile(rf"(?i)\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:de\s+|of\s+)?(?:{_MONTHS})\b(?:,?\s+(?:de\s+|del\s+)?\d{{4}})?"),
    re.compile(r"(?:\d{4}\s*年\s*)?\d{1,2}\s*月\s*\d{1,2}\s*[日号號]"),
    re.compile(r"\d{4}\s*年\s*\d{1,2}\s*月"),
    re.compile(rf"(?i)\b(?:{_MONTHS})\.?,?\s+(?:de\s+|del\s+|of\s+)?\d{{4}}\b"),
    re.compile(r"(?<![\d/])\d{1,2}/\d{1,2}(?![\d/])(?=\s*(?:at|a las|,|\.|$))", re.M),
]
_AGE = re.compile(r"(?<!\d)(9\d|1[0-2]\d)(?=\s*(?:-?\s*years?(?:-|\s)old|yo\b|y/o|años|岁|歲|周岁))|"
                  r"(?:aged?|edad(?: de)?|tiene|has|is)\s+(9\d|1[0-2]\d)(?!\d)", re.I)
_STREET_TYPES = (r"street|st|avenue|ave|road|rd|boulevard|blvd|drive|dr|lane|ln|way|court|ct|place|pl|terrace|"
                 r"circle|cir|highway|hwy|parkway|pkwy|trail|square|sq")
_ADDRESSES = [
    re.compile(rf"(?<!\w)\d{{1,6}}\s+(?:[NSEW]\.?\s+)?(?:{_CAP}\s+){{1,3}}(?i:{_STREET_TYPES})\b\.?"
               rf"(?:,?\s+(?i:apt|apartment|unit|suite|ste|#)\.?\s*#?\s*\w+)?(?:,\s*{_CAP}(?:\s+{_CAP}){{0,2}})?"),
    re.compile(rf"(?i:calle|c/|avenida|av\.|avda\.?|paseo|camino|carrera|colonia|col\.|plaza|privada|boulevard|"
               rf"blvd\.?)\s+(?:(?:de|del|la|los|las)\s+)*(?:{_CAP}\s*){{1,3}}(?:,?\s*(?:n[úo]m\.?|no\.?|#)?\s*\d+\w?)?"
               rf"(?:,?\s*(?i:piso|depto\.?|departamento|interior|int\.)\s*\w+)?(?:,\s*{_CAP}(?:\s+{_CAP}){{0,2}})?"),
    re.compile(r"[\u4e00-\u9fff]{1,12}(?:路|街|道|巷|胡同|大道)\s*\d+\s*[号號](?:\s*\d+\s*[栋幢号楼])?(?:\s*\d+\s*(?:单元|室))*"),
    re.compile(r"[\u4e00-\u9fff]{2,8}(?:小区|花园|公寓|大厦)(?:\s*\d+\s*[栋幢号楼])?(?:\s*\d+\s*(?:单元|室))*"),
    re.compile(r"(?i)\b(?:p\.?\s?o\.?\s+box|apartado(?: postal)?)\s+\d+"),
]
_POSTCODE = re.compile(r"(?i)(?:\b[A-Z]{2}\s+|zip(?: code)?:?\s*|c\.?\s?p\.?\s*|código postal:?\s*|邮编:?\s*)"
                       r"(\d{5}(?:-\d{4})?|\d{6})\b")
_PLACE = re.compile(rf"(?:(?i:I live in|I'm from|I am from|we live in|living in|lives in|vivo en|vivimos en|soy de|"
                    rf"somos de|resido en|town of|city of|county|condado de)\s+)((?:{_CAP}(?:\s+(?:de|del|la)?\s*)?){{1,3}})")
_PLACE_ZH = re.compile(r"(?:住在|我在|来自|家在|居住在)([\u4e00-\u9fff]{2,8}?(?:省|市|县|区|镇|村)(?:[\u4e00-\u9fff]{1,6}?(?:市|县|区|镇|村))?)")
_NAME_CUES = (r"my name is|my name's|name is|i am|i'm|im|this is|call me|named|called|signed|regards,|thanks,|"
              r"thank you,|sincerely,|patient:?|patient name:?|dr\.?|doctor|mr\.?|mrs\.?|ms\.?|miss|nurse|"
              r"my (?:son|daughter|wife|husband|mother|mom|father|dad|baby|child|kid|brother|sister|grandmother|"
              r"grandfather|grandma|grandpa|partner|friend|aunt|uncle),?|"
              r"me llamo|mi nombre es|soy|se llama|llamado|llamada|sr\.?|sra\.?|srta\.?|dra?\.?|doctora?|"
              r"mi (?:hijo|hija|esposo|esposa|madre|mamá|padre|papá|bebé|hermano|hermana|abuela|abuelo|pareja|"
              r"nieto|nieta),?|atentamente,|gracias,|paciente:?")
_NAME = re.compile(rf"(?<![A-Za-z])(?i:{_NAME_CUES})\s+({_CAP}(?:\s+(?:de\s+la\s+|de\s+|del\s+|van\s+|von\s+)?{_CAP}){{0,3}})")
_NAME_ZH = re.compile(r"(?:我叫|我的名字是|名字叫|姓名[:：]?|患者[:：]?|病人[:：]?|我是|叫做|她叫|他叫|孩子叫|儿子叫|女儿叫)"
                      r"([\u4e00-\u9fff]{2,3})(?=[，,。.！!？?\s]|$|的|今年|，)")
_NAME_ZH_TITLE = re.compile(r"([\u4e00-\u9fff]{1,3})(?=先生|女士|小姐|医生|大夫|护士|老师|阿姨)")
_SIGNATURE = re.compile(rf"(?m)(?:^|[\n—–-]\s*)({_CAP}(?:\s+{_CAP}){{1,2}})\s*$")
_LONG_NUMBER = re.compile(r"(?<![A-Za-z0-9_\[])(?=(?:[A-Za-z\-/.]*\d){6})[A-Za-z0-9][A-Za-z0-9\-/.]*[A-Za-z0-9](?![A-Za-z0-9_\]])")
_MIXED_ID = re.compile(r"(?<![A-Za-z0-9_\[])(?=[A-Za-z0-9\-]*[A-Za-z])(?=(?:[A-Za-z\-]*\d){4})[A-Za-z0-9][A-Za-z0-9\-]{4,}(?![A-Za-z0-9_\]])")
_NOT_NAMES = frozenset("""I A An The This That It My Your Our His Her Their Not Very So Just Also Still Now Here There
Yes No Ok Okay Sorry Hi Hello Dear Please Thanks Thank Good Fine Sick Worried Pregnant Diabetic Allergic
Tired Scared Feeling Having Taking Using Going Trying Calling Writing Asking Looking Worried Concerned New Back
Type Dr Doctor Mr Mrs Ms Miss El La Los Las Un Una Mi Su Yo Muy Estoy Tengo Bien Mal Hola Gracias Por Para
Embarazada Diabético Diabética Alérgico Alérgica Preocupado Preocupada Enfermo Enferma Cansado Cansada""".split())


@lru_cache(maxsize=1)
def _first_names() -> re.Pattern:
    names = """James John Robert Michael William David Richard Joseph Thomas Charles Christopher Daniel Matthew Anthony
    Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy Ronald Edward Jason Jeffrey Ryan Jacob
    Gary Nicholas Eric Jonathan Stephen Larry Justin Scott Brandon Benjamin Samuel Gregory Alexander Frank Patrick
    Raymond Jack Dennis Jerry Tyler Aaron Jose Adam Nathan Henry Douglas Zachary Peter Kyle Ethan Walter Noah Jeremy
    Christian Keith Roger Terry Gerald Harold Sean Austin Carl Arthur Lawrence Dylan Jesse Jordan Bryan Billy Joe
    Bruce Gabriel Logan Albert Willie Alan Juan Wayne Elijah Randy Roy Vincent Ralph Eugene Russell Bobby Mason
    Philip Louis Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty Margaret
    Sandra Ashley Kimberly Emily Donna Michelle Carol Amanda Dorothy Melissa Deborah Stephanie Rebecca Sharon Laura
    Cynthia Kathleen Amy Angela Shirley Anna Brenda Pamela Emma Nicole Helen Samantha Katherine Christine Debra
    Rachel Carolyn Janet Catherine Maria Heather Diane Ruth Julie Olivia Joyce Virginia Victoria Kelly Lauren
    Christina Joan Evelyn Judith Megan Andrea Cheryl Hannah Jacqueline Martha Gloria Teresa Ann Sara Madison
    Frances Kathryn Janice Jean Abigail Alice Judy Sophia Grace Denise Amber Doris Marilyn Danielle Beverly
    Isabella Theresa Diana Natalie Brittany Charlotte Marie Kayla Alexis Lori Ava Mia Chloe Liam Lucas Oliver
    Carlos Luis Miguel Jorge Pedro Alejandro Manuel Francisco Javier Antonio Fernando Ricardo Eduardo Roberto
    Rafael Sergio Andrés Diego Pablo Raúl Enrique Óscar Alberto Arturo Guillermo Héctor Mario Ramón Rubén
    Jesús Santiago Mateo Sebastián Emiliano Leonardo Joaquín Ana Lucía Carmen Rosa Guadalupe Sofía Valentina
    Camila Isabel Laura Marta Elena Paula Claudia Gabriela Mariana Daniela Fernanda Patricia Verónica Adriana
    Alejandra Beatriz Silvia Teresa Pilar Dolores Josefina Marisol Ximena Renata Regina Luz Esperanza Yolanda
    Wei Jing Li Ming Hui Xin Yan Lei Jun Hong Mei Ling Fang Yang Tao Chen Hao Xiu Lan Ying""".split()
    return re.compile(rf"(?<![A-Za-z])(?:{'|'.join(sorted(set(names), key=len, reverse=True))})\s+{_CAP}(?:\s+{_CAP})?(?![A-Za-z])")


def scrub(text: str) -> str:
    """The text with every identifier it recognises replaced by a placeholder (`[NAME]`, `[PHONE]`, `[DATE]`...)."""
    if not text:
        return text
    text = _EMAIL.sub("[EMAIL]", text)
    text = _URL.sub("[URL]", text)
    text = _IPV4.sub(_ipv4, text)
    text = _IPV6.sub(_ipv6, text)
    for tag, pattern in _LABELLED_RE:
        text = pattern.sub(lambda m, tag=tag: _replace_group(m, 1, f"[{tag}]"), text)
    text = _SSN.sub("[SSN]", text)
    for pattern in _DATES:
        text = pattern.sub("[DATE]", text)
    text = _phones(text)
    text = _AGE.sub(lambda m: _replace_group(m, 1 if m.group(1) else 2, "[AGE]"), text)
    for pattern in _ADDRESSES:
        text = pattern.sub("[ADDRESS]", text)
    text = _POSTCODE.sub(lambda m: _replace_group(m, 1, "[ZIP]"), text)
    text = _PLACE.sub(lambda m: _replace_group(m, 1, "[LOCATION]"), text)
    text = _PLACE_ZH.sub(lambda m: _replace_group(m, 1, "[LOCATION]"), text)
    text = _names(text)
    text = _LONG_NUMBER.sub("[ID]", text)
    return _MIXED_ID.sub("[ID]", text)


def _replace_group(match: re.Match, group: int, placeholder: str) -> str:
    start, end = match.span(group)
    whole = match.group(0)
    return whole[: start - match.start()] + placeholder + whole[end - match.start():]


def _ipv4(match: re.Match) -> str:
    return "[IP]" if all(int(part) <= 255 for part in match.group(0).split(".")) else match.group(0)


def _ipv6(match: re.Match) -> str:
    try:
        ipaddress.IPv6Address(match.group(0))
    except ValueError:
        return match.group(0)
    return "[IP]"


def _phones(text: str) -> str:
    spans: list[tuple[int, int]] = []
    for region in _REGIONS:
        try:
            for found in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE):
                if sum(ch.isdigit() for ch in found.raw_string) >= 7:
                    spans.append((found.start, found.end))
        except Exception:  # phonenumbers on pathological input: the other patterns still apply
            continue
    for start, end in sorted(_merge(spans), reverse=True):
        before = text[max(0, start - 16):start].lower()
        tag = "[FAX]" if "fax" in before or "传真" in before else "[PHONE]"
        text = text[:start] + tag + text[end:]
    return text


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _names(text: str) -> str:
    def name(match: re.Match) -> str:
        words = match.group(1).split()
        while words and words[0] in _NOT_NAMES:
            words.pop(0)
        if not words:
            return match.group(0)
        return match.group(0).replace(" ".join(words), "[NAME]", 1)

    text = _NAME.sub(name, text)
    text = _first_names().sub("[NAME]", text)
    text = _NAME_ZH.sub(lambda m: _replace_group(m, 1, "[NAME]"), text)
    text = _NAME_ZH_TITLE.sub(lambda m: _zh_title(m.group(1)), text)
    return _SIGNATURE.sub(lambda m: _replace_group(m, 1, "[NAME]") if m.group(1).split()[0] not in _NOT_NAMES
                          else m.group(0), text)


_ZH_SURNAMES = set("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")


def _zh_title(prefix: str) -> str:
    """`王先生` -> `[NAME]先生`: only from the first character that is a common surname."""
    for i, ch in enumerate(prefix):
        if ch in _ZH_SURNAMES:
            return prefix[:i] + "[NAME]"
    return prefix
