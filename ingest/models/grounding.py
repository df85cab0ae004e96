"""Grounding with open_clip and canonicalization with sentence-transformers.

* :class:`ClipGrounder` scores, batched, the cosine between each image and a
  prompt per element ("a photo of a dog") and per association ("a photo
  evoking loyalty") and stores it on the records (``grounding``); the weight
  is computed later, once, by :func:`evokegraph.weights.finalize`, from rank,
  mentions and this cosine.
  Default model: ViT-B-32 ``laion2b_s34b_b79k`` (where weights are available).
* :class:`Canonicalizer` merges near-duplicate concepts ("sea shore" and
  "seashore") whose sentence embeddings have cosine above a threshold into one
  canonical key; the surface form stays on the edge (``Evocation.surface``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evokegraph.ingest.stages import MiningInput
from evokegraph.records import Evocation


class ClipGrounder:
    """Image-text cosines from an open_clip model, written onto the records."""

    def __init__(
        self,
        model: str = "ViT-B-32",
        pretrained: str | None = "laion2b_s34b_b79k",
        device: str | None = None,
        batch_size: int = 256,
    ) -> None:
        from evokegraph.models.clip import ClipScorer

        self.clip = ClipScorer.load(model, pretrained, device, batch_size=batch_size)
        self.device = self.clip.device
        self.spec = f"{model}:{pretrained}"

    def ground(self, inputs: Sequence[MiningInput], evocations: Sequence[list[Evocation]]) -> None:
        """Fill ``grounding`` on elements and evocations (in place)."""
        todo = [
            (i, inp, inp.item.image) for i, inp in enumerate(inputs) if inp.item.image is not None
        ]
        if not todo:
            return
        images = self.clip.encode_images([im for _, _, im in todo])
        prompts: list[str] = []
        slots: list[tuple[int, Any]] = []
        for row, (i, inp, _) in enumerate(todo):
            for el in inp.elements:
                prompts.append(f"a photo of {el.name}")
                slots.append((row, el))
            for ev in evocations[i]:
                prompts.append(f"a photo evoking {ev.surface or ev.concept}")
                slots.append((row, ev))
        if not prompts:
            return
        texts = self.clip.encode_texts(prompts)
        cos = (texts * images[[r for r, _ in slots]]).sum(-1).tolist()
        for (_, rec), c in zip(slots, cos, strict=True):
            rec.grounding = float(c)


class Canonicalizer:
    """Near-duplicate concepts -> one canonical key (sentence-transformers)."""

    def __init__(
        self,
        model: Any = "sentence-transformers/all-MiniLM-L6-v2",
        threshold: float = 0.9,
        device: str | None = None,
    ) -> None:
        if isinstance(model, str):  # a hub name or a local dir; else a ready encoder
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(model, device=device or "cpu")
        self.model = model
        self.threshold = threshold
        self.canonical: list[str] = []  # keys seen so far, in order
        self._emb: Any = None

    def map(self, words: Sequence[str]) -> dict[str, str]:
        """word -> canonical key; the first-seen form of a near-duplicate group wins."""
        import torch

        new = [w for w in dict.fromkeys(words) if w not in self.canonical]
        out = {w: w for w in words if w in self.canonical}
        if not new:
            return out
        emb = (
            self.model.encode(new, convert_to_tensor=True, normalize_embeddings=True).float().cpu()
        )
        for w, e in zip(new, emb, strict=True):
            if self._emb is not None and len(self.canonical):
                sims = self._emb @ e
                j = int(torch.argmax(sims))
                if float(sims[j]) >= self.threshold:
                    out[w] = self.canonical[j]
                    continue
            self.canonical.append(w)
            self._emb = e[None] if self._emb is None else torch.cat([self._emb, e[None]])
            out[w] = w
        return out

    def apply(self, evocations: list[Evocation]) -> list[Evocation]:
        m = self.map([e.concept for e in evocations])
        return [
            e.model_copy(update={"concept": m[e.concept], "surface": e.surface or e.concept})
            for e in evocations
        ]
