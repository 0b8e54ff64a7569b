#!/usr/bin/env bash
# scripts/setup.sh - install what temper's build, tests and benchmarks need.
# Idempotent: installs only what is missing. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(gcc make pkg-config libcjson-dev libutf8proc-dev libpcre2-dev libcurl4-openssl-dev libssl-dev zlib1g-dev
              python3 python3-numpy python3-venv python3-pip python3-setuptools nodejs npm liblapacke-dev
              python3-sentencepiece python3-sklearn clang libclang-rt-14-dev libmicrohttpd-dev haproxy python3-jsonschema
              chromium curl)
# The aarch64 tests (make test: cross-compiled, run under qemu-user), on x86-64 hosts: the
# cross compiler and qemu, then (below) the arm64 builds of the libraries above (Debian multiarch),
# for the aarch64 library and the reference test's dump_logits.
A64_PACKAGES=()
if [ "$(uname -m)" = x86_64 ]; then
    DEB_PACKAGES+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
    A64_PACKAGES=(libc6:arm64 libcjson-dev:arm64 libutf8proc-dev:arm64 libpcre2-dev:arm64 libcurl4-openssl-dev:arm64
                  libssl-dev:arm64 zlib1g-dev:arm64 liblapacke-dev:arm64)
fi
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo

missing=()
for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A machine may already have node/npm from elsewhere: do not fight it.
if command -v node >/dev/null && command -v npm >/dev/null; then
    keep=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || keep+=("$p"); done
    missing=("${keep[@]}")
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
fi

# arm64 libraries: a mirror without arm64 (or no root) only loses the aarch64 reference
# test, which make test then reports as skipped; the architecture is removed again if
# nothing could be installed, so that apt keeps working.
missing=()
for p in "${A64_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing the arm64 libraries (multiarch): ${missing[*]}"
    added=
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        $SUDO dpkg --add-architecture arm64 && added=1
    fi
    if ! { $SUDO apt-get update -qq &&
           DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null; }; then
        echo "setup: warning: could not install the arm64 libraries; make test will skip the aarch64" \
             "reference test (the aarch64 kernel tests still run)" >&2
        [ -n "$added" ] && ! dpkg -l | grep -q ':arm64 ' && $SUDO dpkg --remove-architecture arm64 &&
            $SUDO apt-get update -qq || true
    fi
fi

# npm packages, each folder from its lockfile: tools/server/web (the web
# explorer's chart library and bundler, which make bundles into temper) and
# tests/npm (Hugging Face tokenizers for the parity tests, the OpenAI
# client, playwright-core for the browser tests). Again when the lockfile
# changed. Offline, npm fails: setup warns and goes on (temper builds
# without the explorer, and those tests skip).
for dir in tools/server/web tests/npm; do
    [ -f $dir/package-lock.json ] || continue
    [ -d $dir/node_modules ] && [ ! $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ] && continue
    echo "setup: npm ci in $dir"
    if ! (cd $dir && npm ci --no-audit --no-fund --loglevel=error); then
        echo "setup: warning: npm ci in $dir failed (no network?): continuing without it; run it again later" >&2
    fi
done
echo "setup: ok"
