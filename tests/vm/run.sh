#!/usr/bin/env bash
# The pure cgroup v2 lane. This host is hybrid; most learners' machines are
# pure v2. Boot Debian's kernel in qemu with virtme-ng, v1 controllers
# switched off (cgroup_no_v1=all), and run chapter 04's tests and demos,
# and chapters 05-07's tests (their containers come from src/container),
# inside (tests/vm/guest.sh), on binaries built here. The guest sees the
# host's files read-only; its results come back through one writable dir.
#
# Needs: qemu-system-x86, linux-image-amd64 (apt), virtme-ng (pip), and
# busybox-static (virtme-ng's initramfs). KVM hangs on these hosts, so the
# VM runs under software emulation (--disable-kvm): boot takes ~20-40 s.
#
# Usage: tests/vm/run.sh [--update-snapshots]   (the second records the v2
# --explain snapshot in tests/snapshots from inside the VM)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
started=$(date +%s)

for need in vng qemu-system-x86_64; do
    command -v "$need" >/dev/null || { echo "vm lane: $need is missing: run tests/setup.sh"; exit 1; }
done
kernel=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
[ -n "$kernel" ] || { echo "vm lane: no kernel in /boot: apt-get install linux-image-amd64"; exit 1; }

# Build on the host: the chapter binaries and the test binaries the guest
# runs (chapters 04-07's, and the cgroup limit files on a real v2 kernel).
cargo build --quiet -p wharf -p ch04-cgroups -p ch05-union -p ch06-whiteouts -p ch07-volumes --bins
test_binary() { # test_binary NAME: build tests/NAME.rs, print its executable
    cargo test --quiet -p wharf --test "$1" --no-run --message-format=json 2>/dev/null |
        python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] and m.get("executable"):
        print(m["executable"])' "$1"
}
tests=()
for name in cgroup_limits ch04_cgroups ch05_union ch06_whiteouts ch07_volumes; do
    b=$(test_binary "$name")
    [ -x "$b" ] || { echo "vm lane: could not build the test binary $name"; exit 1; }
    tests+=("$b")
done

out=$(mktemp -d /tmp/wharf-vm-XXXXXX)
trap 'rm -rf "$out"' EXIT
extra=()
if [ "${1:-}" = --update-snapshots ]; then
    extra=(--rwdir "$repo/tests/snapshots")
    export INSTA_UPDATE=always
fi

echo "vm lane: booting $(basename "$kernel") with cgroup_no_v1=all (software emulation)"
vm_rc=0
timeout 900 vng --run "$kernel" --disable-kvm --cpus 2 --memory 1G \
    --append cgroup_no_v1=all --rwdir "$out" "${extra[@]}" \
    --exec "INSTA_UPDATE=${INSTA_UPDATE:-no} $repo/tests/vm/guest.sh $repo $out ${tests[*]}" \
    >"$out/console.log" 2>&1 || vm_rc=$?

echo "== pure cgroup v2 lane ($(($(date +%s) - started)) s)"
if [ ! -s "$out/summary" ]; then
    echo "vm lane: the guest reported nothing (vng exit $vm_rc); console:"
    tail -n 40 "$out/console.log"
    exit 1
fi
cat "$out/summary"
if grep -q '^FAIL' "$out/summary" || [ "$vm_rc" != 0 ]; then
    for log in $(grep '^FAIL' "$out/summary" | sed -n 's/.*see \(.*\))$/\1/p'); do
        echo "--- $(basename "$log")"; tail -n 40 "$log"
    done
    echo "vm lane: FAILED (vng exit $vm_rc)"
    exit 1
fi
echo "vm lane: passed"
