"""A stand-in chat engine for the tests (no LLM or VLM is reachable here): the
chat engines' interface, one fixed answer, the requests it was sent kept."""

from __future__ import annotations

from collections.abc import Sequence

from evokegraph.models.chat import ChatRequest, ChatResult


class FakeEngine:
    spec = "fake:model"

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.requests: list[ChatRequest] = []

    def generate(self, requests: Sequence[ChatRequest]) -> list[ChatResult]:
        self.requests += requests
        return [ChatResult(text=self.answer) for _ in requests]
