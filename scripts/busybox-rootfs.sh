#!/usr/bin/env bash
# A minimal root file system from Debian's busybox-static in DIR (absent or empty), for the
# benchmark (bench/) and by hand. The same layout as test/helpers/rootfs.ts makes for the
# tests (test/kernel/probe-program.test.ts compares them): bin/busybox copied (static: it
# needs nothing of the host's /bin or /lib), one relative symlink per applet where
# `busybox --list-full` puts it, empty proc dev sys tmp etc root, /etc/passwd and /etc/group
# with root and nobody, and unless --no-probe the probe at /usr/local/bin/nsbox-probe.
set -euo pipefail
usage() { echo "usage: $0 [--no-probe] DIR" >&2; exit 2; }
probe=1
if [ "${1:-}" = --no-probe ]; then probe=0; shift; fi
[ $# -eq 1 ] || usage
dir=$1
repo=$(cd "$(dirname "$0")/.." && pwd)
busybox=/bin/busybox
die() { echo "$0: $*" >&2; exit 1; }

[ -x "$busybox" ] || die "$busybox is missing: apt-get install busybox-static (scripts/setup.sh installs it)"
if command -v readelf >/dev/null && LC_ALL=C readelf -l "$busybox" | grep -q 'program interpreter'; then
  die "$busybox is dynamically linked: a rootfs needs busybox-static's"
fi
if [ "$probe" = 1 ]; then
  bash "$repo/scripts/build-probe.sh"
fi
mkdir -p "$dir"
[ -z "$(ls -A "$dir")" ] || die "$dir is not empty"

mapfile -t applets < <("$busybox" --list-full)
declare -A parents=()
for applet in "${applets[@]}"; do
  parent=$applet
  while [[ $parent == */* ]]; do parent=${parent%/*}; parents[$parent]=1; done
done
# Modes set explicitly, whatever the umask: / and /tmp must be usable by any uid inside.
(cd "$dir" && mkdir -p bin proc dev sys etc tmp root "${!parents[@]}" && chmod 755 . bin proc dev sys etc "${!parents[@]}" && chmod 1777 tmp && chmod 700 root)
install -m 755 "$busybox" "$dir/bin/busybox"
for applet in "${applets[@]}"; do
  [ "$applet" = bin/busybox ] && continue
  # Relative to the link's directory: bin/ls -> busybox, usr/bin/env -> ../../bin/busybox.
  case $applet in
    bin/*) target=busybox ;;
    */*) up=${applet%/*}; up=${up//[^\/]/}; target=../${up//\//../}bin/busybox ;;
    *) target=bin/busybox ;;
  esac
  ln -s "$target" "$dir/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dir/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$dir/etc/group"
chmod 644 "$dir/etc/passwd" "$dir/etc/group"
if [ "$probe" = 1 ]; then
  mkdir -p "$dir/usr/local/bin"
  chmod 755 "$dir/usr/local" "$dir/usr/local/bin"
  install -m 755 "$repo/test/probe/nsbox-probe" "$dir/usr/local/bin/nsbox-probe"
fi
