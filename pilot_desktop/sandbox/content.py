"""What the sandbox scenario is made of: its realism knobs and the words it puts in messages.

Latencies and shares are plausible guesses, named here in one place; texts are Brazilian
retail in Portuguese, as the platform's customers write them. Data only: the scenario
modules (`scenario`, `lifecycle`, `processes`) decide when each is drawn.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from random import Random
from typing import NamedTuple

EPOCH = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
"""Wall time of scenario second 0 when none is given: output is then fully reproducible."""

UNDOCUMENTED_ERROR_CODES = ("META_RATE_LIMITED",)
"""Failure codes outside docs/pilot-status-api.md §1.7: the monitor must flag them for review."""


# --- realism knobs (seconds and shares) -----------------------------------------------


class LogNormal(NamedTuple):
    """Latency with a typical value and a long tail, clamped to what the platform shows."""

    median: float
    sigma: float
    low: float
    high: float

    def ms(self, rng: Random) -> int:
        value = rng.lognormvariate(math.log(self.median), self.sigma)
        return round(min(max(value, self.low), self.high) * 1000)


SENT_AFTER = LogNormal(0.8, 0.6, 0.2, 3.0)  # queue → handed to the provider
DELIVERED_AFTER = LogNormal(1.5, 0.9, 0.5, 10.0)  # sent → on the recipient's phone
OFFLINE_SHARE, OFFLINE_DELIVERY = 0.08, (30.0, 480.0)  # recipient's phone offline a while
READ_SHARE = 0.85  # of delivered messages, eventually read
READ_AFTER = LogNormal(20.0, 1.2, 3.0, 3600.0)
REPLY_SHARE = 0.2  # of read messages, answered by quoting them
REPLY_AFTER = LogNormal(40.0, 1.0, 4.0, 1800.0)
RECEIPTS_OFF_SHARE = 0.25  # recipients whose read receipts are off: stop at DELIVERED
NOT_ON_WHATSAPP_SHARE = 0.03
NEVER_CONFIRMED = {"healthy": 0.02, "degraded": 0.10, "shadowban": 0.80, "blocked": 0.02}
CONFIRM_WINDOW = (240.0, 720.0)  # sent → DELIVERED_NOT_CONFIRMED (the deliverUntil check)
META_RATE_LIMITED_SHARE = 0.01
META_WINDOW_CLOSED_SHARE = 0.06  # free text to a contact silent for 24 h (Meta only)
QUEUE_TIMEOUT = 600.0  # still QUEUED (number offline) → DELIVERY_TIMEOUT
INVALID_DESTINATION_SHARE = 0.004  # organic sends to a malformed number

# Organic activities per provider and their weights. Cloud API (Meta) numbers are not in
# groups and cannot follow channels, so they only get 1:1 traffic. Calls are Meta only
# (core/catalogue.py: conflict C4 settled that way), so web numbers never ring.
ACTIVITY_MIX = {
    "PILOT_STATUS": (
        ("send", 0.48),
        ("received", 0.31),
        ("group", 0.14),
        ("newsletter", 0.07),
    ),
    "META": (("send", 0.55), ("received", 0.44), ("call", 0.01)),
}
# Webhooks per activity, measured over long runs: a send brings sent, delivered, read,
# replies…; a call rings then connects and ends or is missed. Turns `rate` into activities.
EMISSIONS_PER = {"send": 2.6, "call": 2.5}

CONNECT_AFTER = (1.5, 6.0)  # number.created → first number.connected
UPTIME_MEAN = {"PILOT_STATUS": 1200.0, "META": 5400.0}  # mean time between disconnects
FLAP_SHARE, FLAP_CYCLES, FLAP_UP, FLAP_DOWN = 0.15, (2, 4), (10.0, 90.0), (5.0, 40.0)
HEALTH_EPISODE_MEAN = 2400.0  # mean healthy time between health incidents
HEALTH_STAGE = (120.0, 600.0)  # time spent in each unhealthy stage
CALL_DURATION = LogNormal(90.0, 0.9, 5.0, 3600.0)  # an answered call, until it ends

# (errorCode, error, reconnect delay): a logout needs someone to scan a QR code again.
WEB_DROPS = (
    (
        "CONNECTION_LOST",
        "Lost connection to WhatsApp: the phone was offline too long.",
        LogNormal(40.0, 0.8, 8.0, 900.0),
    ),
    (
        "LOGGED_OUT",
        "WhatsApp session closed: device was logged out from the phone.",
        LogNormal(240.0, 0.7, 60.0, 1800.0),
    ),
    (
        "SESSION_REPLACED",
        "WhatsApp Web session replaced by a login on another computer.",
        LogNormal(120.0, 0.7, 30.0, 1200.0),
    ),
)
META_DROPS = (
    (
        "META_TOKEN_INVALID",
        "The Meta access token is no longer valid; reconnect the number.",
        LogNormal(300.0, 0.6, 60.0, 1800.0),
    ),
)
FLAP_DROP = ("CONNECTION_LOST", "Lost connection to WhatsApp: the phone was offline too long.")
HEALTH_REASONS = {
    "degraded": "Delivery rate dropped below 80% in the last hour.",
    "shadowban": "Messages are accepted but not delivered.",
    "blocked": "Sending blocked after repeated user reports.",
    "healthy": "Delivery rate back to normal.",
}
ERRORS = {
    "INVALID_DESTINATION": "The destination is not a valid phone number (E.164 normalization failed).",
    "WHATSAPP_NOT_EXIST": "The destination number is not registered on WhatsApp.",
    "META_OUTSIDE_24H_WINDOW": "Free-form message outside the 24h customer service window; "
    "send an approved template instead.",
    "META_RATE_LIMITED": "Meta rate limit reached for this phone number; try again later.",
    "DELIVERED_NOT_CONFIRMED": "Sent, but the delivery was not confirmed before the deadline.",
    "DELIVERY_TIMEOUT": "The number was not connected; the message could not be sent in time.",
}
BLOCKED = "WhatsApp refused the message: sending is blocked for this number."


# --- content (Brazilian retail) -------------------------------------------------------
# fmt: off

STORES = (
    "Loja Centro", "Padaria Pão Dourado", "Clínica Sorriso", "Ótica Visão Clara",
    "Pet Shop Amigo Fiel", "Farmácia Bem Estar", "Academia Corpo em Forma", "Auto Peças Silva",
    "Imobiliária Horizonte", "Restaurante Sabor Caseiro", "Floricultura Jardim", "Livraria Página Um",
)
FIRST_NAMES = (
    "Mariana", "João", "Ana", "Carlos", "Beatriz", "Lucas", "Fernanda", "Rafael", "Juliana",
    "Pedro", "Camila", "Gabriel", "Larissa", "Thiago", "Patrícia", "Bruno", "Aline", "Felipe",
)
LAST_NAMES = ("Costa", "Silva", "Souza", "Oliveira", "Santos", "Almeida", "Pereira", "Lima", "Ribeiro")
OUTBOUND = (
    "Olá {first}! Seu pedido #{n} saiu para entrega hoje.",
    "Oi {first}, sua consulta está confirmada para amanhã às {hour}h. Responda SIM para confirmar.",
    "Seu código de acesso é {code}.",
    "{first}, seu boleto de R$ {n2},90 vence amanhã.",
    "Obrigado pela compra, {first}! Como foi o atendimento? Responda de 1 a 5.",
    "Oi {first}! Seu pedido #{n} está pronto para retirada.",
)
INBOUND = (
    "Bom dia! Vocês abrem no feriado?", "Qual o horário de funcionamento hoje?",
    "Vocês entregam no meu bairro?", "Ainda tem o tamanho M?", "Pode me mandar o cardápio?",
    "Boa tarde, meu pedido ainda não chegou.", "Aceitam Pix?",
)
REPLIES = (
    "Obrigada! Estarei em casa depois das 15h.", "SIM", "Confirmado, obrigado!",
    "Pode remarcar para sexta?", "Recebi, valeu!", "Não fiz esse pedido.", "5", "👍",
)
GROUP_TEXTS = (
    "Alguém pode cobrir o turno de sábado?", "Chegou a mercadoria nova.",
    "Reunião amanhã às 9h.", "Bom dia, equipe!", "O sistema de pagamento voltou.",
)
CHANNELS = ("Moda Sul Atacado", "Promoções Brasil", "Notícias do Varejo", "Dicas de Vendas")
CHANNEL_POSTS = (
    "Nova coleção de inverno chegou! Confira no site.", "Só hoje: frete grátis acima de R$ 99.",
    "5 dicas para vender mais pelo WhatsApp.", "Prepare seu estoque para a Black Friday.",
)
# fmt: on
