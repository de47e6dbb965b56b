"""labctl's command line: thin commands that parse, call, render and set the exit code.

Heavy modules (yaml, ansible_runner, kubernetes) are imported inside the commands, so
``labctl --help`` stays as quick as any Typer app.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from labctl import __version__, completion
from labctl.errors import LabctlError, UsageError

if TYPE_CHECKING:
    from labctl.inventory import Found, Inventory
    from labctl.runner import RunRequest, RunResult

app = typer.Typer(
    name="labctl",
    help=(
        "Build the chapter's Raspberry Pi Kubernetes lab with one command, then prove each "
        "Service lesson (ExternalIP, NodePort, LoadBalancer, Headless, ExternalName, "
        "None-Selector, Ingress) with curl and dig."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

UP_PARTS = ("prepare", "nfs", "cluster", "addons")

InventoryOpt = Annotated[
    Path | None,
    typer.Option(
        "--inventory",
        "-i",
        help="Inventory file. Default: $LABCTL_INVENTORY, ./inventory/hosts.yml, "
        "then the one `labctl init` wrote.",
        show_default=False,
    ),
]
VerboseOpt = Annotated[
    int,
    typer.Option(
        "--verbose", "-v", count=True, help="Stream Ansible's own output (-vv: more detail)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON for scripts.")]


def _stdout() -> Console:
    return Console()


def _stderr() -> Console:
    return Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"labctl {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """labctl: a Raspberry Pi Kubernetes lab, built and explained."""


def load_inventory(path: Path | None) -> Inventory:
    """Find and validate the inventory, or raise UsageError (exit 2) before any host is touched.

    Says on stderr which inventory is used and why, so no command targets a lab silently.
    """
    from labctl import inventory

    return _load_found(inventory.find(str(path) if path else None))


def _load_found(found: Found) -> Inventory:
    from labctl import ansiblecfg, inventory

    ansiblecfg.check_laptop()
    _stderr().print(found.line(), highlight=False, markup=False, soft_wrap=True)
    return inventory.load(found.path, inventory.known_settings())


def run_playbook(request: RunRequest, title: str, json_out: bool = False) -> RunResult:
    """Run with live progress (on stderr when JSON goes to stdout)."""
    from labctl.progress import Progress
    from labctl.runner import run

    console = _stderr() if json_out else _stdout()
    with Progress(console, title, verbose=request.verbosity > 0) as progress:
        return run(request, observer=progress)


def finish(result: RunResult, what: str, json_out: bool) -> None:
    from labctl import report

    if json_out:
        typer.echo(report.result_json(result))
        report.print_recap(_stderr(), result, what)
    else:
        report.print_recap(_stdout(), result, what)
    raise typer.Exit(report.exit_code(result))


def parse_parts(only: str | None) -> tuple[str, ...]:
    if only is None:
        return ()
    parts = tuple(p.strip() for p in only.split(",") if p.strip())
    if not parts:
        raise UsageError(
            f"--only is empty: name the parts to run, from {','.join(UP_PARTS)} "
            "(or leave --only out to run them all)"
        )
    if len(parts) != len(only.split(",")):
        raise UsageError(
            f"--only {only!r} has an empty part: write the parts with single commas, "
            f"from {','.join(UP_PARTS)}"
        )
    unknown = [p for p in parts if p not in UP_PARTS]
    if unknown:
        raise UsageError(
            f"--only: unknown part {', '.join(unknown)}: choose from {','.join(UP_PARTS)}"
        )
    return parts


# --- first contact ------------------------------------------------------------------------


@app.command(rich_help_panel="1. First contact")
def init(
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Write hosts.yml into this folder instead of labctl's config folder.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write an inventory of the chapter's lab (4 Pis, subnet, MetalLB pool) to edit."""
    from labctl.setup import write_inventory

    written, default_location = write_inventory(directory, force)
    out = _stdout()
    out.print(f"wrote {written}", highlight=False)
    out.print("Edit the addresses to match your Pis, then run:", highlight=False)
    hint = "" if default_location else f" -i {written}"
    out.print(f"  labctl trust{hint}\n  labctl doctor{hint}\n  labctl up{hint}", highlight=False)


