#!/usr/bin/env bash
# Fails if the test suite left a mount, cgroup, network device, nftables
# table or state directory of wharf's on this machine.
set -u
leaks=0
report() { echo "left behind: $*"; leaks=1; }
grep -qi 'wharf' /proc/self/mountinfo && report "mounts: $(grep -i wharf /proc/self/mountinfo | cut -d' ' -f5 | tr '\n' ' ')"
c=$(find /sys/fs/cgroup -maxdepth 3 -type d -name 'wharf-*' 2>/dev/null)
[ -n "$c" ] && report "cgroups: $c"
l=$(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | grep -E '^(wf[0-9a-f]{8}|wharf)' | sort -u)
[ -n "$l" ] && report "network devices: $l"
n=$(nft list tables 2>/dev/null | grep -E 'wharf-[0-9a-f]{8}')
[ -n "$n" ] && report "nftables tables: $n"
d=$(find /tmp -maxdepth 1 -name 'wharf-test-*' 2>/dev/null)
[ -n "$d" ] && report "state dirs: $d"
[ $leaks = 0 ] && echo "no leftovers"
exit $leaks
