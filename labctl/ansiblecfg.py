"""The one Ansible configuration labctl runs with, and the laptop settings it refuses.

labctl ships ``ansible.cfg`` next to its playbooks and points ``ANSIBLE_CONFIG`` at it, so no
``ansible.cfg`` of the user's (``~/.ansible.cfg``, ``./ansible.cfg``, ``/etc/ansible``) is read.
Environment variables still override a config file in Ansible, so those that could weaken SSH,
change the connection or name code or a program to run on the laptop are refused (exit 2)
before any inventory is read. labctl's own SSH options are ``ssh_args``: Ansible puts them
first on ssh's command line, and for each ``-o`` option OpenSSH keeps the first value it reads.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from labctl import paths
from labctl.errors import UsageError

CONFIG_FILE = "ansible.cfg"

#: Ansible's default ssh_args without -C: connection sharing, no compression. On a lab's LAN
#: compression only costs CPU (a Pi's most of all), and the image archives it would squeeze
#: are copied to every node. Followed by labctl's checks.
SHARING = "-o ControlMaster=auto -o ControlPersist=60s"

#: ANSIBLE_* variables labctl honours from the laptop although they touch SSH (documented
#: in the README); every other one that matches REFUSED below is refused.
HONOURED = frozenset(
    {
        "ANSIBLE_SSH_CONTROL_PATH_DIR",
        "ANSIBLE_SSH_RETRIES",
        "ANSIBLE_SSH_TIMEOUT",
        "ANSIBLE_PRIVATE_KEY_FILE",
    }
)

#: (pattern, why): laptop settings that weaken SSH, change the connection, or name code or a
#: program that would run on the laptop. Matched against the whole variable name.
REFUSED: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), why)
    for pattern, why in (
        (r"ANSIBLE_CONFIG", "labctl reads only the ansible.cfg it ships"),
        (r"ANSIBLE_(SSH|SCP|SFTP)_\w+", "it changes how SSH runs or which program runs it"),
        (r"ANSIBLE_(\w+_)?HOST_KEY_\w+", "host-key checking always stays on"),
        (r"ANSIBLE_PARAMIKO_\w+", "labctl connects with OpenSSH only"),
        (r"ANSIBLE_(TRANSPORT|CONNECTION\w*)", "labctl connects with OpenSSH only"),
        (r"ANSIBLE_\w+_PLUGINS?(_ENABLED)?", "it loads plugins, code run on the laptop"),
        (r"ANSIBLE_(LIBRARY|MODULE_UTILS|COLLECTIONS_PATHS?|ROLES_PATH)", "it loads other code"),
        (r"ANSIBLE_(INVENTORY\w*|VARS_ENABLED)", "labctl reads the inventory it names itself"),
        (r"ANSIBLE_(STDOUT_CALLBACK|CALLBACKS?_ENABLED|CALLBACK_WHITELIST)", "it loads plugins"),
        (r"ANSIBLE_VAULT_\w+", "a vault password file may be a program run on the laptop"),
        (r"ANSIBLE_PYTHON_INTERPRETER", "it also picks the program run on the laptop"),
        (r"ANSIBLE_(BECOME_EXE|PERSISTENT_COMMAND_TIMEOUT|NETCONF_\w+)", "labctl sets it"),
    )
)


def config_file() -> Path:
    """The ansible.cfg labctl ships beside its playbooks and roles."""
    return paths.ansible_root() / CONFIG_FILE


def refused(environ: Mapping[str, str]) -> list[str]:
    """One line per refused variable set in ``environ``: its name, why, and the fix."""
    lines = []
    for name in sorted(environ):
        if not name.startswith("ANSIBLE_") or name in HONOURED:
            continue
        if name == "ANSIBLE_CONFIG" and environ[name] == str(config_file()):
            continue  # labctl's own (pin_in_process)
        why = next((why for pattern, why in REFUSED if pattern.fullmatch(name)), None)
        if why is not None:
            lines.append(
                f"{name} is set in this shell: labctl refuses it ({why}); unset {name} "
                "(labctl runs Ansible with its own ansible.cfg)"
            )
    return lines


def check_laptop(environ: Mapping[str, str] | None = None) -> None:
    """Raise UsageError (exit 2) naming every refused ANSIBLE_* variable that is set."""
    lines = refused(os.environ if environ is None else environ)
    if lines:
        raise UsageError("\n".join(lines))


def ssh_args(known_hosts: Path) -> str:
    """labctl's SSH options: sharing, then strict host-key checking against its known_hosts
    and the user's own (``-o`` options given first win in OpenSSH)."""
    files = f"{known_hosts} ~/.ssh/known_hosts"
    return f"{SHARING} -o StrictHostKeyChecking=yes -o 'UserKnownHostsFile={files}'"


def environment(known_hosts: Path | None = None) -> dict[str, str]:
    """What a run adds to the laptop's environment: the shipped config, labctl's SSH options,
    its venv's Ansible first on PATH."""
    bindir = str(Path(sys.executable).parent)
    env = {
        "PATH": os.pathsep.join([bindir, os.environ.get("PATH", "")]),
        "ANSIBLE_CONFIG": str(config_file()),
        "ANSIBLE_SSH_ARGS": ssh_args(known_hosts or paths.known_hosts()),
        # ansible-runner sets this to False unless it is in the environment (ssh_args would
        # still win, but Ansible's own checks, e.g. for paramiko, read this)
        "ANSIBLE_HOST_KEY_CHECKING": "True",
    }
    if sys.platform == "darwin":
        # Ansible forks its workers; macOS's Objective-C runtime aborts forked children otherwise.
        env["OBJC_DISABLE_INITIALIZE_FORK_SAFETY"] = "YES"
    return env


def pin_in_process() -> None:
    """Make the Ansible imported into labctl's own process (the inventory reader) read the
    shipped config too. Call before the first ``import ansible``; refused settings were
    checked by then (check_laptop)."""
    os.environ["ANSIBLE_CONFIG"] = str(config_file())
