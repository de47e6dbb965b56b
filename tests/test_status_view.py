"""`labctl status`'s people's view, rendered from a Status (the e2e tier reads the real one)."""

from __future__ import annotations

from rich.console import Console

from labctl.status import Status


def test_the_view_lists_every_node_each_addon_and_the_demo_objects():
    found = Status(
        nodes=[
            {"name": "raspi001", "ready": "True", "version": "v1.36.3", "architecture": "arm64"},
            {"name": "raspi002", "ready": "False", "version": "v1.36.3", "architecture": "arm64"},
        ],
        addons={"metallb": "running (0.7.3)", "ingress-nginx": "not installed"},
        demo_objects=["sample-nodeport"],
    )
    console = Console(record=True, width=100, no_color=True)
    found.render(console)
    text = console.export_text()
    rows = [line.split() for line in text.splitlines() if "raspi00" in line]
    assert [row[1:5] for row in rows] == [
        ["raspi001", "│", "True", "│"],
        ["raspi002", "│", "False", "│"],
    ], text
    assert "metallb: running (0.7.3)" in text
    assert "ingress-nginx: not installed" in text
    assert "demo objects: sample-nodeport" in text


def test_no_demo_objects_says_none():
    console = Console(record=True, width=100, no_color=True)
    Status().render(console)
    assert "demo objects: none" in console.export_text()
