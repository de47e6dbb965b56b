#!/usr/bin/env bash
# Build, offline and cached, everything the real-cluster tier (tests/e2e, marker e2e) needs.
# Nothing is written inside the repository: caches and outputs live in $LABCTL_E2E_CACHE
# (default /var/cache/labctl-e2e). Every step skips what is already built.
#
#   e2e/build.sh [all]   gate, k3s, coredns, images (in that order)
#   e2e/build.sh gate    fetch the pinned k3s module and its whole module graph (Go proxy only)
#   e2e/build.sh k3s     build k3s ./cmd/server and containerd-shim-runc-v2 (runs the gate first)
#   e2e/build.sh coredns go install CoreDNS and write its image
#   e2e/build.sh images  pause (our static C program), nginx, redis, dnsutils (debootstrap)
#   e2e/build.sh status  print "ready", or the reason the tier cannot run and exit 1
#
# Exit codes: 0 done; 1 a build step failed; 2 bad usage or a missing host tool;
# 3 blocked: the Go module proxy refuses the pinned k3s module (`status` then says so).
#
# CPU discipline (the machine is shared): every compiler runs under `nice -n 19` with one
# package at a time (-p=1, GOMAXPROCS=1). Go never falls back to git (see use_proxy_only).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=e2e/versions.env
. "$here/versions.env"

cache=${LABCTL_E2E_CACHE:-/var/cache/labctl-e2e}
logs=$cache/logs
state=$cache/state
bin=$cache/bin
images=$cache/images
src=$cache/src/k3s-$K3S_COMMIT
k3s_mod=github.com/k3s-io/k3s

export GOMODCACHE=$cache/gomod GOCACHE=$cache/gocache GOPATH=$cache/gopath
export GOTOOLCHAIN=local GOMAXPROCS=1
export GOFLAGS="-modcacherw -buildvcs=false -p=1"

say() { printf 'build.sh: %s\n' "$*" >&2; }
die() { say "$1"; exit "${2:-1}"; }
low() { nice -n 19 "$@"; }

need_tools() {
  local missing=() tool
  for tool in "$@"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
  ((${#missing[@]} == 0)) || die "missing host tools: ${missing[*]} (install them first, e.g. apt-get install -y ${missing[*]})" 2
}

need_debs() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) || die "missing Debian packages: ${missing[*]}; run: apt-get install -y ${missing[*]}" 2
}

# timed LOGNAME CMD...: run CMD at nice 19 under /usr/bin/time -v, keep its output in
# $logs/LOGNAME.log and the resource summary in $logs/LOGNAME.time; print wall time and peak RSS.
timed() {
  local name=$1; shift
  if /usr/bin/time -v -o "$logs/$name.time" nice -n 19 "$@" >"$logs/$name.log" 2>&1; then
    say "$name: $(time_summary "$logs/$name.time")"
  else
    say "$name FAILED; last lines of $logs/$name.log:"
    tail -n 20 "$logs/$name.log" >&2
    return 1
  fi
}

time_summary() {
  awk -F': ' '/Elapsed \(wall clock\)/ {w=$2} /Maximum resident set size/ {r=$2}
    END {printf "wall %s, peak RSS %.0f MiB", w, r/1024}' "$1"
}

# The machine's module proxy, without the ",direct" fallback: nothing is fetched with git.
use_proxy_only() {
  local proxy
  proxy=$(go env GOPROXY)
  proxy=${proxy%,direct}
  proxy=${proxy%|direct}
  case $proxy in
    ''|direct|off) die "GOPROXY is '$(go env GOPROXY)': a module proxy is required" 2 ;;
  esac
  export GOPROXY=$proxy
}

