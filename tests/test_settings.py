"""Settings: one typed model read from QUORUM_* variables, flags built from its fields, and a
README table generated from it that cannot drift."""

from __future__ import annotations

import argparse

import pytest

from core.errors import ConfigError
from core.settings import (
    PROJECT_ROOT,
    Settings,
    add_flags,
    load_settings,
    settings_from_flags,
    settings_table,
)

README_START, README_END = "<!-- settings:start -->", "<!-- settings:end -->"


def test_the_readme_settings_table_is_the_generated_one():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split(README_START, 1)[1].split(README_END, 1)[0]
    assert block.strip() == settings_table().strip(), (
        "README settings table is stale: paste `quorum settings --markdown` between the markers"
    )


def test_every_field_is_described():
    assert all(info.description for info in Settings.model_fields.values())


def test_variables_are_read_and_flags_win_over_them(monkeypatch):
    monkeypatch.setenv("QUORUM_TOP_K", "7")
    monkeypatch.setenv("QUORUM_INDEX", "/srv/quorum-index")
    parser = argparse.ArgumentParser()
    add_flags(parser, ["top_k", "index_dir", "store"])
    from_env = settings_from_flags(parser.parse_args([]))
    assert (from_env.top_k, str(from_env.index_path)) == (7, "/srv/quorum-index")
    flagged = settings_from_flags(parser.parse_args(["--top-k", "2", "--index", "/tmp/i"]))
    assert (flagged.top_k, str(flagged.index_path)) == (2, "/tmp/i")


def test_flags_take_their_type_and_choices_from_the_fields():
    parser = argparse.ArgumentParser()
    add_flags(parser, ["store", "port", "llm"], {"llm": ["extractive", "local"]})
    with pytest.raises(SystemExit):
        parser.parse_args(["--store", "cloud"])
    with pytest.raises(SystemExit):
        parser.parse_args(["--llm", "fake"])
    assert parser.parse_args(["--port", "8080"]).port == 8080


def test_a_bad_variable_is_named(monkeypatch):
    monkeypatch.setenv("QUORUM_TOP_K", "many")
    with pytest.raises(ConfigError, match="QUORUM_TOP_K"):
        load_settings()


def test_isolated_settings_ignore_the_environment(monkeypatch):
    monkeypatch.setenv("QUORUM_TOP_K", "9")
    assert Settings.isolated().top_k == 4
    assert Settings.isolated(top_k=3).with_overrides(llm="extractive").top_k == 3
