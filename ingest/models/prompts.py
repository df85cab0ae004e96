"""Prompts and JSON schemas for the LLM miner and the VLM extractor.

The association prompt follows the published method: the dense description
(context), the literal caption and the salient words; for each word three
words of the same part of speech at each of five distances, fitting the
context, swappable into the caption, never the word itself.
"""

from __future__ import annotations

from typing import Any

from evokegraph.levels import DISTANCE_NAMES, DISTANCES
from evokegraph.records import Element

# distance -> (name, meaning, example for "ball"); names from evokegraph.levels
_MEANINGS = {
    1: ("close in meaning or form", "sphere"),
    2: ("a slightly broader category", "toy"),
    3: ("linked through situational or emotional context", "game"),
    4: ("more abstract, theme-related", "competition"),
    5: ("highly abstract or metaphorical", "journey"),
}
DEFINITIONS = {d: (DISTANCE_NAMES[d], *_MEANINGS[d]) for d in DISTANCES}


def association_schema(words: list[str], per_distance: int = 3) -> dict[str, Any]:
    level = {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": per_distance}
    per_word = {
        "type": "object",
        "properties": {f"distance {d}": level for d in DISTANCES},
        "required": [f"distance {d}" for d in DISTANCES],
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


# -- the reference preset (get_associations_format.py, format_associations.py) -------
def reference_association_messages(
    context_caption: str, short_caption: str, words: list[str]
) -> list[dict[str, str]]:
    """The reference's association prompt, in meaning: a system prompt with the
    five distances (ball -> sphere, toy, game, competition, journey), the dense
    context caption and the short caption; the user turn is the word list."""
    system = (
        "For a given list of words, generate a new list for each word using the same part of "
        "speech. The words should follow a semantic abstraction scale where distance increases "
        "from near-synonyms to abstract concepts.\n"
        "Approach:\n"
        "1. Distance 1 - Near Synonyms: close in meaning or form (e.g., Ball -> Sphere).\n"
        "2. Distance 2 - Slight Abstraction: a slightly broader category (e.g., Ball -> Toy).\n"
        "3. Distance 3 - Broader Context: indirect, but linked through situational and emotional "
        "context (e.g., Ball -> Game).\n"
        "4. Distance 4 - Conceptual Association: more abstract or theme-related "
        "(e.g., Ball -> Competition).\n"
        "5. Distance 5 - Full Abstraction: highly abstract or metaphorical (e.g., Ball -> Journey).\n"
        "Generate three words each for distances 1 to 5. Generated words should fit into the "
        "overall emotional and situational context of this context caption: "
        f"`{context_caption}`. Generated words, when they replace the original word in this short "
        f"caption {short_caption}, should be semantically correct.\n"
        "Do not generate the original word in the new generations. Use JSON format: the key is "
        "the original word, the value is a dictionary with distances as keys and the list of "
        "generated words as values."
    )
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": str(list(words))},  # the reference sends str(list)
    ]
