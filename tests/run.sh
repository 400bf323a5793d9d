#!/usr/bin/env bash
# Every test wharf has, in one command. Needs root (namespaces, mounts,
# cgroups): as another user it re-runs itself through sudo. Every stage
# runs even when one before it failed; the exit status says whether all
# passed.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    exec sudo --preserve-env=PATH,CARGO_HOME,RUSTUP_HOME "$0" "$@"
fi

failed=()
stage() {
    local name=$1
    shift
    echo "== $name"
    "$@" || failed+=("$name")
}

tests/setup.sh || exit 1
stage "format" cargo fmt --all -- --check
stage "lints" cargo clippy --workspace --all-targets --quiet -- -D warnings
# The integration tests run the chapter binaries, which cargo builds for a
# test only when they belong to the same package: build them all first.
stage "build every binary" cargo build --workspace --quiet
# Each lab is a workspace of its own, built by `wharf lab check` into
# target/labs. Building one lab here compiles the wharf library and its
# dependencies for all of them once, so a lab test times its lab's own
# compile, not a cold build of every crate (minutes on two cores).
warm_labs() {
    local out=target/labs-warm
    rm -rf "$out"
    cargo run --quiet --bin wharf -- lab gen --out "$out" >/dev/null &&
        cp Cargo.lock "$out/01-chroot/" &&
        cargo build --quiet --manifest-path "$out/01-chroot/Cargo.toml" --target-dir target/labs
}
stage "build the labs' shared dependencies" warm_labs
stage "unit and integration tests (real kernel)" cargo nextest run --workspace --no-fail-fast
stage "labs are generated from the current chapters" cargo run --quiet --bin wharf -- lab gen --check
stage "the book builds" mdbook build book
stage "pure cgroup v2, in a VM" tests/vm/run.sh
stage "nothing of ours is left on the machine" tests/leaks.sh

if [ ${#failed[@]} -gt 0 ]; then
    printf 'FAILED: %s\n' "${failed[@]}"
    exit 1
fi
echo "all stages passed"
