"""What a learner sees in a terminal: completion, `demo list`. Through the real console script."""

from __future__ import annotations

import clirun
import pytest
import yaml

from labctl import catalogue

CHAPTER = catalogue.load(None)


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("labctl demo no", ["nodeport", "none-selector"]),
        ("labctl demo a", ["all"]),
        ("labctl demo clean he", ["headless"]),
        ("labctl render met", ["metallb"]),
        ("labctl up --only prepare,n", ["prepare,nfs"]),
        ("labctl up --only prepare,nfs,", ["prepare,nfs,cluster", "prepare,nfs,addons"]),
    ],
)
def test_shell_completion_offers_names_and_parts(tmp_path, words, expected):
    env = {
        **clirun.isolated_env(tmp_path),
        "_LABCTL_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - 1),
    }
    proc = clirun.run(env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == expected, proc.stdout


def test_demo_list_is_one_line_per_demo_without_a_path(tmp_path):
    proc = clirun.run("demo", "list", env=clirun.isolated_env(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "The chapter's demos", lines
    rows = [ln for ln in lines if ln.split() and ln.split()[0] in CHAPTER.names()]
    assert [r.split()[0] for r in rows] == CHAPTER.names() == [
        "externalip", "nodeport", "loadbalancer", "headless", "externalname",
        "none-selector", "ingress",
    ]  # fmt: skip
    assert len(lines) == 1 + len(rows) + 2, lines
    assert "site-packages" not in proc.stdout and "/" not in lines[0]
    first = CHAPTER.demos[0]
    assert first.title in rows[0] and first.teaches[:40] not in proc.stdout


def test_demo_list_explain_says_what_each_teaches(tmp_path):
    proc = clirun.run("demo", "list", "--explain", env=clirun.isolated_env(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    flat = " ".join(proc.stdout.split())
    for demo in CHAPTER.demos:
        assert " ".join(demo.teaches.split())[:60] in flat, demo.name


def test_an_own_catalogue_is_named_in_the_title(tmp_path):
    own = tmp_path / "mine.yml"
    data = yaml.safe_load(catalogue.default_path().read_text())
    own.write_text(yaml.safe_dump(data))
    proc = clirun.run(
        "demo", "list", "--catalogue", str(own), env=clirun.isolated_env(tmp_path), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == f"Demos of {own}"
