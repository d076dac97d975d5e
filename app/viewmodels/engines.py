"""The models open now, Instant and trained, and which one Generate uses."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from app.engine_api import ModelHandle
from app.events import ModelKind, ModelSummary

ENGINE_ORDER: tuple[ModelKind, ...] = ("instant", "trained")
"""How the open models are listed: Instant first."""


def engine_caption(model: ModelSummary) -> str:
    """What the canvas says over a model's training image: which engine Generate uses now."""
    name = Path(model.path).name
    if model.instant:
        return f"{name} · Instant is ready: Generate needs no training"
    return f"Training image of {name} · Generate uses this trained model"


class OpenEngines:
    """At most one model of each kind: Instant for the open photo, and the model trained from
    it (or a model file opened on its own). `current` is the one Generate uses, with `handle`,
    the engine's handle on it, which the jobs that use it get back.

    Plain data, no signals: AppState says `model_changed` once the rest has followed."""

    def __init__(self) -> None:
        self._open: dict[ModelKind, tuple[ModelSummary, ModelHandle]] = {}
        self.current: ModelSummary | None = None
        self.handle: ModelHandle | None = None

    @property
    def models(self) -> tuple[ModelSummary, ...]:
        """The models open, Instant first."""
        return tuple(self._open[kind][0] for kind in ENGINE_ORDER if kind in self._open)

    def is_open(self, kind: ModelKind) -> bool:
        return kind in self._open

    def open_only(self, model: ModelSummary | None, handle: ModelHandle | None) -> None:
        """Open `model` alone (None: no model), closing any other, and make it current."""
        self._open = {}
        if model is not None and handle is not None:
            self._open[model.kind] = (model, handle)
        self.current, self.handle = model, handle

    def add_trained(self, model: ModelSummary, handle: ModelHandle) -> None:
        """A training ended: its model becomes current; an open Instant stays beside it."""
        self._open["trained"] = (model, handle)
        self.current, self.handle = model, handle

    def switch_to(self, kind: ModelKind) -> bool:
        """Make the open model of `kind` current; False when none of that kind is open."""
        if kind not in self._open:
            return False
        self.current, self.handle = self._open[kind]
        return True

    def moved(self, path: str) -> bool:
        """The current model was saved as `path`, where it lives from now on (False: there is
        no current model)."""
        if self.current is None or self.handle is None:
            return False
        self.current = replace(self.current, path=path)
        self._open[self.current.kind] = (self.current, self.handle)
        return True
