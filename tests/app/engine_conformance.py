"""Checked by mypy only (.ci/run): the real engine, the fake and the worker satisfy the
interfaces the view-model is written against (app.engine_api)."""

from __future__ import annotations

from app.engine import Engine
from app.engine_api import EngineApi, Runner
from app.worker import JobRunner
from tests.app.fake_engine import FakeEngine


def _conforms() -> None:
    _real: EngineApi = Engine()
    _fake: EngineApi = FakeEngine()
    _runner: Runner = JobRunner()
