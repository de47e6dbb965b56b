#!/usr/bin/env bash
# molecule/images/build.sh: build (or load from cache) the stand-in Raspberry Pi image
# labctl/standin-pi:bookworm, a Debian 12 systemd rootfs made with debootstrap and
# `docker import` (no registry needed), shaped like Raspberry Pi OS Lite where labctl's
# roles look: /boot/firmware/cmdline.txt, dphys-swapfile enabled with CONF_SWAPSIZE,
# a user `pi` with passwordless sudo, sshd with per-container host keys.
#
# Usage: molecule/images/build.sh [--rebuild]
# Env:   LABCTL_IMAGE_CACHE (default /var/cache/labctl): where the gzipped `docker save`
#        of the image is kept. Image present and current -> nothing to do; image absent
#        but cached tarball current -> `docker load`; otherwise debootstrap (~1 min).
# "Current" means: the image's label org.labctl.recipe equals the sha256 of this script,
# so editing the recipe invalidates both the image and the cache.
# Needs root (debootstrap, chroot), debootstrap and a running Docker engine.
set -euo pipefail

IMAGE="labctl/standin-pi:bookworm"
SUITE="bookworm"
CACHE_DIR="${LABCTL_IMAGE_CACHE:-/var/cache/labctl}"
CACHE_TAR="$CACHE_DIR/standin-pi-bookworm.tar.gz"
SOURCES="/etc/apt/sources.list.d/debian.sources"
INCLUDE="systemd,systemd-sysv,dbus,python3,python3-apt,openssh-server,sudo,iproute2,iputils-ping,ca-certificates,gnupg,curl,procps,kmod,dphys-swapfile"
# A Raspberry Pi OS (bookworm) Lite cmdline.txt after first boot; one line, no cgroup flags yet.
PI_CMDLINE="console=serial0,115200 console=tty1 root=PARTUUID=6c586e13-02 rootfstype=ext4 fsck.repair=yes rootwait cfg80211.ieee80211_regdom=JP"
PI_SWAPSIZE=100   # Raspberry Pi OS's /etc/dphys-swapfile ships CONF_SWAPSIZE=100

rebuild=0
case "${1:-}" in
  "") ;;
  --rebuild) rebuild=1 ;;
  *) echo "build.sh: unknown argument '$1'; usage: $0 [--rebuild]" >&2; exit 2 ;;
esac

t0=$EPOCHREALTIME
phase() { printf 'build.sh: %-34s %6.1f s\n' "$1" "$(awk -v a="$2" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')"; }

if ! docker info >/dev/null 2>&1; then
  echo "build.sh: no Docker engine answers; start one first (.ci/start-docker on the CI machine kind)" >&2
  exit 1
fi

recipe="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-64)"
image_recipe() { docker image inspect --format '{{ index .Config.Labels "org.labctl.recipe" }}' "$IMAGE" 2>/dev/null || true; }

if [ "$rebuild" = 0 ]; then
  if [ "$(image_recipe)" = "$recipe" ]; then
    echo "build.sh: $IMAGE is present and current (recipe ${recipe:0:12}); nothing to do"
    exit 0
  fi
  if [ -s "$CACHE_TAR" ]; then
    t=$EPOCHREALTIME
    gzip -dc "$CACHE_TAR" | docker load -q
    phase "docker load $CACHE_TAR" "$t"
    if [ "$(image_recipe)" = "$recipe" ]; then
      phase "total" "$t0"
      exit 0
    fi
    echo "build.sh: cached image was built from another recipe; rebuilding"
  fi
fi

if [ "$(id -u)" != 0 ]; then
  echo "build.sh: building needs root (debootstrap, chroot); re-run with sudo" >&2
  exit 2
fi
command -v debootstrap >/dev/null || { echo "build.sh: debootstrap is missing; apt-get install debootstrap" >&2; exit 2; }

# The host's configured Debian mirror (the only one reachable on the CI machine kind); never hard-coded.
[ -r "$SOURCES" ] || { echo "build.sh: $SOURCES not found; cannot tell which Debian mirror to use" >&2; exit 2; }
MIRROR="$(awk '/^URIs:/{print $2; exit}' "$SOURCES")"
SECMIRROR="$(awk '/^URIs:/{u=$2} END{print u}' "$SOURCES")"
[ -n "$MIRROR" ] || { echo "build.sh: no URIs: line in $SOURCES" >&2; exit 2; }

work="$(mktemp -d /var/tmp/labctl-standin.XXXXXX)"
rootfs="$work/rootfs"
cleanup() {
  # debootstrap mounts proc/sys inside the target; never rm -rf across a live mount
  if [ -d "$rootfs" ]; then
    awk -v r="$rootfs" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/mounts | sort -r |
      while read -r m; do umount -l "$m" || true; done
  fi
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

t=$EPOCHREALTIME
# debootstrap installs a policy-rc.d (exit 101) while it configures packages, so neither
# sshd nor dphys-swapfile is started on the build host.
debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2; echo "build.sh: debootstrap failed" >&2; exit 1; }
phase "debootstrap ($SUITE, minbase)" "$t"

t=$EPOCHREALTIME
in_root() { chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C "$@"; }

