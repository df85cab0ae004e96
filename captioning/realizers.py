"""Caption realizers: one protocol, chosen by name.

* ``template``: offline graph-to-text with no model. Short grammatical
  captions from the element, the association and the depth: patterns per word
  class (noun, verb, adjective) and depth, chosen deterministically; articles,
  -ing forms and mass nouns from :mod:`~evokegraph.captioning.grammar`
  (inflect, lemminflect, WordNet, wordfreq), never string suffixes; an identity
  or sensitive term is only named as the element's association. An honest baseline: it says what the graph holds,
  it does not look at the image.
* ``vlm``: the published method's caption step on any
  :class:`~evokegraph.models.chat.ChatEngine`: the image, the association
  word and the target level's definition; a caption under 10 words that must
  contain the word. Answers that break the rules are retried once, then
  recorded as failures.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import Field

from evokegraph.captioning.grammar import (
    class_uses,
    countable,
    gerund,
    sensitive,
    with_article,
    word_class,
)
from evokegraph.levels import DISTANCE_NAMES, LEVEL_DEFINITIONS, MAX_EVOKES_DISTANCE
from evokegraph.models.chat import ChatEngine, ChatRequest
from evokegraph.options import BackendOptions, keyless
from evokegraph.records import ContextPath
from evokegraph.registry import Registry
from evokegraph.runs import Failed

MAX_WORDS = 10


@dataclass
class CaptionRequest:
    path: ContextPath
    image: Any = None  # PIL image for realizers that look at the picture
    captions: Sequence[str] = ()  # the image's literal captions
    salient: Sequence[str] = ()  # the image's salient elements (the reference prompt's words)


@runtime_checkable
class Realizer(Protocol):
    name: str
    model: str

    def settings(self) -> dict[str, Any]: ...

    def realize(self, requests: Sequence[CaptionRequest]) -> list[str | Failed]:
        """One caption (or failure) per request, in order."""


REALIZERS: Registry[Realizer] = Registry("realizer")


# -- templates ------------------------------------------------------------------
# Patterns per word class of the association and depth. Fields: {el}/{El} the
# element phrase ("the cup"), {a}/{A} the bare association, {as}/{As} the
# association as a noun phrase (with its article when it is a countable, concrete
# noun), {an_a}/{An_a} the association with its article, {g}/{G} its -ing form.
NOUN_PATTERNS: dict[int, tuple[str, ...]] = {
    1: ("{El}, or {as}", "{El}, much like {as}", "{El} that could be {as}"),
    2: ("{El}, a kind of {a}", "{El}: {as} of sorts", "{As}, seen as {el}"),
    3: ("{El} in a scene of {as}", "{El} and the world of {as}", "{El}, thinking of {as}"),
    4: ("{El} that speaks of {as}", "{El}, a quiet note of {as}", "{El} as a sign of {as}"),
    5: ("{As}, held in {el}", "{El}: an image of {as}", "{As} made visible in {el}"),
}
VERB_PATTERNS: dict[int, tuple[str, ...]] = {
    1: ("{El}, {g}", "{El}, caught {g}"),
    2: ("{El}, a way of {g}", "{G} with {el}"),
    3: ("{El} and the act of {g}", "A moment of {g} with {el}"),
    4: ("{El} and the idea of {g}", "{G}, told by {el}"),
    5: ("{G} itself, held in {el}", "{El}: the idea of {g}"),
}
ADJ_PATTERNS: dict[int, tuple[str, ...]] = {
    1: ("{El}, {a}", "{El}, looking {a}"),
    2: ("{El}, somewhat {a}", "Something {a} about {el}"),
    3: ("{El} in {an_a} mood", "{An_a} scene with {el}"),
    4: ("{El}, {a} at heart", "The {a} side of {el}"),
    5: ("{El}: simply {a}", "Everything {a} about {el}"),
}
# an adjective element's slight abstraction that is a noun names the quality the
# adjective is a value of (miner version 31: red -> "hue", small -> "size")
ATTRIBUTE_PATTERNS: tuple[str, ...] = ("The {a} of {el}", "{El} and its {a}")
# words of another class, and identity or sensitive terms at every depth: the
# word is named as the element's association, never made a property of it
MENTION_PATTERNS = ('{El}, with the association "{a}"', '{El} and the word "{a}"')
PATTERNS: dict[str, dict[int, tuple[str, ...]]] = {
    "NOUN": NOUN_PATTERNS,
    "VERB": VERB_PATTERNS,
    "ADJ": ADJ_PATTERNS,
}
TEMPLATE_VERSION = 5  # part of the realizer's settings: new patterns caption again


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def modified_noun(element: str, captions: Sequence[str]) -> str | None:
    """The noun an adjective element qualifies in the image's captions: "saucer"
    for "red" in "a cup of coffee on a red saucer" (the last noun of the words
    that follow it, "flower" in "a bright yellow flower"); None when the element
    is no adjective or never stands before a noun there."""
    if "ADJ" not in class_uses(element) or " " in element.strip():
        return None
    for text in captions:
        words = _WORD.findall(text.lower())
        for i, word in enumerate(words):
            if word != element:
                continue
            head = None
            for nxt in words[i + 1 : i + 4]:
                uses = class_uses(nxt)
                if nxt in _FUNCTION_WORDS or not ({"NOUN", "ADJ"} & set(uses)):
                    break
                if "NOUN" in uses:
                    head = nxt
            if head is not None:
                return head
    return None


_WORD = re.compile(r"[a-z][a-z'-]*")
_FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "in",
        "on",
        "at",
        "to",
        "with",
        "by",
        "for",
        "from",
        "under",
        "over",
        "near",
        "is",
        "are",
        "was",
        "were",
        "be",
        "its",
        "their",
        "his",
        "her",
        "this",
        "that",
        "these",
        "those",
    ]
)


def element_phrase(element: str, captions: Sequence[str] = ()) -> str:
    """The element as a noun phrase, "the cup"; an adjective with the noun it
    qualifies in the captions ("the red saucer"); an element that is only an
    adjective or a verb reads as a scene ("the noisy scene") or an activity
    ("the staring")."""
    head = modified_noun(element, captions)
    if head is not None:
        return f"the {element} {head}"
    uses = class_uses(element)
    if "NOUN" in uses or not uses or " " in element.strip():
        return f"the {element}"  # extractors name things: a noun wherever WordNet has one
    if "ADJ" in uses:
        return f"the {element} scene"
    return f"the {gerund(element) or element}"


def qualified(element: str, phrase: str, captions: Sequence[str]) -> bool:
    """The element is an adjective in this image: it qualifies a noun of the
    captions, or it is only an adjective (``phrase``: its :func:`element_phrase`)."""
    return modified_noun(element, captions) is not None or phrase == f"the {element} scene"


def template_kind(path: ContextPath) -> str:
    """The pattern table for a path: its association's word class, or "MENTION"
    for sensitive terms and words no pattern fits."""
    if sensitive(path.concept) is not None:
        return "MENTION"
    kind = word_class(path.concept, path.pos)
    return kind if kind in PATTERNS else "MENTION"


def template_caption(
    path: ContextPath, abstract: bool, seed: int = 0, captions: Sequence[str] = ()
) -> str:
    word = path.concept
    depth = min(max(path.depth, 1), MAX_EVOKES_DISTANCE)
    kind = template_kind(path)
    patterns = MENTION_PATTERNS if kind == "MENTION" else PATTERNS[kind][depth]
    el = element_phrase(path.element, captions)
    if kind == "NOUN" and path.depth == 2 and qualified(path.element, el, captions):
        patterns = ATTRIBUTE_PATTERNS  # "The hue of the red saucer", not "a kind of hue"
    h = int(
        hashlib.sha256(
            f"{path.image_id}|{path.element}|{word}|{path.depth}|{seed}".encode()
        ).hexdigest(),
        16,
    )
    pattern = patterns[h % len(patterns)]
    noun = word if abstract or not countable(word) else with_article(word)
    g = (gerund(word) or word) if kind == "VERB" else word
    values = {
        "el": el,
        "El": _cap(el),
        "a": word,
        "A": _cap(word),
        "as": noun,
        "As": _cap(noun),
        "an_a": with_article(word),
        "An_a": _cap(with_article(word)),
        "g": g,
        "G": _cap(g),
    }
    return _cap(pattern.format(**values))


class TemplateOptions(BackendOptions):
    """The ``template`` realizer's options (``caption -o KEY=VALUE``)."""

    seed: int = Field(0, description="picks among a depth's patterns (caption --seed)")
    abstract_below: float = Field(
        3.0, description="concreteness under which a word is captioned as abstract"
    )


