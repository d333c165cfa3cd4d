"""Class 3 of the hardening issue: a tiny input that costs gigabytes or minutes before any
check. YAML (config files, the saved config of a results folder, --set values) is read as plain
data: no aliases, bounded nesting and size, refused while it is composed, before anything is
built."""
import os
import time
import tracemalloc

import pytest

from pyagc.runner.config import (MAX_CONFIG_BYTES, MAX_DEPTH, load_yaml, method_config_path,
                                 parse_overrides, read_yaml, resolve_config)
from pyagc.runner.registry import list_methods
from pyagc.utils.validation import ConfigError

from _hardening_helpers import one_error_line


def billion_laughs(levels: int = 7) -> str:
    """~450 bytes that expand to 10**levels strings (the issue's example: 20 s, 1.5 GB)."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "model:\n  " + "\n  ".join(lines) + "\n"


def _cheap(call):
    """Run ``call`` expecting ConfigError; return (seconds, peak traced bytes, error)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ConfigError) as info:
            call()
        return time.perf_counter() - start, tracemalloc.get_traced_memory()[1], info.value
    finally:
        tracemalloc.stop()


def test_nested_aliases_are_refused_at_load_time_in_milliseconds(tmp_path):
    text = billion_laughs()
    assert len(text) < 600
    path = tmp_path / "laughs.yaml"
    path.write_text(text)
    for call in (lambda: read_yaml(path),
                 lambda: resolve_config("GAE", config_file=path)):
        seconds, peak, error = _cheap(call)
        # (before: 20 s and 1.5 GB; the bound leaves room for a busy shared machine)
        assert seconds < 2.0 and peak < 5 * 2 ** 20, (seconds, peak)
        assert "YAML aliases are not accepted" in str(error) and str(path) in str(error)
        assert "'*l0' at line 3" in str(error)


def test_aliases_in_a_set_value_are_refused_too():
    value = "[&a [1, 2, 3], [*a, *a], [*a, *a]]"
    _, _, error = _cheap(lambda: parse_overrides([f"+model.big={value}"]))
    assert "--set '+model.big=" in str(error) and "aliases are not accepted" in str(error)
    with pytest.raises(ConfigError, match="aliases"):
        resolve_config("GAE", overrides=[f"+model.big={value}"])


def test_merge_keys_are_aliases_and_plain_anchors_are_harmless():
    with pytest.raises(ConfigError, match="aliases"):
        load_yaml("base: &b {lr: 0.1}\ntrain:\n  <<: *b\n")
    assert load_yaml("train: &t {lr: 0.1}\n") == {"train": {"lr": 0.1}}


def test_nesting_is_bounded_before_python_recursion_is(tmp_path):
    # 5 000 "[" would overflow PyYAML's recursive composer (RecursionError, a traceback).
    path = tmp_path / "deep.yaml"
    path.write_text("model: " + "[" * 5_000)
    _, peak, error = _cheap(lambda: read_yaml(path))
    assert f"nested more than {MAX_DEPTH} levels" in str(error) and peak < 5 * 2 ** 20
    ok = "model: " + "[" * (MAX_DEPTH - 2) + "1" + "]" * (MAX_DEPTH - 2)
    assert load_yaml(ok)["model"] is not None
    with pytest.raises(ConfigError, match="nested more than"):
        parse_overrides(["+model.x=" + "[" * 50 + "]" * 50])


def test_a_config_larger_than_the_bound_is_refused_unread(tmp_path):
    path = tmp_path / "huge.yaml"
    with open(path, "w") as handle:
        handle.write("model:\n  pad: '")
        handle.write("x" * (MAX_CONFIG_BYTES + 1))
        handle.write("'\n")
    _, peak, error = _cheap(lambda: read_yaml(path))
    assert f"a config is at most {MAX_CONFIG_BYTES:,}" in str(error)
    assert peak < MAX_CONFIG_BYTES // 4        # the file was not read


def test_every_packaged_config_is_plain_data():
    for cls in list_methods():
        path = method_config_path(cls.__name__)
        if path is not None:
            assert isinstance(read_yaml(path), dict), path
    assert os.path.getsize(path) < MAX_CONFIG_BYTES


def test_the_cli_refuses_the_laughs_in_one_line(tmp_path, cli):
    (tmp_path / "laughs.yaml").write_text(billion_laughs())
    start = time.perf_counter()
    code, err = cli("run", "KMeans", "--config", "laughs.yaml", "--no-save", "-q")
    assert time.perf_counter() - start < 5.0
    one_error_line(code, err, "aliases are not accepted")
