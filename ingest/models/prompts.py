"""Prompts and JSON schemas for the LLM miner and the VLM extractor.

The association prompt follows the published method: the dense description
(context), the literal caption and the salient words; for each word three
words of the same part of speech at each of five distances, fitting the
context, swappable into the caption, never the word itself.
"""

from __future__ import annotations

from typing import Any

from evokegraph.records import Element

DEFINITIONS = {
    1: ("near synonym", "close in meaning or form", "sphere"),
    2: ("slight abstraction", "a slightly broader category", "toy"),
    3: ("broader context", "linked through situational or emotional context", "game"),
    4: ("conceptual association", "more abstract, theme-related", "competition"),
    5: ("full abstraction", "highly abstract or metaphorical", "journey"),
}


def association_schema(words: list[str], per_distance: int = 3) -> dict[str, Any]:
    level = {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": per_distance}
    per_word = {
        "type": "object",
        "properties": {f"distance {d}": level for d in range(1, 6)},
        "required": [f"distance {d}" for d in range(1, 6)],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {w: per_word for w in words},
        "required": list(words),
        "additionalProperties": False,
    }


def association_messages(
    description: str, caption: str, elements: list[Element], per_distance: int = 3
) -> list[dict[str, str]]:
    levels = "\n".join(
        f"- distance {d} ({name}): {meaning}; for 'ball' e.g. '{ex}'"
        for d, (name, meaning, ex) in DEFINITIONS.items()
    )
    words = ", ".join(f"{e.concept} ({e.pos.lower()})" for e in elements)
    user = (
        f"Image description: {description}\n"
        f"Literal caption: {caption}\n"
        f"Salient words: {words}\n\n"
        f"For each salient word give {per_distance} associated words at each of five distances:\n"
        f"{levels}\n"
        "Rules: the same part of speech as the word; they must fit this image's context; "
        "swapped into the literal caption, the caption must still make sense; never the word itself.\n"
        'Answer with JSON only: {"word": {"distance 1": [...], ..., "distance 5": [...]}, ...}'
    )
    return [
        {"role": "system", "content": "You mine contextual visual associations. Answer in JSON."},
        {"role": "user", "content": user},
    ]


EXTRACTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "description": {"type": "string"},
        "elements": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "pos": {"enum": ["NOUN", "VERB", "ADJ"]},
                    "salience": {"type": "number"},
                },
                "required": ["name", "pos", "salience"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["description", "elements"],
    "additionalProperties": False,
}


def extraction_messages(captions: list[str], top_k: int = 5) -> list[dict[str, str]]:
    hint = f" Known captions: {' | '.join(captions)}." if captions else ""
    return [
        {
            "role": "user",
            "content": (
                "Describe this image densely in 3-5 sentences, then list its "
                f"{top_k} most salient concrete elements (objects, actions, qualities) as single "
                "lemmatised words with part of speech (NOUN, VERB, ADJ) and salience 0..1."
                f"{hint} Answer with JSON only: "
                '{"description": "...", "elements": [{"name": "...", "pos": "NOUN", "salience": 0.9}]}'
            ),
        }
    ]
