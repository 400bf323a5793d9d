#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian 12 machine, and does
# nothing for what is already there. Needs root (apt, pip, cargo install).
set -euo pipefail

need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }
have strace || need_apt+=(strace)
have ip || need_apt+=(iproute2)
have setpriv || need_apt+=(util-linux)
# nft: chapter 09 writes its NAT table through the nftables crate, which
# hands libnftables JSON to `nft -j`; the tests read the rules back with it.
have nft || need_apt+=(nftables)
# setfattr/getfattr: the whiteout exercises read and set overlay xattrs.
have setfattr || need_apt+=(attr)
have tar || need_apt+=(tar)
# busybox-static: so the rootfs tests cover the busybox path too.
[ -x /bin/busybox ] || need_apt+=(busybox-static)
# The pure cgroup v2 VM lane: a distro kernel and qemu (tests/vm/).
have qemu-system-x86_64 || need_apt+=(qemu-system-x86)
ls /boot/vmlinuz-* >/dev/null 2>&1 || need_apt+=(linux-image-amd64)
have pip3 || need_apt+=(python3-pip)
# Peers for the container benchmark (benches/container.rs).
have runc || need_apt+=(runc)
have crun || need_apt+=(crun)
# Engines that drive wharf-oci in the interop tests (tests/oci_*.rs), and
# `script` for podman run -it. (tests/oci_runtime_tools.sh, a measurement
# run by hand, also needs golang-go; no test does.)
have podman || need_apt+=(podman)
have conmon || need_apt+=(conmon)
have containerd || need_apt+=(containerd)
have script || need_apt+=(bsdutils)
# Peers for the image interop tests (tests/image_interop.rs).
have skopeo || need_apt+=(skopeo)
have umoci || need_apt+=(umoci)
# A real registry for the distribution tests (tests/registry_*.rs), and
# htpasswd to give it a password file.
have docker-registry || need_apt+=(docker-registry)
have htpasswd || need_apt+=(apache2-utils)
# The peer builder for tests/build_buildah.rs.
have buildah || need_apt+=(buildah)

if [ ${#need_apt[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
have vng || pip3 install -q virtme-ng
have cargo-nextest || cargo install --locked cargo-nextest
have mdbook || cargo install --locked mdbook@0.5.4
