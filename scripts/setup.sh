#!/usr/bin/env bash
# Installs mlxcpp's build dependencies (Debian 12 packages) and builds Release into build/.
# Usage: scripts/setup.sh            (needs root or sudo for apt-get)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config git
  nlohmann-json3-dev libfmt-dev libcli11-dev zlib1g-dev
  libcurl4-openssl-dev libcpp-httplib-dev libboost-dev libssl-dev libpcre2-dev libutf8proc-dev libhwy-dev
  libedit-dev  # chat's line editing and history (optional at build)
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-dev python3 python3-jinja2
  g++-aarch64-linux-gnu qemu-user  # the tests' ARM64 check (tests/tools/arm64_kernels_check.sh)
  chromium  # the chat page's browser test (tests/clients/chat_page.test.mjs, puppeteer-core)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node.js runs the official OpenAI and MCP clients in the tests. Keep a Node that is already
# installed (any source); otherwise take Debian's.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "setup: installing nodejs npm" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if [ ! -d tests/clients/node_modules ] || [ tests/clients/package-lock.json -nt tests/clients/node_modules ]; then
  echo "setup: installing the npm test clients (tests/clients)" >&2
  npm ci --prefix tests/clients --no-audit --no-fund --loglevel=error >/dev/null
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: built build/mlxcpp" >&2
