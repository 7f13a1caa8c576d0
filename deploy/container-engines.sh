#!/usr/bin/env bash
# Container engines for the container executor (executor.kind podman|docker|auto) and its tests.
#   podman + runc + catatonit   the engine; runc because crun cannot run on hosts with cgroup v1
#                               "hybrid" mounts, catatonit is the tiny init behind `run --init`
#   docker.io                   docker 20.10 with its own containerd; nothing starts it (no systemd):
#                               the tests start dockerd themselves on a private socket
# Then a podman configuration private to Triggerfish, in $TRIGGERFISH_CONTAINERS/podman (by default
# ~/.cache/triggerfish/containers/podman; the tests keep dockerd's data next to it, in .../docker),
# that leaves /etc and /var/lib/containers alone:
#   containers.conf   runtime runc, cgroupfs, file events and logs (no journald), ulimits this host accepts
#   storage.conf      overlay storage (graph root, run root) in the same directory
# The script prints the two variables that select it, for  eval "$(deploy/container-engines.sh)"
# (the tests do the same).  Idempotent: a rerun with everything in place changes nothing and is fast.
set -euo pipefail
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
[ -x /usr/libexec/podman/catatonit ] || missing+=(catatonit)
command -v dockerd >/dev/null || missing+=(docker.io)
if ((${#missing[@]})); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "warning: ${missing[*]} missing and not root; install them for the container tests" >&2
    else
        install() { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
        install || { apt-get update -qq && install; }
    fi
fi

dir=${TRIGGERFISH_CONTAINERS:-${XDG_CACHE_HOME:-$HOME/.cache}/triggerfish/containers}/podman
mkdir -p "$dir"
# Ulimits: podman's root defaults (nofile 1048576, nproc 4194304) exceed what a root without
# CAP_SYS_RESOURCE may set, and conmon cannot pass nproc above its own hard limit (32768).
nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
for limit in nofile nproc; do
    value=${!limit}
    if [ "$value" = unlimited ] || [ "$value" -gt 16384 ]; then printf -v "$limit" 16384; fi
done
conf=$(cat <<EOF
# Written by deploy/container-engines.sh: podman for Triggerfish's container executor.
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$dir/tmp"
EOF
)
storage=$(cat <<EOF
# Written by deploy/container-engines.sh: images and containers of Triggerfish's podman.
[storage]
driver = "overlay"
graphroot = "$dir/storage"
runroot = "$dir/run"
EOF
)
write() { [ "$(cat "$1" 2>/dev/null)" = "$2" ] || printf '%s\n' "$2" >"$1"; }
write "$dir/containers.conf" "$conf"
write "$dir/storage.conf" "$storage"
printf 'export CONTAINERS_CONF=%q\nexport CONTAINERS_STORAGE_CONF=%q\n' "$dir/containers.conf" "$dir/storage.conf"