# --- gate: the pinned k3s module and every module of its graph, through the Go proxy -------------
step_gate() {
  need_tools go jq
  use_proxy_only
  if [[ -f $src/.complete ]]; then say "gate: cached ($src)"; return 0; fi
  local json err dir
  json=$logs/gate-download.json
  if ! /usr/bin/time -v -o "$logs/gate-download.time" \
      nice -n 19 go mod download -json "$k3s_mod@$K3S_COMMIT" >"$json" 2>"$logs/gate-download.err"; then
    err=$(jq -r '.Error // empty' "$json" 2>/dev/null || true)
    [[ -n $err ]] || err=$(tail -n 1 "$logs/gate-download.err")
    err=$(printf '%s' "$err" | tr -s '\n\t' '  ')
    printf 'refused\t%s\t%s\n' "$(date -u +%FT%TZ)" "$err" >"$state/gate"
    say "gate: BLOCKED: go mod download -json $k3s_mod@$K3S_COMMIT ($K3S_VERSION)"
    say "gate: $err"
    exit 3
  fi
  say "gate: k3s module: $(time_summary "$logs/gate-download.time")"
  dir=$(jq -r '.Dir' "$json")
  rm -rf "$src.partial"
  mkdir -p "$src.partial"
  cp -a "$dir/." "$src.partial/"
  chmod -R u+w "$src.partial"
  # Every module of the graph, the fork modules of the replace block included.
  if ! (cd "$src.partial" && timed gate-graph go mod download -x); then
    printf 'refused\t%s\t%s\n' "$(date -u +%FT%TZ)" \
      "a module of the k3s graph was refused; see $logs/gate-graph.log" >"$state/gate"
    exit 3
  fi
  # go:embed placeholders: pkg/static embeds the Traefik chart that scripts/download would
  # fetch; we disable Traefik, so an empty placeholder satisfies the pattern.
  local d
  for d in pkg/static/embed pkg/deploy/embed; do
    if [[ -d $src.partial/${d%/embed} ]] && [[ -z $(ls -A "$src.partial/$d" 2>/dev/null) ]]; then
      mkdir -p "$src.partial/$d" && : >"$src.partial/$d/.empty"
    fi
  done
  printf 'ok\t%s\t%s\n' "$(date -u +%FT%TZ)" "$K3S_VERSION $K3S_COMMIT" >"$state/gate"
  rm -rf "$src" && mv "$src.partial" "$src" && : >"$src/.complete"
  say "gate: ok, source tree at $src"
}

# --- k3s ./cmd/server and the shim ------------------------------------------------------------
step_k3s() {
  if [[ -x $bin/k3s && $(cat "$bin/k3s.commit" 2>/dev/null) == "$K3S_COMMIT" ]]; then
    say "k3s: cached ($bin/k3s)"
    return 0
  fi
  step_gate
  need_tools gcc pkg-config
  need_debs libseccomp-dev libsqlite3-dev
  local goversion tags ldflags pkg=github.com/k3s-io/k3s/pkg/version
  goversion=$(go env GOVERSION)
  tags="ctrd apparmor seccomp netcgo osusergo providerless urfave_cli_no_docs"
  tags+=" sqlite_omit_load_extension libsqlite3"
  # UpstreamGolang is checked at start-up against runtime.Version(); k3s's scripts would
  # fetch it from GitHub, so it is set here from the toolchain that builds.
  ldflags="-w -s -X $pkg.Version=$K3S_VERSION -X $pkg.GitCommit=${K3S_COMMIT:0:8}"
  ldflags+=" -X $pkg.UpstreamGolang=$goversion"
  (
    cd "$src"
    export CGO_ENABLED=1 CGO_CFLAGS="-DSQLITE_ENABLE_DBSTAT_VTAB=1 -DSQLITE_USE_ALLOCA=1"
    timed k3s-build go build -tags "$tags" -ldflags "$ldflags" -o "$bin/k3s.partial" \
      ./cmd/server &&
    timed shim-build go build -ldflags "-w -s" -o "$bin/containerd-shim-runc-v2.partial" \
      github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2
  ) || exit 1
  mv "$bin/containerd-shim-runc-v2.partial" "$bin/containerd-shim-runc-v2"
  mv "$bin/k3s.partial" "$bin/k3s"
  local name
  for name in containerd kubectl ctr crictl; do ln -sfn k3s "$bin/$name"; done
  printf '%s\n' "$K3S_COMMIT" >"$bin/k3s.commit"
  say "k3s: $("$bin/k3s" --version | head -n 1)"
}