@app.command(rich_help_panel="1. First contact")
def trust(
    inventory: InventoryOpt = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Trust the scanned keys without asking.")
    ] = False,
) -> None:
    """First contact: scan, show and remember each Pi's SSH host key.

    The keys go into labctl's own known_hosts, which every run hands to SSH.
    Host-key checking always stays on.
    """
    from labctl import paths, trust

    inv = load_inventory(inventory)
    out = _stdout()
    scan = trust.scan(list(inv.hosts.values()))
    for line in trust.describe(scan):
        out.print(line, highlight=False, markup=False)
    trust.refuse_changed(scan)
    new = [k for k in scan if k.status == "new"]
    if not new:
        out.print(f"All hosts already trusted ({paths.known_hosts()}).", highlight=False)
        return
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("trust needs confirmation: pass --yes to trust the keys shown")
        typer.confirm("Do these fingerprints match your Pis?", abort=True)
    trust.remember(new)
    out.print(f"Trusted {len(new)} key(s) in {paths.known_hosts()}.", highlight=False)


# --- lab lifecycle ------------------------------------------------------------------------


@app.command(rich_help_panel="2. Build the lab")
def up(
    inventory: InventoryOpt = None,
    only: Annotated[
        str | None,
        typer.Option(
            "--only",
            help="Run only these parts, comma-separated: prepare,nfs,cluster,addons.",
            show_default=False,
            autocompletion=completion.only_parts(UP_PARTS),
        ),
    ] = None,
    verbose: VerboseOpt = 0,
    json_out: JsonOpt = False,
) -> None:
    """Build the whole lab: Pis, NFS node, kubeadm + flannel, MetalLB, ingress-nginx.

    Safe to re-run: a converged lab reports changed=0. Use --only to run some parts.
    """
    from labctl import paths
    from labctl.runner import RunRequest

    parts = parse_parts(only)
    inv = load_inventory(inventory)
    request = RunRequest("up", "site.yml", inv.path, tags=parts, verbosity=verbose)
    result = run_playbook(request, f"labctl up ({', '.join(parts) or 'everything'})", json_out)
    console = _stderr() if json_out else _stdout()
    if not result.ok and result.stats.get("doctor"):
        from labctl import doctor

        blockers = [r for r in doctor.live_rows(result, inv.hosts) if r.status == doctor.FAIL]
        if blockers:
            console.print(doctor.table(doctor.DoctorReport(blockers)))
    if result.ok and paths.kubeconfig().is_file():
        import shlex

        kubeconfig = shlex.quote(str(paths.kubeconfig()))
        console.print(
            f"kubeconfig: {paths.kubeconfig()}\nto use kubectl on this lab: "
            f"export KUBECONFIG={kubeconfig}",
            highlight=False,
            soft_wrap=True,
        )
    finish(result, "up", json_out)


