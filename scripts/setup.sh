#!/usr/bin/env bash
# Brings a fresh Debian 12 machine to where nsbox builds, runs its demo and its tests:
# the Debian packages it needs, node_modules, the addon (built from source) and dist/.
# Idempotent: a second run only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# g++/make/python3: node-gyp builds the addon. iproute2: network namespace tests.
# util-linux: unshare (the benchmark's comparison) and setpriv (the unprivileged test pass).
# strace: tests that check which system calls a spawn really made.
# qemu-system-x86, busybox-static, cpio: the cgroup v2 suite's VM (scripts/vm-test.sh) — a
# Debian cloud kernel under qemu TCG with a busybox initramfs.
# libseccomp-dev: the addon compiles OCI seccomp profiles to BPF with libseccomp (src-native/seccomp.cc).
# runc: what bench/container.js compares Container.run with (`runc run` of the equivalent bundle).
packages=(g++ make python3 iproute2 util-linux strace qemu-system-x86 busybox-static cpio libseccomp-dev runc)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund   # honours package-lock.json; its install script builds the addon from source
fi
# A changed binding.gyp (a new source file, a library) needs the Makefile made again.
if [ -f build/Makefile ] && [ build/Makefile -nt binding.gyp ]; then npx --no-install node-gyp build >/dev/null; else npx --no-install node-gyp rebuild >/dev/null; fi
npm run --silent build:ts
bash scripts/build-probe.sh   # the static probe the kernel tests run inside containers
