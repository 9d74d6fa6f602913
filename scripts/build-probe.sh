#!/usr/bin/env bash
# Builds the probe that kernel tests run inside containers (test/probe/nsbox-probe.c) as one
# static binary, so that it runs in any root file system. Only when the source is newer.
set -euo pipefail
cd "$(dirname "$0")/.."
src=test/probe/nsbox-probe.c
out=test/probe/nsbox-probe
if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
  mkdir -p "$(dirname "$out")"
  # Built aside and renamed: a test running the old binary never sees a half-written one.
  gcc -std=gnu11 -static -O2 -Wall -Wextra -o "$out.tmp.$$" "$src"
  mv -f "$out.tmp.$$" "$out"
fi