# Container safety (test-substrate.md hazards): privileged containers get the host's /dev
# (gettys would start on the host's ttys) and the global binfmt_misc instance.
in_root systemctl mask getty@.service serial-getty@.service console-getty.service getty.target \
  systemd-binfmt.service proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount >/dev/null 2>&1

# Raspberry Pi OS boot files: the roles edit cmdline.txt line by line.
install -d -m 0755 "$rootfs/boot/firmware"
printf '%s\n' "$PI_CMDLINE" > "$rootfs/boot/firmware/cmdline.txt"
chmod 0755 "$rootfs/boot/firmware/cmdline.txt"

# dphys-swapfile as on Raspberry Pi OS: installed, enabled, a CONF_SWAPSIZE set.
sed -i "s/^#\?CONF_SWAPSIZE=.*/CONF_SWAPSIZE=$PI_SWAPSIZE/" "$rootfs/etc/dphys-swapfile"
grep -q "^CONF_SWAPSIZE=$PI_SWAPSIZE\$" "$rootfs/etc/dphys-swapfile"
in_root systemctl enable dphys-swapfile.service >/dev/null 2>&1
[ -L "$rootfs/etc/systemd/system/multi-user.target.wants/dphys-swapfile.service" ]
install -d -m 0755 "$rootfs/etc/systemd/system/dphys-swapfile.service.d"
cat > "$rootfs/etc/systemd/system/dphys-swapfile.service.d/10-labctl-standin-no-swap.conf" <<'UNIT'
# labctl stand-in image ONLY (molecule/images/build.sh).
# The stand-in Pis run as PRIVILEGED containers that share the host's kernel: the real
# ExecStart (`dphys-swapfile setup` + `swapon`) would create a swap file and activate it
# on the HOST, and ExecStop's `swapoff` would act on the host too. Only the activation is
# neutralised here; the unit, its enablement and /etc/dphys-swapfile stay real, so the
# pi_node role disables and reconfigures the same things it does on a Raspberry Pi.
[Service]
ExecStart=
ExecStart=/bin/true
ExecStop=
ExecStop=/bin/true
UNIT

# SSH: no baked host keys; every container makes its own at first boot (as Raspberry Pi OS
# does with regenerate_ssh_host_keys). `ssh-keygen -A` only creates missing keys.
rm -f "$rootfs"/etc/ssh/ssh_host_*
cat > "$rootfs/etc/systemd/system/regenerate_ssh_host_keys.service" <<'UNIT'
[Unit]
Description=Generate this machine's own SSH host keys (labctl stand-in Pi)
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
RequiredBy=ssh.service
UNIT
in_root systemctl enable regenerate_ssh_host_keys.service ssh.service >/dev/null 2>&1

# Mount propagation as on a booted Raspberry Pi OS, where / is a shared mount: inside a
# container / starts private, and kubelet's volume mounts need it shared (as kind's node
# entrypoint does). A property of the machine, not something labctl's roles configure.
cat > "$rootfs/etc/systemd/system/labctl-standin-rshared.service" <<'UNIT'
[Unit]
Description=Make / a shared mount, as on a booted Pi (labctl stand-in Pi)
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target

[Service]
Type=oneshot
ExecStart=/bin/mount --make-rshared /

[Install]
WantedBy=sysinit.target
UNIT
in_root systemctl enable labctl-standin-rshared.service >/dev/null 2>&1

# The user of Raspberry Pi OS: pi, passwordless sudo (/etc/sudoers.d/010_pi-nopasswd), no
# password (key login only).
in_root useradd --create-home --shell /bin/bash --groups sudo,adm,dialout,plugdev,users pi
in_root passwd --lock pi >/dev/null
printf 'pi ALL=(ALL) NOPASSWD: ALL\n' > "$rootfs/etc/sudoers.d/010_pi-nopasswd"
chmod 0440 "$rootfs/etc/sudoers.d/010_pi-nopasswd"
install -d -m 0700 -o 1000 -g 1000 "$rootfs/home/pi/.ssh"
echo raspberrypi > "$rootfs/etc/hostname"

# apt: the host's mirror; no lists baked in (roles use update_cache).
cat > "$rootfs/etc/apt/sources.list" <<SRC
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECMIRROR $SUITE-security main
SRC
in_root apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log "$rootfs"/var/cache/debconf/*-old

# Every container needs its own machine-id (systemd writes one at boot into the empty file).
: > "$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"
phase "prepare rootfs" "$t"

t=$EPOCHREALTIME
tar --numeric-owner -C "$rootfs" -c . | docker import \
  -c 'CMD ["/sbin/init"]' -c 'ENV container=docker' \
  -c "LABEL org.labctl.recipe=$recipe" -c 'LABEL org.labctl.stop-signal=SIGRTMIN+3' \
  - "$IMAGE" >/dev/null
phase "docker import $IMAGE" "$t"

t=$EPOCHREALTIME
install -d -m 0755 "$CACHE_DIR"
docker save "$IMAGE" | gzip -1 > "$CACHE_TAR.tmp"
mv "$CACHE_TAR.tmp" "$CACHE_TAR"
phase "docker save -> $CACHE_TAR" "$t"
phase "total" "$t0"
