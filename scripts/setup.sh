#!/usr/bin/env bash
# scripts/setup.sh - install what temper's build, tests and benchmarks need.
# Idempotent: installs only what is missing. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(gcc make pkg-config libcjson-dev libutf8proc-dev libpcre2-dev libcurl4-openssl-dev libssl-dev zlib1g-dev
              python3 python3-numpy python3-venv python3-pip python3-setuptools nodejs npm liblapacke-dev
              python3-sentencepiece clang libclang-rt-14-dev libmicrohttpd-dev haproxy python3-jsonschema
              chromium curl)
# The aarch64 kernel tests (make test: cross-compiled, run under qemu-user), on x86-64 hosts.
[ "$(uname -m)" = x86_64 ] && DEB_PACKAGES+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)

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
    SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
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
