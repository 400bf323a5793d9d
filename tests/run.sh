#!/usr/bin/env bash
# Every test wharf has, in one command. Needs root (namespaces, mounts,
# cgroups): as another user it re-runs itself through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    exec sudo --preserve-env=PATH,CARGO_HOME,RUSTUP_HOME "$0" "$@"
fi

tests/setup.sh
echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== unit and integration tests (real kernel)"
cargo nextest run --workspace --no-fail-fast
echo "== labs are generated from the current chapters"
cargo run --quiet --bin wharf -- lab gen --check
echo "== the book builds"
mdbook build book
echo "== pure cgroup v2, in a VM"
tests/vm/run.sh
echo "== nothing of ours is left on the machine"
tests/leaks.sh