class TemplateRealizer:
    """Offline graph-to-text captions (no model)."""

    name = "template"
    model = ""

    def __init__(self, seed: int = 0, abstract_below: float = 3.0) -> None:
        self.options = TemplateOptions(seed=seed, abstract_below=abstract_below)
        self.seed = seed
        self.abstract_below = abstract_below

    def settings(self) -> dict[str, Any]:
        return self.options.settings(TEMPLATE_VERSION)

    def realize(self, requests: Sequence[CaptionRequest]) -> list[str | Failed]:
        from evokegraph.lexicons.concreteness import concreteness

        return [
            template_caption(
                r.path, concreteness(r.path.concept) < self.abstract_below, self.seed, r.captions
            )
            for r in requests
        ]


REALIZERS.add(
    "template", TemplateRealizer, "offline graph-to-text templates (no model)", TemplateOptions
)


# -- the VLM realizer -----------------------------------------------------------
def caption_prompt(path: ContextPath, captions: Sequence[str]) -> list[dict[str, str]]:
    level = min(max(path.depth, 1), MAX_EVOKES_DISTANCE)
    literal = captions[0] if captions else ""
    text = (
        f"Write one caption for this image, under {MAX_WORDS} words.\n"
        f'The caption must contain the word "{path.concept}" and stay grounded in what the image shows.\n'
        f'The word is an association of the "{path.element}" in the image at abstraction level '
        f"{level} ({DISTANCE_NAMES[level]}): {LEVEL_DEFINITIONS[level]}.\n"
        + (f'A literal caption of the image: "{literal}".\n' if literal else "")
        + "Answer with the caption only."
    )
    return [{"role": "user", "content": text}]


