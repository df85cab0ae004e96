"""Caption realizers: one protocol, chosen by name.

* ``template``: offline graph-to-text with no model. Short grammatical
  captions from the element, the association and the depth (articles,
  part of speech, mass nouns for abstract ideas), several patterns per depth
  chosen deterministically. An honest baseline: it says what the graph holds,
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
from typing import Any, Protocol, runtime_checkable

from evokegraph.levels import DISTANCE_NAMES, LEVEL_DEFINITIONS, MAX_EVOKES_DISTANCE
from evokegraph.models.chat import ChatEngine, ChatRequest
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


# -- grammar ------------------------------------------------------------------
_VOWEL_SOUND_EXCEPTIONS = ("uni", "use", "usu", "uti", "eu", "one", "once", "ewe")
_SILENT_H = ("hour", "honest", "honor", "honour", "heir")


def article(word: str) -> str:
    w = word.lower()
    if w.startswith(_SILENT_H):
        return "an"
    if w.startswith(_VOWEL_SOUND_EXCEPTIONS):
        return "a"
    return "an" if w[:1] in "aeiou" else "a"


def with_article(word: str) -> str:
    return f"{article(word)} {word}"


def gerund(verb: str) -> str:
    """run -> running, make -> making, see -> seeing, lie -> lying."""
    v = verb.split()[0] if " " in verb else verb
    rest = verb[len(v) :]
    if v.endswith("ie"):
        g = v[:-2] + "ying"
    elif v.endswith("e") and not v.endswith(("ee", "ye", "oe")):
        g = v[:-1] + "ing"
    elif (
        len(v) >= 3
        and re.fullmatch(r".*[^aeiou][aeiou][^aeiouwxy]", v)
        and not re.fullmatch(r".*[aeiou]{2}[^aeiou]", v)
        and len(re.findall(r"[aeiou]+", v)) == 1
    ):
        g = v + v[-1] + "ing"
    else:
        g = v + "ing"
    return g + rest


def countable(word: str) -> bool:
    """False for mass nouns ("equipment", "furniture", "luggage"): their plural is
    rare next to the singular in English text (wordfreq); True when unknown."""
    from evokegraph.lexicons.frequency import zipf_frequency_or_none

    head = word.split()[-1]
    singular = zipf_frequency_or_none(head)
    if singular is None or singular < 2.5:
        return True  # no wordfreq, or too rare to judge
    plural = head + ("es" if head.endswith(("s", "sh", "ch", "x", "z")) else "s")
    return (zipf_frequency_or_none(plural) or 0.0) >= singular - 2.0


def _noun_phrase(word: str, abstract: bool) -> str:
    return word if abstract or not countable(word) else with_article(word)


# Patterns per depth; {el} is the element phrase, {as} the association phrase.
NOUN_PATTERNS = {
    1: ("{El}, or {as}", "{as} in the picture", "{El} that could be {as}"),
    2: ("{El}, a kind of {a}", "{El}: {as} of sorts", "{as}, seen as {el}"),
    3: ("{El} in a scene of {a}", "{El} and the world of {a}", "{El}, thinking of {a}"),
    4: ("{El} that speaks of {a}", "{El}, a quiet note of {a}", "{El} as a sign of {a}"),
    5: ("{A}, held in {el}", "{El}: an image of {a}", "{A} made visible"),
}
VERB_PATTERNS = {
    1: ("{El} {g} here", "{El}, {g}"),
    2: ("{El}, a way of {g}", "{G} with {el}"),
    3: ("{El} and the act of {g}", "A moment of {g} with {el}"),
    4: ("{El} about {g}", "{G}, told by {el}"),
    5: ("{G} itself, held in {el}", "{El}: the idea of {g}"),
}
ADJ_PATTERNS = {
    1: ("{An} {a} {elw}", "{El}, {a}"),
    2: ("{El}, somewhat {a}", "Something {a} about {el}"),
    3: ("{El} in a {a} mood", "A {a} scene with {el}"),
    4: ("{El}, {a} at heart", "The {a} side of {el}"),
    5: ("{A}, all of it", "{El}: simply {a}"),
}


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def template_caption(path: ContextPath, abstract: bool, seed: int = 0) -> str:
    el = path.element
    word = path.concept
    depth = min(max(path.depth, 1), MAX_EVOKES_DISTANCE)
    table = {"VERB": VERB_PATTERNS, "ADJ": ADJ_PATTERNS}.get(path.pos, NOUN_PATTERNS)
    patterns = table[depth]
    h = int(
        hashlib.sha256(f"{path.image_id}|{el}|{word}|{path.depth}|{seed}".encode()).hexdigest(), 16
    )
    pattern = patterns[h % len(patterns)]
    el_phrase = f"the {el}"
    values = {
        "el": el_phrase,
        "El": _cap(el_phrase),
        "elw": el,
        "a": word,
        "A": _cap(word),
        "as": _noun_phrase(word, abstract),
        "An": _cap(article(word)),
        "g": gerund(word),
        "G": _cap(gerund(word)),
    }
    text = pattern.format(**values)
    return _cap(text)


class TemplateRealizer:
    """Offline graph-to-text captions (no model)."""

    name = "template"
    model = ""

    def __init__(self, seed: int = 0, abstract_below: float = 3.0) -> None:
        self.seed = seed
        self.abstract_below = abstract_below

    def settings(self) -> dict[str, Any]:
        return {"seed": self.seed, "abstract_below": self.abstract_below, "version": 2}

    def realize(self, requests: Sequence[CaptionRequest]) -> list[str | Failed]:
        from evokegraph.lexicons.concreteness import concreteness

        return [
            template_caption(r.path, concreteness(r.path.concept) < self.abstract_below, self.seed)
            for r in requests
        ]


REALIZERS.add("template", TemplateRealizer, "offline graph-to-text templates (no model)")


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
        self.temperature = temperature
        self.top_p = top_p
        self.prompt = prompt
        self.raw_prompt = raw_prompt  # Molmo's plain "USER: <image> ... ASSISTANT:" form

    def settings(self) -> dict[str, Any]:
        out = {"model": self.model, "temperature": self.temperature, "top_p": self.top_p}
        if self.prompt == "reference":
            out |= {"prompt": "reference-1", "raw_prompt": self.raw_prompt}
        return out

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


REALIZERS.add("vlm", _vlm_factory, "a vision-language model writes the caption (method step 3)")
