"""The caption prompt of the reference preset (``format_associations.py``).

The project's own caption prompt is :func:`evokegraph.captioning.realizers.caption_prompt`;
Molmo's plain ``USER: <image> ... ASSISTANT:`` wrapper is
:func:`evokegraph.models.chat.reference_raw_prompt`.
"""

from __future__ import annotations

REFERENCE_LEVELS = (
    "Distance 1 - Near Synonyms: close in meaning or form of the original image; "
    "Distance 2 - Slight Abstraction: slightly more loose and abstract to the image; "
    "Distance 3 - Broader Context: indirect, but linked through situational and emotional "
    "context of the image; Distance 4 - Conceptual Association: more abstract or theme-related "
    "to the image; Distance 5 - Full Abstraction: highly abstract or metaphorical to the image"
)


def reference_caption_text(new_word: str, element: str, salient: list[str], depth: int) -> str:
    """The reference's caption instruction (format_associations.py), in meaning: the
    association first, then the image's *other* salient words, the distance rules,
    and the association as a must."""
    words = ", ".join([new_word, *[w for w in salient if w != element]])
    return (
        "Write a short caption that is grounded in this image and semantically correct in less "
        f"than 10 words, choosing some or all of these words: {words} to make the caption best "
        "represent the image. Steer the style of the caption toward this distance level of "
        f"abstraction {depth} following these rules: {REFERENCE_LEVELS}. "
        f"The caption MUST contain {new_word}."
    )