def check_caption(text: str, word: str) -> str | None:
    """None if the caption follows the rules, else the reason it does not."""
    t = text.strip().strip('"').strip()
    if not t:
        return "empty caption"
    if len(t.split()) >= MAX_WORDS:
        return f"{len(t.split())} words; the limit is under {MAX_WORDS}"
    stem = word.lower()[: max(3, len(word) - 2)]
    if not re.search(rf"\b{re.escape(stem)}", t.lower()):
        return f"caption does not contain {word!r}"
    return None


class VLMRealizerOptions(BackendOptions):
    """The ``vlm`` realizer's options (its model: ``caption --vlm ENGINE:MODEL``)."""

    temperature: float = Field(0.7, ge=0, description="sampling temperature")
    top_p: float = Field(0.9, gt=0, le=1, description="nucleus sampling mass")
    prompt: Literal["project", "reference"] = keyless(
        "project", "project (word + level definition) or reference (the authors' prompt)"
    )
    raw_prompt: bool = keyless(False, "reference prompt in Molmo's plain USER/ASSISTANT form")


class VLMRealizer:
    """The published method's caption step, on a vision-language ChatEngine."""

    name = "vlm"

    def __init__(
        self,
        engine: ChatEngine,
        temperature: float = 0.7,
        top_p: float = 0.9,
        prompt: str = "project",
        raw_prompt: bool = False,
    ) -> None:
        if prompt not in ("project", "reference"):
            from evokegraph.errors import UserInputError

            raise UserInputError(f"unknown caption prompt {prompt!r}; use project or reference")
        self.engine = engine
        self.model = engine.spec
        self.options = VLMRealizerOptions.model_validate(
            {"temperature": temperature, "top_p": top_p, "prompt": prompt, "raw_prompt": raw_prompt}
        )
        self.temperature = temperature
        self.top_p = top_p
        self.prompt = prompt
        self.raw_prompt = raw_prompt  # Molmo's plain "USER: <image> ... ASSISTANT:" form

    def settings(self) -> dict[str, Any]:
        # the prompt and its form enter the key only for the reference prompt (keys of
        # project captions written before the option existed stay valid)
        if self.prompt == "reference":
            return self.options.settings(
                model=self.model, prompt="reference-1", raw_prompt=self.raw_prompt
            )
        return self.options.settings(model=self.model)

    def _chat(self, r: CaptionRequest) -> ChatRequest:
        images = [r.image] if r.image is not None else []
        if self.prompt == "project":
            return ChatRequest(
                caption_prompt(r.path, r.captions),
                images,
                max_tokens=40,
                temperature=self.temperature,
                top_p=self.top_p,
            )
        from evokegraph.captioning.prompts import reference_caption_text
        from evokegraph.models.chat import reference_raw_prompt

        level = min(max(r.path.depth, 1), MAX_EVOKES_DISTANCE)
        text = reference_caption_text(r.path.concept, r.path.element, list(r.salient), level)
        raw = reference_raw_prompt(text) if self.raw_prompt else None
        msgs = [{"role": "user", "content": text}]
        return ChatRequest(
            msgs,
            images,
            max_tokens=150,
            raw_prompt=raw,
            temperature=self.temperature,
            top_p=self.top_p,
        )

    def _ask(self, reqs: Sequence[CaptionRequest]) -> list[tuple[str, str]]:
        chats = [self._chat(r) for r in reqs]
        return [
            (res.text.strip().strip('"').strip(), res.error) for res in self.engine.generate(chats)
        ]

    def realize(self, requests: Sequence[CaptionRequest]) -> list[str | Failed]:
        out: list[str | Failed] = [Failed("not answered")] * len(requests)
        todo = list(range(len(requests)))
        for attempt in (1, 2):  # one retry for answers that break the rules
            if not todo:
                break
            answers = self._ask([requests[i] for i in todo])
            retry = []
            for i, (text, error) in zip(todo, answers, strict=True):
                reason = (
                    f"engine error: {error}"
                    if error
                    else check_caption(text, requests[i].path.concept)
                )
                if reason is None:
                    out[i] = text
                else:
                    out[i] = Failed(f"{reason} (after {attempt} tries)", raw=text)
                    retry.append(i)
            todo = retry
        return out


def _vlm_factory(
    spec: str = "",
    engine: ChatEngine | None = None,
    engine_options: dict[str, Any] | None = None,
    **kw: Any,
) -> VLMRealizer:
    if engine is None:
        from evokegraph.errors import UserInputError
        from evokegraph.models.chat import load_engine

        if not spec:
            raise UserInputError("the vlm realizer needs a model: pass --vlm ENGINE:MODEL")
        engine = load_engine(spec, **(engine_options or {}))
    return VLMRealizer(engine, **kw)


REALIZERS.add(
    "vlm",
    _vlm_factory,
    "a vision-language model writes the caption (method step 3)",
    VLMRealizerOptions,
)
