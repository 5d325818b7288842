"""A tool-use task of any size, in the shape of AWS's Nova tool-use sample (tests/fixtures/tooluse/README.md):
the tools and the request in the user turn, the expected call as JSON text in the answer. Not the moderation
sample: the stand-ins and the report must mean something on a team's own task."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

TOOLS = [
    {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"city": "string", "unit": "celsius or fahrenheit"},
    },
    {
        "name": "convert_currency",
        "description": "Convert an amount between two currencies.",
        "parameters": {"amount": "number", "source_currency": "ISO code", "target_currency": "ISO code"},
    },
    {
        "name": "book_table",
        "description": "Reserve a table at a restaurant.",
        "parameters": {"restaurant": "string", "party_size": "integer", "time": "HH:MM, 24-hour"},
    },
    {
        "name": "track_parcel",
        "description": "Where a parcel is, from its tracking number.",
        "parameters": {"tracking_number": "string"},
    },
]
SYSTEM = "You answer each request with exactly one call to one of the tools you are given."
INSTRUCTION = (
    'Answer the request below with one call to one of these tools, as JSON with the keys "name" and '
    '"parameters", and nothing else.\n<tools>\n' + json.dumps(TOOLS) + "\n</tools>\n"
)
_CITIES = ["Lisbon", "Oslo", "Paris", "Lima", "Quito", "Cairo", "Tokyo", "Perth", "Austin", "Dakar", "Hanoi", "Porto"]
_CURRENCIES = ["EUR", "USD", "GBP", "JPY", "CHF", "SEK", "NOK", "BRL"]
_RESTAURANTS = ["Luigi's", "The Oak", "Sakura", "Blue Door", "Chez Marie", "Green Leaf"]


def request_and_call(pick: random.Random) -> tuple[str, dict[str, Any]]:
    """One request in words and the tool call that answers it."""
    kind = pick.randrange(4)
    if kind == 0:
        city, unit = pick.choice(_CITIES), pick.choice(["celsius", "fahrenheit"])
        words = pick.choice([f"What's the weather in {city} in {unit}?", f"How warm is it in {city} now? Use {unit}."])
        return words, {"name": "get_weather", "parameters": {"city": city, "unit": unit}}
    if kind == 1:
        amount, (source, target) = pick.randint(5, 5000), pick.sample(_CURRENCIES, 2)
        words = pick.choice(
            [f"Convert {amount} {source} to {target}.", f"I have {amount} {source}; what is that in {target}?"]
        )
        return words, {
            "name": "convert_currency",
            "parameters": {"amount": amount, "source_currency": source, "target_currency": target},
        }
    if kind == 2:
        place, size = pick.choice(_RESTAURANTS), pick.randint(1, 12)
        time = f"{pick.randint(11, 22):02d}:{pick.choice(['00', '15', '30', '45'])}"
        words = pick.choice(
            [f"Book a table for {size} at {place} at {time}.", f"Reserve {place} for {size} people, {time}."]
        )
        return words, {"name": "book_table", "parameters": {"restaurant": place, "party_size": size, "time": time}}
    number = "".join(pick.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(12))
    words = pick.choice([f"Where is my parcel {number}?", f"Track package {number} please."])
    return words, {"name": "track_parcel", "parameters": {"tracking_number": number}}


def write(path: Path, count: int, *, seed: int, data_format: str = "bedrock-conversation-2024") -> Path:
    """``count`` records in ``data_format`` (Bedrock's conversation format, as AWS's sample, or prompt/completion)."""
    pick = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for _ in range(count):
            words, call = request_and_call(pick)
            prompt = f"{INSTRUCTION}<request>\n{words}\n</request>"
            record: dict[str, Any]
            if data_format == "prompt-completion":
                record = {"prompt": prompt, "completion": json.dumps(call)}
            else:
                record = {
                    "schemaVersion": "tooluse-dataset-2024",
                    "system": [{"text": SYSTEM}],
                    "messages": [
                        {"role": "user", "content": [{"text": prompt}]},
                        {"role": "assistant", "content": [{"text": json.dumps(call)}]},
                    ],
                }
            out.write(json.dumps(record) + "\n")
    return path
