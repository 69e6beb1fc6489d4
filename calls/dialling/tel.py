"""`tel:` URIs as Outreach launches them (RFC 3966 with Outreach's own parameters).

Outreach's guide ("Initiating New Calls") launches `tel:+1-234-555-6789;ext=1234;source=outreach;
call-id=91FCF82E-...`. RFC 3966 orders the parameters strictly (ext or isub, then phone-context,
then the rest by name), but Outreach puts `source` before `call-id`, so this parser takes them
in any order, with names in any case. It reads:

- global numbers (`+` then digits) and local ones (digits, `*`, `#` and hex digits), with the
  visual separators `-`, `.`, `(` and `)` dropped;
- `ext` (digits), `isub` and `phone-context` (a `+number` prefix, or a domain name);
- every other parameter by its lower-cased name, percent-decoded (`source`, `call-id`).

Pure: no Django, no phonenumbers, so the console handler (`handler.py`) runs without the portal.
Turning the number into E.164 (a local one in the organisation's region) is the caller's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote

SCHEME = "tel:"
VISUAL_SEPARATORS = re.compile(r"[-.()]")
GLOBAL_DIGITS = re.compile(r"\+[0-9]+")
LOCAL_DIGITS = re.compile(r"[0-9A-Fa-f*#]+")
EXTENSION = re.compile(r"[0-9]+")
PARAMETER_NAME = re.compile(r"[A-Za-z0-9-]+")
# RFC 3966's paramchar: unreserved, pct-encoded and "[ ] / : & + $".
PARAMETER_VALUE = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()\[\]/:&+$]|%[0-9A-Fa-f]{2})+")
DOMAIN_NAME = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?"
)


class TelUriError(ValueError):
    """A URI this parser cannot read; the message says what is wrong, for a person."""


@dataclass(frozen=True)
class TelUri:
    number: str  # separators removed; a global number starts with "+"
    extension: str = ""
    isdn_subaddress: str = ""
    phone_context: str = ""  # "+<digits>" or a domain name, as given (separators removed)
    parameters: dict[str, str] = field(default_factory=dict)  # the rest, names lower-cased

    @property
    def is_global(self) -> bool:
        return self.number.startswith("+")

    @property
    def source(self) -> str:
        return self.parameters.get("source", "")

    @property
    def call_id(self) -> str:
        return self.parameters.get("call-id", "")

    def dialable(self) -> str:
        """The number to dial: a global number as it is; a local number prefixed with its
        phone-context when that is a global number (RFC 3966 5.1.5), else as it is (the caller
        reads it in the organisation's region)."""
        if not self.is_global and self.phone_context.startswith("+"):
            return self.phone_context + self.number
        return self.number


def parse_tel_uri(uri: str) -> TelUri:
    text = uri.strip()
    if text[: len(SCHEME)].lower() != SCHEME:
        raise TelUriError(f"Not a tel: URI (it must start with 'tel:'): {_shown(text)}.")
    rest = text[len(SCHEME) :]
    if ";" not in rest and "%3b" in rest.lower():
        # Some launchers percent-encode the whole URI, separators included.
        rest = _decoded(rest, "the URI")
    if rest.startswith("//"):
        raise TelUriError("A tel: URI has no '//' after 'tel:' (e.g. tel:+1-234-555-6789).")
    subscriber, *pieces = rest.split(";")
    number = _number(_decoded(subscriber, "the number"))
    parameters: dict[str, str] = {}
    for piece in pieces:
        name, has_value, raw_value = piece.partition("=")
        if not PARAMETER_NAME.fullmatch(name):
            raise TelUriError(f"Parameter {_shown(piece)} has no valid name.")
        name = name.lower()
        if name in parameters:
            raise TelUriError(f"Parameter '{name}' is given twice.")
        if has_value and raw_value and not PARAMETER_VALUE.fullmatch(raw_value):
            raise TelUriError(f"Parameter '{name}' has an invalid value {_shown(raw_value)}.")
        parameters[name] = _decoded(raw_value, f"parameter '{name}'") if has_value else ""
    extension = _extension(parameters.pop("ext", None))
    isub = parameters.pop("isub", None)
    if isub == "":
        raise TelUriError("Parameter 'isub' needs a value.")
    context = _context(parameters.pop("phone-context", None))
    if context and number.startswith("+"):
        raise TelUriError("A global number (starting with '+') takes no phone-context.")
    return TelUri(
        number=number,
        extension=extension,
        isdn_subaddress=isub or "",
        phone_context=context,
        parameters=parameters,
    )


def _number(raw: str) -> str:
    if not raw:
        raise TelUriError("There is no number after 'tel:'.")
    number = VISUAL_SEPARATORS.sub("", raw)
    if number.startswith("+"):
        if not GLOBAL_DIGITS.fullmatch(number):
            raise TelUriError(
                f"{_shown(raw)} is not a phone number: after '+' only digits and the "
                "separators - . ( ) may follow."
            )
        return number
    if not LOCAL_DIGITS.fullmatch(number):
        raise TelUriError(
            f"{_shown(raw)} is not a phone number: only digits, * and # and the separators "
            "- . ( ) are allowed."
        )
    return number


def _extension(raw: str | None) -> str:
    if raw is None:
        return ""
    extension = VISUAL_SEPARATORS.sub("", raw)
    if not EXTENSION.fullmatch(extension):
        raise TelUriError(f"The extension {_shown(raw)} must be digits.")
    return extension


def _context(raw: str | None) -> str:
    if raw is None:
        return ""
    if raw.startswith("+"):
        digits = VISUAL_SEPARATORS.sub("", raw)
        if GLOBAL_DIGITS.fullmatch(digits):
            return digits
    elif DOMAIN_NAME.fullmatch(raw):
        return raw
    raise TelUriError(f"phone-context {_shown(raw)} is neither a +number nor a domain name.")


def _decoded(value: str, where: str) -> str:
    if re.search(r"%(?![0-9A-Fa-f]{2})", value):
        raise TelUriError(f"Bad percent-encoding in {where}: {_shown(value)}.")
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise TelUriError(f"{where} does not decode as UTF-8: {_shown(value)}.") from None


def _shown(value: str) -> str:
    """A value quoted for an error message, cut so a huge input cannot flood a log."""
    return repr(value if len(value) <= 80 else value[:77] + "...")