# Mounts that an interrupted debootstrap left inside DIR (proc, sys), undone deepest first,
# so that removing a scratch root filesystem can never reach the host's /proc or /sys.
unmount_below() {
  local mnt
  awk -v d="$1/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r |
    while read -r mnt; do umount -l "$mnt"; done
}
remove_tree() { unmount_below "$1"; rm -rf --one-file-system "$1"; }

# --- images ------------------------------------------------------------------------------------
# fresh NAME INPUTS: true when $images/NAME.tar was built from exactly INPUTS (a recipe digest).
fresh() { [[ -f $images/$1.tar && $(cat "$images/$1.inputs" 2>/dev/null) == "$2" ]]; }
digest() { sha256sum | cut -c1-16; }

write_image() {  # write_image NAME INPUTS ROOTFS imagetar-args...
  local name=$1 inputs=$2 rootfs=$3; shift 3
  python3 "$here/imagetar.py" --rootfs "$rootfs" --output "$images/$name.tar" "$@"
  printf '%s\n' "$inputs" >"$images/$name.inputs"
}

image_pause() {
  local inputs work
  inputs=$(cat "$here/pause.c" "$here/imagetar.py" | digest)
  if fresh pause "$inputs"; then say "image pause: cached"; return 0; fi
  need_tools gcc
  work=$(mktemp -d "$cache/work/pause.XXXXXX")
  low gcc -static -O2 -Wall -Wextra -Werror -o "$work/pause" "$here/pause.c"
  write_image pause "$inputs" "$work" --name "$E2E_IMAGE_PAUSE" --entrypoint '["/pause"]'
  remove_tree "$work"
  say "image pause: $images/pause.tar ($E2E_IMAGE_PAUSE)"
}

