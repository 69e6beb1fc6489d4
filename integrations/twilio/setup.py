"""A Twilio connection's setup values: the account, how Twilio signs its webhooks, the numbers it
serves with the agent each rings, and how it places calls (part two).

Twilio signs webhooks with the account's auth token (HMAC-SHA1), or, where a Webhooks Rule
applies a Setting to our URL, with that Setting's SharedKey (its algorithm named in
`X-Twilio-Webhooks-Signature-Settings`). An API key and its secret reach Twilio's REST API (part
two places calls with them) but sign nothing, so an account set up without its auth token needs
the SharedKey to have its webhooks verified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from integrations.events import AgentIdentity, normalise_number

ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
API_KEY_SID = re.compile(r"SK[0-9a-fA-F]{32}")
# Between the number and its agent, and between pairs: `+12065550100=client:rita, +1...=+1...`.
PAIR_SEPARATORS = re.compile(r"[,;\n]")
YES, NO = "yes", "no"
# Which leg of a placed call Twilio dials first: the prospect's (REST-created, the rep's client
# or phone rung once the prospect answers) or the rep's (the prospect a <Number> of the rep's
# call once the rep answers).
PROSPECT_FIRST, REP_FIRST = "prospect", "rep"
# Twilio's default for an account: 1 call per second (a higher limit is bought per account).
DEFAULT_CALLS_PER_SECOND = 1


@dataclass(frozen=True)
class TwilioSetup:
    account_sid: str
    auth_token: str = ""
    api_key_sid: str = ""
    api_key_secret: str = ""
    webhook_key: str = ""  # the SharedKey secret of a Webhook Setting, when one signs for us
    # Each number the connection serves (E.164) and what it rings, as Twilio dials it: a phone
    # number, `client:<identity>` or `sip:<address>` (part two's routing dials it).
    agents: dict[str, str] = field(default_factory=dict)
    # Placing calls: the number calls come from (a Twilio number or a verified caller id; the
    # first served number when empty), which leg goes first, whether calls are recorded (with a
    # notice spoken first, when given), answering-machine detection, and the account's limit.
    caller_id: str = ""
    leg_order: str = PROSPECT_FIRST
    record_calls: bool = False
    recording_notice: str = ""
    machine_detection: bool = False
    calls_per_second: int = DEFAULT_CALLS_PER_SECOND

    @property
    def calls_from(self) -> str:
        return self.caller_id or next(iter(self.agents), "")

    def agent_of(self, number: str) -> AgentIdentity:
        """Who the number rings, as the Agents page maps it; nobody for a number not listed."""
        agent = self.agents.get(number)
        return agent_identity(agent, region="") if agent else AgentIdentity()


def read_setup(values: dict[str, str]) -> TwilioSetup:
    """The saved values, numbers read. The setup form refuses numbers that do not read; saved
    some other way, they name no agent, so a call that needs one is held saying so."""
    try:
        agents = read_agents(values.get("numbers", ""))
    except ValueError:
        agents = {}
    return TwilioSetup(
        account_sid=values.get("account_sid", ""),
        auth_token=values.get("auth_token", ""),
        api_key_sid=values.get("api_key_sid", ""),
        api_key_secret=values.get("api_key_secret", ""),
        webhook_key=values.get("webhook_key", ""),
        agents=agents,
        caller_id=normalise_number(values.get("caller_id", ""), default_region="").e164,
        leg_order=REP_FIRST if values.get("leg_order", "").strip() == REP_FIRST else PROSPECT_FIRST,
        record_calls=values.get("record_calls", "").strip().lower() == YES,
        recording_notice=values.get("recording_notice", "").strip(),
        machine_detection=values.get("machine_detection", "").strip().lower() == YES,
        calls_per_second=_calls_per_second(values.get("calls_per_second", "")),
    )


def _calls_per_second(text: str) -> int:
    text = text.strip()
    return int(text) if text.isdigit() and int(text) > 0 else DEFAULT_CALLS_PER_SECOND


def setup_problems(values: dict[str, str]) -> dict[str, str]:
    """Why these values cannot work, by field; empty when they can."""
    problems = {}
    if not ACCOUNT_SID.fullmatch(values.get("account_sid", "").strip()):
        problems["account_sid"] = "An Account SID is AC followed by 32 hexadecimal characters."
    key_sid, key_secret = values.get("api_key_sid", ""), values.get("api_key_secret", "")
    if key_sid and not API_KEY_SID.fullmatch(key_sid.strip()):
        problems["api_key_sid"] = "An API key SID is SK followed by 32 hexadecimal characters."
    elif bool(key_sid) != bool(key_secret):
        problems["api_key_secret" if key_sid else "api_key_sid"] = (
            "An API key needs both its SID and its secret."
        )
    if not values.get("auth_token"):
        if not key_sid:
            problems["auth_token"] = "Give the auth token, or an API key and its secret."
        elif not values.get("webhook_key"):
            problems["webhook_key"] = (
                "Without the auth token, Twilio's webhooks can only be verified with the "
                "SharedKey of a Webhook Setting: give its secret, or the auth token."
            )
    try:
        read_agents(values.get("numbers", ""))
    except ValueError as error:
        problems["numbers"] = str(error)
    caller_id = values.get("caller_id", "").strip()
    if caller_id and not normalise_number(caller_id, default_region="").e164:
        problems["caller_id"] = "Give the number calls come from with its country code."
    if values.get("leg_order", "").strip() not in ("", PROSPECT_FIRST, REP_FIRST):
        problems["leg_order"] = f"Write {PROSPECT_FIRST} or {REP_FIRST}."
    for name in ("record_calls", "machine_detection"):
        if values.get(name, "").strip().lower() not in ("", YES, NO):
            problems[name] = f"Write {YES} or {NO}."
    per_second = values.get("calls_per_second", "").strip()
    if per_second and not (per_second.isdigit() and int(per_second) > 0):
        problems["calls_per_second"] = "A whole number of calls per second, 1 or more."
    return problems


def read_agents(text: str) -> dict[str, str]:
    """`+12065550100=client:rita, +12065550101=+14155550199` -> {number: agent}; ValueError
    naming the first pair that is not a phone number with a dialable agent."""
    agents: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in PAIR_SEPARATORS.split(text))):
        number, separator, agent = (item.strip() for item in pair.partition("="))
        served = normalise_number(number, default_region="")
        if not separator or not served.e164:
            raise ValueError(
                f"'{pair}' is not a number and its agent: write each as +12065550100=agent, "
                "with the country code."
            )
        if not _dialable(agent):
            raise ValueError(
                f"The agent of {served.e164}, '{agent}', is not a phone number with its "
                "country code, client:<identity> or sip:<address>."
            )
        if served.e164 in agents:
            raise ValueError(f"{served.e164} is listed twice.")
        agents[served.e164] = agent
    return agents


def _dialable(agent: str) -> bool:
    if agent.startswith(("client:", "sip:")):
        return len(agent.split(":", 1)[1].strip()) > 0
    return bool(normalise_number(agent, default_region="").e164)


def agent_identity(address: str, *, region: str) -> AgentIdentity:
    """The agent a Twilio address names, as the Agents page maps it: a phone number by its E.164
    form, `client:rita` by the id `rita`, `sip:rita@pbx.example;transport=tls` by the id
    `rita@pbx.example`; anything else by the id as it came."""
    address = address.strip()
    if address.startswith("client:"):
        return AgentIdentity(id=address.removeprefix("client:"))
    if address.startswith("sip:"):
        return AgentIdentity(id=address.removeprefix("sip:").split(";", 1)[0])
    number = normalise_number(address, default_region=region)
    return AgentIdentity(phone=number.e164) if number.e164 else AgentIdentity(id=address)


def agent_address(agent: dict[str, str]) -> str:
    """How Twilio dials the rep an agent mapping names (the inverse of `agent_identity`): their
    id as `client:<id>` (`sip:<id>` for an address with @), else their phone; empty when the
    mapping names neither."""
    identity = agent.get("id", "").strip()
    if identity.startswith(("client:", "sip:")):
        return identity
    if identity:
        return f"sip:{identity}" if "@" in identity else f"client:{identity}"
    return normalise_number(agent.get("phone", ""), default_region="").e164
