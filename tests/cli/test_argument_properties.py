"""Property tests of argument parsing (issue 12): any text given for a size, a scale, a box or
start steps either becomes a valid value or is refused with the command line's plain error
(argparse.ArgumentTypeError, then ConfigError from core) — never another exception."""

from __future__ import annotations

import argparse
import contextlib
import io
import math
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.arguments import (
    MAX_CANVAS_PIXELS,
    check_seed,
    parse_box,
    parse_multipliers,
    parse_size,
    parse_start_steps,
    parse_target,
)
from cli.main import build_parser
from core.errors import ConfigError
from core.generation import sampling
from core.generation.sampling import canvas_sizes, resolve_start_steps
from core.requests import Box

TRAIN_SIZES = ((64, 48), (96, 72))
"""The pyramid of the tests' tiny model (tests/conftest.py)."""
QUICK = settings(max_examples=100, deadline=None)

numbers = st.one_of(
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["nan", "inf", "-inf", "1e300", "0", "-0", "1_000", " 7 ", "", "x", "٣"]),
)
pairs = st.tuples(numbers, numbers, st.sampled_from(["x", "X", "×", "*", ",", "xx"])).map(
    lambda t: f"{t[0]}{t[2]}{t[1]}"
)
lists = st.lists(numbers, min_size=0, max_size=6).map(lambda xs: ",".join(map(str, xs)))
texts = st.one_of(st.text(max_size=30), pairs, lists)


def _parsed_or_refused(parse, text):
    """parse(text), or None when it raised the plain error; anything else fails the test."""
    try:
        return parse(text)
    except argparse.ArgumentTypeError as exc:
        assert str(exc) and "\n" not in str(exc)
        return None


@QUICK
@given(texts)
def test_sizes_are_positive_and_bounded_or_refused(text):
    size = _parsed_or_refused(parse_size, text)
    if size is None:
        return
    width, height = size
    assert isinstance(width, int) and isinstance(height, int)
    assert width >= 1 and height >= 1 and width * height <= MAX_CANVAS_PIXELS
    try:  # the model then checks what only it knows: its coarsest scale
        sizes = canvas_sizes(TRAIN_SIZES, size=size)
    except ConfigError:
        return
    assert sizes[-1] == size and min(sizes[0]) >= sampling.MIN_CANVAS_SIDE


@QUICK
@given(st.integers(1, 5000), st.integers(1, 5000))
def test_every_size_written_as_wxh_reads_back(width, height):
    expected = (width, height) if width * height <= MAX_CANVAS_PIXELS else None
    assert _parsed_or_refused(parse_size, f"{width}x{height}") == expected


@QUICK
@given(texts)
def test_scales_are_finite_and_positive_or_refused(text):
    multipliers = _parsed_or_refused(parse_multipliers, text)
    if multipliers is None:
        return
    assert all(math.isfinite(m) and 0 < m <= MAX_CANVAS_PIXELS for m in multipliers)
    try:
        sizes = canvas_sizes(TRAIN_SIZES, multipliers=multipliers)
    except ConfigError:
        return
    fine_w, fine_h = sizes[-1]
    assert fine_w * fine_h <= MAX_CANVAS_PIXELS and min(sizes[0]) >= sampling.MIN_CANVAS_SIDE


@QUICK
@given(
    st.one_of(
        texts, st.lists(st.integers(-5, 150), max_size=3).map(lambda xs: ",".join(map(str, xs)))
    )
)
def test_start_steps_are_whole_and_not_negative_or_refused(text):
    steps = _parsed_or_refused(parse_start_steps, text)
    if steps is None:
        return
    assert steps and all(isinstance(s, int) and s >= 0 for s in steps)
    model = SimpleNamespace(schedule=SimpleNamespace(start_steps=(100, 42), timesteps=100))
    try:
        resolved = resolve_start_steps(model, steps)
    except ConfigError:
        return
    assert resolved[0] == 100 and 0 <= resolved[1] < 100


boxes = st.one_of(
    texts,
    st.lists(st.integers(-50, 150), min_size=1, max_size=5).map(lambda xs: ",".join(map(str, xs))),
)


@QUICK
@given(boxes)
def test_boxes_have_a_size_or_are_refused(text):
    box = _parsed_or_refused(parse_box, text)
    if box is None:
        return
    assert isinstance(box, Box) and box.w >= 1 and box.h >= 1
    try:  # the training image then says whether it fits
        box.check_inside(96, 72, "source")
    except ConfigError:
        return
    assert box.x >= 0 and box.y >= 0 and box.x + box.w <= 96 and box.y + box.h <= 72


@QUICK
@given(boxes)
def test_targets_read_with_their_source_box_or_are_refused(text):
    target = _parsed_or_refused(parse_target, text)
    if target is None:
        return
    box = Box.parse(target, size_from=Box(0, 0, 20, 10))  # must not raise now
    assert box.w >= 1 and box.h >= 1


@QUICK
@given(st.integers(-(2**70), 2**70), st.integers(1, 64))
def test_seeds_are_ones_torch_accepts_or_refused(seed, count):
    import torch

    try:
        check_seed(seed, count)
    except ConfigError as exc:
        assert "--seed" in str(exc)
        return
    for i in (0, count - 1):
        torch.Generator().manual_seed(seed + i)  # must not overflow


OPTIONS = {
    "--size": texts,
    "--scale": texts,
    "--start-steps": lists,
    "--src": boxes,
    "--dst": boxes,
}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(OPTIONS)), st.data())
def test_the_parser_accepts_or_exits_2_with_one_line(option, data):
    """Through argparse itself: a value is accepted, or the run ends with status 2 and one
    line on stderr (no usage block, no traceback)."""
    text = data.draw(OPTIONS[option])
    command = ["roi", "m.sinddm", "--src", "0,0,8,8", "--dst", "1,1"]
    if option in ("--scale", "--start-steps"):
        command = ["sample", "m.sinddm"]
    if option == "--src":
        command = ["roi", "m.sinddm", "--dst", "1,1"]
    if option == "--dst":
        command = ["roi", "m.sinddm", "--src", "0,0,8,8"]
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            build_parser().parse_args([*command, "-o", "x.png", f"{option}={text}"])
        except SystemExit as exit_:
            assert exit_.code == 2
            lines = stderr.getvalue().strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: argument ")
            return
    assert stderr.getvalue() == ""


@pytest.mark.parametrize(
    "text, parse",
    [
        ("nanx1", parse_multipliers),
        ("infx1", parse_multipliers),
        ("-1x1", parse_multipliers),
        ("0x1", parse_multipliers),
        ("1e300x1", parse_multipliers),
        ("0x10", parse_size),
        ("99999999999999999999x10", parse_size),
        ("4096x4097", parse_size),
        ("54,,43", parse_start_steps),
        ("-1", parse_start_steps),
        ("0,0,0", parse_box),
        ("1,2,3", parse_box),
        ("1,x", parse_target),
    ],
)
def test_the_issues_cases_are_refused(text, parse):
    assert _parsed_or_refused(parse, text) is None