@app.command(rich_help_panel="2. Build the lab")
def reset(
    inventory: InventoryOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Run `kubeadm reset` on every node and remove the CNI leftovers (asks first)."""
    from labctl.runner import RunRequest

    inv = load_inventory(inventory)
    names = ", ".join(h.name for h in [inv.master, *inv.workers])
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("reset needs confirmation: pass --yes to reset without asking")
        typer.confirm(f"Reset Kubernetes on {names}? Pods and cluster state are lost", abort=True)
    request = RunRequest(
        "reset",
        "reset.yml",
        inv.path,
        extravars={"lab_reset_confirmed": True},
        verbosity=verbose,
    )
    finish(run_playbook(request, "labctl reset"), "reset", False)


# --- demos, add-ons and rendering ---------------------------------------------------------


def inventory_or_chapter(path: Path | None) -> Inventory:
    """The user's inventory, or (for commands that touch no host) the chapter's lab."""
    from labctl import inventory, paths

    try:
        return load_inventory(path)
    except UsageError as exc:
        if path is not None or "no inventory found" not in str(exc):
            raise
        chapter = paths.ansible_root() / "inventory" / "hosts.yml"
        reason = "the chapter's lab, shipped with labctl: none of yours found"
        return _load_found(inventory.Found(chapter, reason))


CatalogueOpt = Annotated[
    Path | None,
    typer.Option(
        "--catalogue",
        envvar="LABCTL_CATALOGUE",
        help="A demo catalogue of your own (default: the chapter's seven demos).",
        show_default=False,
    ),
]


@app.command(rich_help_panel="3. Lessons")
def render(
    name: Annotated[
        str,
        typer.Argument(
            help="A demo (see `labctl demo list`) or an add-on (metallb, ingress-nginx, traefik).",
            autocompletion=completion.render_names,
        ),
    ],
    inventory: InventoryOpt = None,
    upstream: Annotated[
        bool,
        typer.Option(
            "--upstream",
            help="Add-ons only: fetch the pinned upstream manifest (sha256-checked), "
            "transform it as `labctl up` would, and print it too.",
        ),
    ] = False,
    addon_version: Annotated[
        str | None,
        typer.Option(
            "--addon-version",
            help="Add-ons only: the release to render (e.g. 0.16.1).",
            show_default=False,
        ),
    ] = None,
    arch: Annotated[
        str, typer.Option("--arch", help="Add-ons with --upstream: the nodes' architecture.")
    ] = "aarch64",
    catalogue: CatalogueOpt = None,
) -> None:
    """Print, as YAML, every object labctl would apply for NAME. No cluster needed."""
    from labctl import render as rendering

    valid = rendering.names(catalogue)
    if name not in valid:
        raise UsageError(f"unknown name {name!r}: choose one of {', '.join(valid)}")
    extravars = rendering.extravars(name, addon_version, catalogue)
    if upstream and name not in rendering.upstream_names():
        pinned = ", ".join(rendering.upstream_names())
        raise UsageError(f"--upstream applies to add-ons with a pinned manifest only ({pinned})")
    inv = inventory_or_chapter(inventory)
    objects = rendering.render_objects(name, inv.path, extravars)
    if upstream:
        objects = rendering.upstream(name, addon_version, arch, objects)
    for warning in rendering.outside_pool(objects, inv.pool):
        _stderr().print(f"warning: {warning}", style="yellow", highlight=False, soft_wrap=True)
    typer.echo(rendering.to_yaml(objects), nl=False)


@app.command(rich_help_panel="3. Lessons")
def demo(
    name: Annotated[
        str,
        typer.Argument(
            help="A demo (see `labctl demo list`), all, list, or clean [NAME].",
            show_default=False,
            autocompletion=completion.demo_names,
        ),
    ],
    target: Annotated[
        str | None,
        typer.Argument(
            help="With clean: the demo to clean (default: all).",
            show_default=False,
            autocompletion=completion.clean_targets,
        ),
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Explain the demo and how labctl differs; no run.")
    ] = False,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the demo's objects after the checks.")
    ] = False,
    catalogue: CatalogueOpt = None,
    inventory: InventoryOpt = None,
    verbose: VerboseOpt = 0,
    json_out: JsonOpt = False,
) -> None:
    """Apply a Service demo, verify it with curl and dig, report, clean up.

    `labctl demo list` lists the demos; `labctl demo all` runs every one;
    `labctl demo clean [NAME]` removes what demos created.
    """
    from labctl import catalogue as catalogues
    from labctl import demo as demos
    from labctl import paths

    cat = catalogues.load(catalogue)
    out = _stdout()
    if target is not None and name != "clean":
        raise UsageError(f"unexpected argument {target!r}: only `labctl demo clean` takes a NAME")
    if name == "list":
        if json_out:
            typer.echo(demos.catalogue_json(cat))
        else:
            demos.print_list(out, cat, explain)
        return
    if name == "clean":
        chosen = target or "all"
        cleaned = cat.select(chosen)
        inv = load_inventory(inventory)
        demos.require_kubeconfig(cleaned, paths.kubeconfig())
        request = demos.clean_request(chosen, cat, inv.path, verbose)
        finish(run_playbook(request, f"labctl demo clean {chosen}", json_out), "clean", json_out)
    selected = cat.select(name)
    if explain:
        if json_out:
            typer.echo(demos.catalogue_json(cat, selected))
        else:
            for one in selected:
                out.print(demos.explain_text(one), highlight=False, markup=False)
        return
    inv = load_inventory(inventory)
    demos.require_kubeconfig(selected, paths.kubeconfig())
    request = demos.run_request(name, cat, inv.path, keep, verbose)
    result = run_playbook(request, f"labctl demo {name}", json_out)
    report = demos.build_report(selected, result)
    if json_out:
        typer.echo(demos.to_json(report))
    demos.print_report(_stderr() if json_out else out, report)
    raise typer.Exit(report.exit_code())


# --- diagnostics --------------------------------------------------------------------------


@app.command(rich_help_panel="1. First contact")
def doctor(
    inventory: InventoryOpt = None,
    verbose: VerboseOpt = 0,
    json_out: JsonOpt = False,
) -> None:
    """Is every Pi reachable and ready? One PASS/WARN/FAIL row per Pi and check, with the fix.

    Checks SSH, sudo, architecture, OS, memory cgroup, boot flag, swap, CPU/memory/disk,
    time sync, port 6443, Wi-Fi and the MetalLB pool. Changes nothing; exit 1 when a check FAILs.
    """
    from labctl import doctor as doctoring
    from labctl.progress import Progress

    inv = load_inventory(inventory)
    console = _stderr() if json_out else _stdout()
    with Progress(console, "labctl doctor", verbose=verbose > 0) as progress:
        report = doctoring.run(inv, observer=progress, verbosity=verbose)
    if json_out:
        typer.echo(doctoring.to_json(report))
    else:
        doctoring.render(_stdout(), report)
    raise typer.Exit(report.exit_code())


@app.command(rich_help_panel="2. Build the lab")
def kubeconfig(
    merge: Annotated[
        bool,
        typer.Option(
            "--merge",
            help="Add the lab to ~/.kube/config as context labctl-<cluster> (with a backup, "
            "mode 0600); other contexts and the current one are left alone.",
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Print the path of the lab's kubeconfig (fetched by `labctl up`), or merge it."""
    import json

    from labctl import kubeconfig as kubeconfigs

    source = kubeconfigs.require()
    if not merge:
        typer.echo(json.dumps({"kubeconfig": str(source)}) if json_out else str(source))
        return
    merged = kubeconfigs.merge(source, kubeconfigs.default_target())
    if json_out:
        typer.echo(json.dumps({"kubeconfig": str(source), **merged.as_dict()}, indent=2))
        return
    out = _stdout()
    verb = "updated" if merged.replaced else "added"
    out.print(f"{verb} context {merged.context} in {merged.target}", highlight=False)
    if merged.backup:
        out.print(f"backup of the previous file: {merged.backup}", highlight=False)
    out.print(
        f"use it: kubectl --context {merged.context} get nodes "
        f"(or kubectl config use-context {merged.context})",
        highlight=False,
        soft_wrap=True,
    )


@app.command(rich_help_panel="2. Build the lab")
def status(inventory: InventoryOpt = None, json_out: JsonOpt = False) -> None:
    """Show the lab's cluster now: nodes, the inventory's add-ons, and the demo objects present."""
    import json

    from labctl import addons, paths
    from labctl import status as lab_status

    chosen = addons.chosen(load_inventory(inventory).lab_vars)
    found = lab_status.collect(paths.kubeconfig(), chosen)
    if json_out:
        typer.echo(json.dumps(found.as_dict(), indent=2))
    else:
        found.render(_stdout())


def wants_json(args: list[str]) -> bool:
    """Was --json given (before any ``--``)? Errors then go to stdout as JSON too."""
    return "--json" in (args[: args.index("--")] if "--" in args else args)


def error_json(exc: LabctlError) -> str:
    import json

    lines = exc.lines()
    return json.dumps(
        {
            "status": "error",
            "exit_code": exc.exit_code,
            "message": lines[0] if len(lines) == 1 else "\n".join(lines),
            "problems": lines,
        },
        indent=2,
    )


def main() -> None:
    """Console entry point: one clear line and a defined exit code for every known failure."""
    try:
        try:
            app()
        except OSError as exc:  # a state or config folder that is read-only, full, a file...
            from labctl.errors import os_error

            raise os_error(exc) from None
    except LabctlError as exc:
        if wants_json(sys.argv[1:]):
            typer.echo(error_json(exc))
        for line in exc.lines():
            typer.secho(f"labctl: {line}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.secho("labctl: interrupted", fg="red", err=True)
        sys.exit(130)
