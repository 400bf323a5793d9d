#!/usr/bin/env bash
# The OCI runtime-tools validation suite against wharf-oci, runc and crun,
# side by side: TAP per test file, then the pass counts (files passing,
# asserts ok / not ok) and the files wharf-oci fails, with the peers that pass them.
#
#   tests/oci_runtime_tools.sh RUNTIME_TOOLS_CHECKOUT [WHARF_OCI_BINARY]
#
# The checkout is opencontainers/runtime-tools at a3a57a9 (the last commit
# Debian 12's Go 1.19 builds), built with
#   GOFLAGS=-mod=vendor make runtimetest validation-executables
# It is never part of this repository. Each runtime runs through a wrapper
# with a state root of its own under a temp dir; crun in a private mount
# namespace without /sys/fs/cgroup/unified (it refuses hybrid cgroups).
# Afterwards the suite's leftovers are removed: bundles in /tmp, mounts it
# made, and its cgroups (testdir, cgrouptest).
set -uo pipefail

tools=${1:?usage: $0 RUNTIME_TOOLS_CHECKOUT [WHARF_OCI_BINARY]}
here=$(cd "$(dirname "$0")/.." && pwd)
wharf=${2:-$here/target/debug/wharf-oci}
[ "$(id -u)" = 0 ] || { echo "needs root: run it with sudo" >&2; exit 1; }
[ -x "$tools/runtimetest" ] || { echo "$tools has no runtimetest: build it first (see above)" >&2; exit 1; }
work=$(mktemp -d /tmp/wharf-rtools-XXXXXX)

cleanup() {
    for m in $(awk '{print $5}' /proc/self/mountinfo | grep -E '^/tmp/ocitest' | sort -r); do
        umount -l "$m" 2>/dev/null
    done
    rm -rf /tmp/ocitest* /tmp/oci-pid*
    for h in /sys/fs/cgroup/*/; do
        for d in "$h"testdir "$h"cgrouptest; do
            [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
        done
    done
    rm -rf "$work"
}
trap cleanup EXIT

wrapper() { # NAME BINARY
    local w=$work/rt-$1
    case $1 in
        wharf) printf '#!/bin/sh\nWHARF_ROOT=%s exec %s --root %s "$@"\n' "$work/wharf-root" "$2" "$work/state-$1" >"$w" ;;
        *) printf '#!/bin/sh\nexec %s --root %s "$@"\n' "$2" "$work/state-$1" >"$w" ;;
    esac
    chmod +x "$w"
    echo "$w"
}

declare -A bin=([wharf]=$wharf [runc]=$(command -v runc) [crun]=$(command -v crun))
for name in wharf runc crun; do
    [ -n "${bin[$name]}" ] || { echo "$name is not installed: run tests/setup.sh" >&2; exit 1; }
    rt=$(wrapper "$name" "${bin[$name]}")
    mkdir -p "$work/$name"
    for t in "$tools"/validation/*/*.t; do
        n=$(basename "$t" .t)
        if [ "$name" = crun ]; then
            (cd "$tools" && RUNTIME=$rt timeout 60 unshare -m sh -c "umount /sys/fs/cgroup/unified 2>/dev/null; exec $t") >"$work/$name/$n.tap" 2>&1
        else
            (cd "$tools" && RUNTIME=$rt timeout 60 "$t") >"$work/$name/$n.tap" 2>&1
        fi
        echo "rc=$?" >>"$work/$name/$n.tap"
    done
done

# A file passes when it exits 0 with at least one ok and no not ok.
passes() { # RUNTIME FILE
    local f=$work/$1/$2.tap o x rc
    o=$(grep -c '^ok ' "$f"); x=$(grep -c '^not ok' "$f"); rc=$(grep '^rc=' "$f" | tail -1 | cut -d= -f2)
    [ "$rc" = 0 ] && [ "$o" -gt 0 ] && [ "$x" -eq 0 ]
}
for name in wharf runc crun; do
    files=0 pass=0
    for f in "$work/$name"/*.tap; do
        files=$((files + 1))
        passes "$name" "$(basename "$f" .tap)" && pass=$((pass + 1))
    done
    ok=$(cat "$work/$name"/*.tap | grep -c '^ok ')
    nok=$(cat "$work/$name"/*.tap | grep -c '^not ok')
    echo "$name: files passing $pass/$files, asserts ok $ok, not ok $nok"
done
# Every file wharf-oci fails, with its first failing assert, and which
# peers pass it: the issue's target is that none of them does.
echo "files wharf-oci fails (peers passing it in brackets):"
for f in "$work/wharf"/*.tap; do
    n=$(basename "$f" .tap)
    passes wharf "$n" && continue
    peers=""
    passes runc "$n" && peers="$peers runc"
    passes crun "$n" && peers="$peers crun"
    echo "  $n [${peers# }]: $(grep -m1 -E '^not ok|error' "$f" || tail -1 "$f")"
done