# debootstrap_image NAME INCLUDE CUSTOMIZE_FN imagetar-args...
debootstrap_image() {
  local name=$1 include=$2 customize=$3; shift 3
  local inputs rootfs
  inputs=$( { printf '%s|%s|%s\n' "$E2E_DEBIAN_SUITE" "$include" "$*"; declare -f "$customize";
              cat "$here/imagetar.py"; } | digest)
  if fresh "$name" "$inputs"; then say "image $name: cached"; return 0; fi
  need_tools debootstrap
  rootfs=$(mktemp -d "$cache/work/$name.XXXXXX")
  timed "debootstrap-$name" debootstrap --variant=minbase --include="$include" \
    --cache-dir="$cache/debs" "$E2E_DEBIAN_SUITE" "$rootfs" "$E2E_DEBIAN_MIRROR"
  "$customize" "$rootfs"
  # What the runtime provides, or what would be shared by every container of the image.
  unmount_below "$rootfs"
  rm -rf "${rootfs:?}"/dev/* "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  rm -f "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"
  : >"$rootfs/etc/machine-id"
  write_image "$name" "$inputs" "$rootfs" "$@"
  remove_tree "$rootfs"
  say "image $name: $images/$name.tar"
}

customize_nginx() {
  # Serve /usr/share/nginx/html like the upstream nginx image, so the demos' initContainer
  # (it writes the pod name there) works unchanged; log to the container's stdout/stderr.
  local r=$1
  rm -f "$r/etc/nginx/sites-enabled/default"
  mkdir -p "$r/usr/share/nginx/html"
  printf 'labctl e2e nginx\n' >"$r/usr/share/nginx/html/index.html"
  cat >"$r/etc/nginx/conf.d/labctl.conf" <<'CONF'
server {
    listen 80 default_server;
    root /usr/share/nginx/html;
    index index.html;
}
CONF
  ln -sfn /dev/stdout "$r/var/log/nginx/access.log"
  ln -sfn /dev/stderr "$r/var/log/nginx/error.log"
}

customize_none() { :; }

step_images() {
  # scratch root filesystems of an interrupted run are useless: start clean (we hold the lock)
  remove_tree "$cache/work"
  mkdir -p "$cache/work" "$cache/debs"
  image_pause
  debootstrap_image nginx nginx-light customize_nginx --name "$E2E_IMAGE_NGINX" \
    --cmd '["nginx", "-g", "daemon off;"]' --port 80/tcp
  debootstrap_image redis redis-server customize_none --name "$E2E_IMAGE_REDIS" \
    --cmd '["redis-server", "--protected-mode", "no", "--dir", "/tmp"]' --port 6379/tcp
  debootstrap_image dnsutils dnsutils,curl,iproute2 customize_none --name "$E2E_IMAGE_DNSUTILS" \
    --cmd '["sleep", "infinity"]'
}

step_coredns() {
  local inputs
  inputs=$(printf '%s\n' "$COREDNS_VERSION" | cat - "$here/imagetar.py" | digest)
  if fresh coredns "$inputs"; then say "image coredns: cached"; return 0; fi
  need_tools go
  use_proxy_only
  mkdir -p "$cache/work"
  timed coredns-build env CGO_ENABLED=0 GOBIN="$bin" go install -ldflags "-w -s" \
    "github.com/coredns/coredns@$COREDNS_VERSION"
  local work
  work=$(mktemp -d "$cache/work/coredns.XXXXXX")
  cp "$bin/coredns" "$work/coredns"
  write_image coredns "$inputs" "$work" --name "$E2E_IMAGE_COREDNS" \
    --entrypoint '["/coredns"]' --port 53/udp --port 53/tcp
  remove_tree "$work"
  say "image coredns: $images/coredns.tar"
}

# --- status: is the tier runnable from the cache alone? ----------------------------------------
step_status() {
  local name missing=()
  [[ -x $bin/k3s && $(cat "$bin/k3s.commit" 2>/dev/null) == "$K3S_COMMIT" ]] || missing+=(k3s)
  for name in pause coredns nginx redis dnsutils; do
    [[ -f $images/$name.tar ]] || missing+=("image:$name")
  done
  if ((${#missing[@]} == 0)); then echo ready; return 0; fi
  local verdict when why
  if [[ -f $state/gate ]] && IFS=$'\t' read -r verdict when why <"$state/gate" \
      && [[ $verdict == refused ]]; then
    # keep the proxy's answer ("403 Forbidden ... server response: <text>") short
    why=$(printf '%s' "$why" | sed -E 's/.*: ([0-9]{3} [A-Za-z ]+) server response: (.*)$/\1: \2/')
    echo "the Go module proxy refuses $k3s_mod@${K3S_COMMIT:0:12} ($K3S_VERSION): $why" \
      "(checked $when; see docs/real-cluster-notes.md)"
  else
    echo "build cache $cache lacks ${missing[*]}; run e2e/build.sh (cold: 20-45 min on 2 cores)"
  fi
  return 1
}

main() {
  local step=${1:-all}
  case $step in
    all|gate|k3s|coredns|images|status) ;;
    *) die "unknown step '$step'; use one of: all gate k3s coredns images status" 2 ;;
  esac
  (($# <= 1)) || die "one step at a time; got: $*" 2
  [[ $step == status ]] && { step_status; return; }
  mkdir -p "$logs" "$state" "$bin" "$images" "$cache/src"
  exec 9>"$cache/.lock"
  flock -n 9 || die "another e2e/build.sh holds $cache/.lock; wait for it to finish" 2
  trap 'unmount_below "$cache/work"' EXIT
  trap 'exit 130' INT TERM
  case $step in
    all) step_k3s; step_coredns; step_images ;;
    gate) step_gate ;;
    k3s) step_k3s ;;
    coredns) step_coredns ;;
    images) step_images ;;
  esac
}

main "$@"
