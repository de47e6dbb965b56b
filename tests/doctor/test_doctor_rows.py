"""labctl doctor without stand-ins: the offline inventory rows, how the play's rows and the
recap become the report, the exit code, the table and the JSON; and the real CLI against hosts
that do not answer (loopback addresses on a port where nothing listens)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from labctl import doctor, inventory
from labctl.runner import Failure, HostRecap, RunResult, unrescued

LABCTL = str(Path(sys.executable).parent / "labctl")
DEFAULTS = {
    "service_demo_nodeport_node_port": 30080,
    "service_demo_lb_node_port": 30082,
    "ingress_nginx_http_nodeport": 30090,
}


def write_inventory(path: Path, base: str = "10.77.9", port: int | None = None, **lab_vars) -> Path:
    """A valid lab inventory (the CONTRIBUTING contract) on test addresses."""
    hosts = {"master": {"raspi001": 11}, "workers": {"raspi002": 12, "raspi003": 13}}
    lines = ["all:", "  children:", "    lab:", "      children:"]
    for group, members in hosts.items():
        lines += [f"        {group}:", "          hosts:"]
        for name, octet in members.items():
            lines += [f"            {name}:", f"              ansible_host: {base}.{octet}"]
            if port is not None:
                lines.append(f"              ansible_port: {port}")
    settings = {
        "ansible_user": "pi",
        "lab_subnet": f"{base}.0/24",
        "metallb_addresses": [f"{base}.100-{base}.200"],
        **lab_vars,
    }
    lines.append("      vars:")
    lines += [f"        {k}: {json.dumps(v)}" for k, v in settings.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load(path: Path) -> inventory.Inventory:
    return inventory.load(path)


def by_check(rows: list[doctor.Row]) -> dict[str, doctor.Row]:
    return {r.check: r for r in rows}


# --- offline rows -------------------------------------------------------------------------


def test_valid_inventory_gives_passing_offline_rows(tmp_path):
    inv = load(write_inventory(tmp_path / "hosts.yml", service_demo_lb_address="10.77.9.150"))
    rows = by_check(doctor.offline_rows(inv, DEFAULTS))
    assert {r.status for r in rows.values()} == {"PASS"}, rows
    assert rows["MetalLB pool vs node addresses"].detail.startswith("pool 10.77.9.100-10.77.9.200")
    assert "(101 addresses)" in rows["MetalLB pool vs node addresses"].detail
    assert "30080" in rows["nodePorts in range"].detail
    assert all(r.host == doctor.INVENTORY_HOST for r in rows.values())


def test_pool_rules_that_doctor_showed_are_refused_by_load_itself(tmp_path):
    # one home: a pool holding a node or leaving the subnet never reaches doctor's rows
    for pool, words in (
        (["10.77.9.8/30"], "10.77.9.11 (raspi001) inside the MetalLB pool"),
        (["10.77.10.0/28"], "10.77.10.0/28 lies outside lab_subnet 10.77.9.0/24"),
    ):
        with pytest.raises(inventory.InventoryError) as info:
            load(write_inventory(tmp_path / "hosts.yml", metallb_addresses=pool))
        assert words in str(info.value), info.value


def test_pool_covering_the_broadcast_address_warns(tmp_path):
    inv = load(write_inventory(tmp_path / "hosts.yml", metallb_addresses=["10.77.9.240/28"]))
    row = by_check(doctor.offline_rows(inv, DEFAULTS))["MetalLB pool in lab subnet"]
    assert row.status == "WARN" and "10.77.9.255" in row.detail


def test_nodeport_override_colliding_with_another_default_is_refused_by_load(tmp_path):
    # doctor, up, demo and render all load the inventory first: one rule, one home
    with pytest.raises(inventory.InventoryError) as info:
        load(write_inventory(tmp_path / "hosts.yml", service_demo_nodeport_node_port=30082))
    assert (
        "nodePort 30082 is used by service_demo_lb_node_port and service_demo_nodeport_node_port"
        in str(info.value)
    )


def test_lb_demo_address_follows_the_pool_unless_set_outside_it(tmp_path):
    inv = load(write_inventory(tmp_path / "hosts.yml"))
    row = by_check(doctor.offline_rows(inv))["LoadBalancer demo address"]
    assert row.status == "PASS" and row.detail == "10.77.9.200 is in the pool", row
    inv = load(write_inventory(tmp_path / "set.yml", service_demo_lb_address="192.168.3.100"))
    row = by_check(doctor.offline_rows(inv))["LoadBalancer demo address"]
    assert row.status == "WARN" and "192.168.3.100" in row.detail
    assert "service_demo_lb_address" in row.hint and "follows the pool" in row.hint


def test_role_defaults_are_read_from_the_ansible_tree():
    from labctl import paths

    defaults = doctor.role_defaults(paths.ansible_root())
    assert isinstance(defaults.get("preflight_master_min_memory_mb"), int)
    assert not any(isinstance(v, str) and "{{" in v for v in defaults.values())


# --- live rows from a run result ----------------------------------------------------------


def result(stats=None, failures=(), recap=None) -> RunResult:
    """A RunResult as labctl.runner.run builds it (rescued failures already dropped)."""
    return RunResult(
        rc=0, status="successful", recap=recap or {},
        failures=unrescued(list(failures), recap or {}),
        stats=stats or {}, artifacts=Path("/nonexistent"),
    )  # fmt: skip


ROW_OK = {"check": "swap off", "status": "PASS", "detail": "no swap at boot", "hint": ""}
ROW_BAD = {"check": "boot cmdline flag", "status": "FAIL", "detail": "lacks", "hint": "fix"}


def test_published_rows_become_report_rows_in_order():
    res = result({"doctor": {"raspi001": [ROW_OK, ROW_BAD]}}, recap={"raspi001": HostRecap(ok=9)})
    rows = doctor.live_rows(res, ["raspi001"])
    assert [(r.host, r.check, r.status) for r in rows] == [
        ("raspi001", "swap off", "PASS"),
        ("raspi001", "boot cmdline flag", "FAIL"),
    ]


def test_unreachable_host_gets_an_ssh_fail_row():
    lost = Failure("raspi003", "SSH and sudo | run id as root", "ssh: connect to host "
                   "10.77.9.13 port 22: Connection refused", unreachable=True)  # fmt: skip
    res = result({"doctor": {}}, [lost], {"raspi003": HostRecap(unreachable=1)})
    (row,) = doctor.live_rows(res, ["raspi003"])
    assert (row.check, row.status) == ("SSH reachable", "FAIL")
    assert "Connection refused" in row.detail and "ansible_host" in row.hint


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ("@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@", ("reflashed", "labctl trust")),
        ("Host key verification failed.", ("does not know", "labctl trust")),
    ],
)
def test_host_key_problems_point_to_labctl_trust(message, words):
    lost = Failure("raspi002", "t", message, unreachable=True)
    (row,) = doctor.live_rows(result(failures=[lost]), ["raspi002"])
    assert all(w in row.hint for w in words), row.hint


def test_rescued_failure_is_not_reported_twice():
    sudo = {"check": "sudo works", "status": "FAIL", "detail": "Missing sudo password", "hint": "x"}
    rescued = Failure("raspi002", "SSH and sudo | run id as root", "Missing sudo password")
    res = result({"doctor": {"raspi002": [sudo]}}, [rescued], {"raspi002": HostRecap(rescued=1)})
    assert [r.check for r in doctor.live_rows(res, ["raspi002"])] == ["sudo works"]


def test_rescued_failure_behind_passing_rows_adds_no_row():
    # e.g. kubectl failed on the master and the pool row says so as a WARN
    pool = {"check": "MetalLB pool unused", "status": "WARN", "detail": "could not ask", "hint": ""}
    rescued = Failure("raspi001", "MetalLB pool | list LoadBalancer ingress addresses", "rc 1")
    res = result({"doctor": {"raspi001": [pool]}}, [rescued], {"raspi001": HostRecap(rescued=1)})
    assert [r.status for r in doctor.live_rows(res, ["raspi001"])] == ["WARN"]


def test_unexplained_task_failure_becomes_a_fail_row():
    crash = Failure("raspi001", "Snapshot | read what the checks judge", "MODULE FAILURE")
    res = result({"doctor": {}}, [crash], {"raspi001": HostRecap(failed=1)})
    (row,) = doctor.live_rows(res, ["raspi001"])
    assert (row.check, row.status) == ("doctor run", "FAIL") and "MODULE FAILURE" in row.detail


# --- report: exit code, JSON, table -------------------------------------------------------


def report(*rows: doctor.Row) -> doctor.DoctorReport:
    return doctor.DoctorReport(list(rows), artifacts="/tmp/a")


PASSING = doctor.Row("raspi001", "swap off", "PASS", "no swap at boot")
WARNING = doctor.Row("raspi001", "architecture", "WARN", "x86_64", "not a Raspberry Pi")
FAILING = doctor.Row("raspi002", "boot cmdline flag", "FAIL", "lacks [cgroup]", "labctl up")


@pytest.mark.parametrize(
    ("rows", "code"), [((PASSING,), 0), ((PASSING, WARNING), 0), ((PASSING, FAILING), 1)]
)
def test_exit_code_is_one_only_on_a_fail(rows, code):
    assert report(*rows).exit_code() == code


def test_json_carries_the_same_rows():
    rep = report(PASSING, WARNING, FAILING)
    data = json.loads(doctor.to_json(rep))
    assert data["status"] == "failed" and data["counts"] == {"PASS": 1, "WARN": 1, "FAIL": 1}
    assert data["doctor"]["raspi002"] == [
        {"check": "boot cmdline flag", "status": "FAIL", "detail": "lacks [cgroup]",
         "hint": "labctl up"}
    ]  # fmt: skip
    assert doctor.rows_from_json(doctor.to_json(rep)) == rep.rows


def test_table_shows_status_detail_and_hint_of_problems_only():
    console = Console(record=True, width=160, color_system=None)
    doctor.render(console, report(PASSING, WARNING, FAILING))
    text = console.export_text()
    assert "lacks [cgroup]" in text  # markup in data is printed, not interpreted
    assert "→ labctl up" in text and "→ not a Raspberry Pi" in text
    assert "1 passed, 1 warning(s), 1 failed" in text


def test_an_80_column_terminal_gets_whole_lines_not_a_squeezed_column():
    long_hint = (
        "add cgroup_memory=1 cgroup_enable=memory to /boot/firmware/cmdline.txt and reboot, "
        "or let labctl up do it"
    )
    failing = doctor.Row(
        "raspi002", "MetalLB pool vs node addresses", doctor.FAIL, "cmdline lacks them", long_hint
    )
    for width, detail_under in ((80, True), (160, False)):
        console = Console(record=True, width=width, color_system=None)
        doctor.render(console, doctor.DoctorReport([PASSING, failing], inventory="/x/hosts.yml"))
        lines = console.export_text().splitlines()
        assert lines[0].startswith("labctl doctor: /x/hosts.yml"), lines
        assert all(len(ln) <= width for ln in lines), lines
        hint_at = next(i for i, ln in enumerate(lines) if "→ " in ln)
        assert lines[hint_at].startswith("    → add cgroup_memory=1 cgroup_enable=memory"), lines
        row = next(ln for ln in lines if ln.startswith("raspi002"))
        assert ("cmdline lacks them" in row) is not detail_under, lines
        if detail_under:
            assert lines[hint_at - 1].rstrip() == "    cmdline lacks them", lines


# --- the real CLI, hosts that do not answer ----------------------------------------------


def test_cli_doctor_json_on_unreachable_hosts_exits_1_with_ssh_rows(tmp_path):
    # loopback addresses, port 9 (discard): nothing listens, so SSH is refused at once
    inv = write_inventory(tmp_path / "hosts.yml", base="127.0.0", port=9)
    env = {"XDG_CONFIG_HOME": str(tmp_path / "c"), "XDG_STATE_HOME": str(tmp_path / "s"),
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # fmt: skip
    proc = subprocess.run(
        [LABCTL, "doctor", "-i", str(inv), "--json"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    assert data["status"] == "failed"
    assert set(data["doctor"]) == {doctor.INVENTORY_HOST, "raspi001", "raspi002", "raspi003"}
    for host in ("raspi001", "raspi002", "raspi003"):
        (row,) = data["doctor"][host]
        assert (row["check"], row["status"]) == ("SSH reachable", "FAIL"), row
        assert "refused" in row["detail"].lower(), row
    offline = {r["check"]: r["status"] for r in data["doctor"][doctor.INVENTORY_HOST]}
    assert offline["MetalLB pool vs node addresses"] == "PASS"


def test_cli_doctor_bad_inventory_exits_2_before_any_host(tmp_path):
    inv = write_inventory(tmp_path / "hosts.yml", metallb_addresses=["10.77.9.12-10.77.9.20"])
    proc = subprocess.run(
        [LABCTL, "doctor", "-i", str(inv)], capture_output=True, text=True, timeout=60,
        env={"XDG_STATE_HOME": str(tmp_path / "s"), "HOME": str(tmp_path), "PATH": "/usr/bin"},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "raspi002" in proc.stderr and "inside the MetalLB pool" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "s" / "labctl" / "runs").exists()


@pytest.mark.parametrize("controller", [None, "ingress-nginx", "traefik"])
def test_the_shipped_defaults_share_no_nodeport_with_either_ingress_controller(
    tmp_path, controller
):
    # both controllers default to 30090/30443; only the chosen one is installed
    extra = {"ingress_controller": controller} if controller else {}
    inv = load(write_inventory(tmp_path / "hosts.yml", **extra))
    row = by_check(doctor.offline_rows(inv))["nodePorts in range"]
    assert row.status == "PASS", row
    chosen = (controller or "ingress-nginx").replace("-", "_")
    assert f"{chosen}_http 30090" in row.detail, row.detail


def test_a_demo_nodeport_on_the_chosen_controllers_port_is_refused(tmp_path):
    with pytest.raises(inventory.InventoryError) as info:
        load(
            write_inventory(
                tmp_path / "hosts.yml",
                ingress_controller="traefik",
                service_demo_nodeport_node_port=30090,
            )
        )
    assert "30090 is used by service_demo_nodeport_node_port and traefik_http_nodeport" in str(
        info.value
    )
