#!/usr/bin/env bash
# The cgroup v2 lane: this host's cgroup v2 may lack controllers (hybrid mode), so the suite
# runs in a VM — Debian's cloud kernel under qemu (TCG), a busybox initramfs holding node, the
# repository and its node_modules, cgroup2 mounted at /sys/fs/cgroup with every controller,
# a virtio disk at /dev/vda (io.max tests), a few 2 MB hugepages (hugetlb tests).
#
#   bash scripts/vm-test.sh [--json OUT.json] [test files or dirs ...]   (default: test/cgroup)
#
# The guest streams vitest's default reporter over the serial console, then prints
#   NSBOX-VM-RESULT {"numPassedTests":N,"numFailedTests":N,"numPendingTests":N,"numTodoTests":N,...}
#   NSBOX-VM-EXIT <vitest's exit code>
# and powers off. This script exits with that code (1 if the markers never came: panic,
# timeout) and writes the counts to OUT.json (vitest's json reporter's field names).
#
# For other one-off guest work (scripts/vm-capture-fixtures.sh):
#   --guest-script FILE   runs FILE with busybox sh in the guest (cwd /nsbox) instead of vitest
#   --output-dir DIR      what the guest leaves in /vm-out comes back into DIR (a tar on /dev/vdb)
#
# The guest: the repository at /nsbox (vitest runs there, as root, NSBOX_VM=1); test files
# from outside it at their own path; the host's coreutils, dash (/bin/sh), bash, util-linux,
# iproute2 and strace, busybox for the rest; root on a tmpfs (pivot_root works); cgroup2 at
# /sys/fs/cgroup (nsdelegate,memory_recursiveprot) with cpuset cpu io memory pids enabled in
# the root's subtree_control, as systemd does, and the test run in the leaf
# /sys/fs/cgroup/nsbox-vm.scope; /dev/vda a 64 MiB virtio disk (scratch: tests may write it);
# 8 hugepages of 2 MB; modules virtio*, loop, dummy, veth loaded.
#
# The kernel is downloaded once (apt-get download) into .vm/ (git-ignored) and reused.
# Environment: NSBOX_VM_TIMEOUT (seconds, default 900), NSBOX_VM_MEM (MiB, default 2048),
# NSBOX_VM_CPUS (default 2), NSBOX_VM_KERNEL (a Debian suite whose cloud kernel to boot, e.g.
# trixie-backports; default: the one this machine's apt sources offer), NSBOX_VM_TCG_THREAD
# (single: every vCPU on one host thread; under multi-threaded TCG a 6.12 guest once oopsed
# on an int3 in its scheduler, most likely a vCPU running code another was live-patching).
set -euo pipefail
t_start=$(date +%s.%N)

json_out=""
guest_script=""
output_dir=""
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --json) json_out=$(realpath -m "$2"); shift 2 ;;
    --json=*) json_out=$(realpath -m "${1#--json=}"); shift ;;
    --guest-script) guest_script=$(realpath "$2"); shift 2 ;;
    --output-dir) output_dir=$(realpath -m "$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; for t in "$@"; do targets+=("$(realpath -m "$t")"); done; break ;;
    -*) echo "vm-test: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$(realpath -m "$1")"); shift ;;   # as the caller meant it, from their directory
  esac
done
cd "$(dirname "$0")/.."
repo=$(pwd)
cache="$repo/.vm"

since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'; }
say() { echo "vm-test: $*"; }

# --- what to run: vitest globs (relative to the repo root, or absolute) ---------------------
extra_files=()   # test files outside the repository: copied into the guest at the same path
include=()
if [ -z "$guest_script" ]; then
  if [ ${#targets[@]} -eq 0 ]; then
    targets=(test/cgroup)
    [ -d test/cgroup ] || targets=()   # not written yet: skipped below, visibly
  fi
  for t in "${targets[@]}"; do
    abs=$(realpath -m "$t")
    if [ -d "$abs" ]; then
      if [ -z "$(find "$abs" -name '*.test.ts' -print -quit)" ]; then
        say "no *.test.ts under $t: nothing to run in the VM (skipped)"
        continue
      fi
      pattern="$abs/**/*.test.ts"
    elif [ -f "$abs" ]; then
      pattern=$abs
    else
      echo "vm-test: $t: no such file or directory" >&2
      exit 2
    fi
    case "$abs" in
      "$repo"/*) include+=("${pattern#"$repo"/}") ;;
      *) include+=("$pattern"); extra_files+=("$abs") ;;
    esac
  done
  if [ ${#include[@]} -eq 0 ]; then
    say "skipped: no test files to run in the VM (${targets[*]:-test/cgroup does not exist})"
    if [ -n "$json_out" ]; then
      echo '{"numPassedTests":0,"numFailedTests":0,"numPendingTests":0,"numTodoTests":0,"numTotalTests":0,"success":true}' >"$json_out"
    fi
    exit 0
  fi
fi

for tool in qemu-system-x86_64 busybox cpio; do
  command -v "$tool" >/dev/null || { echo "vm-test: $tool is missing: run scripts/setup.sh" >&2; exit 1; }
done
[ -f build/Release/nsbox.node ] || { echo "vm-test: build/Release/nsbox.node is missing: run scripts/setup.sh" >&2; exit 1; }

# --- the kernel: Debian's cloud kernel, downloaded once -------------------------------------
# Built in: cgroups and every v2 controller, PSI, devtmpfs, the 8250 serial console, tmpfs,
# ext4, user namespaces, seccomp, Landlock. Modules (the .deb has no modules.dep: insmod in
# this order): virtio and its PCI transport, virtio_blk (/dev/vda), virtio-rng, loop, and
# dummy and veth for network namespace tests.
modules=(
  drivers/virtio/virtio_ring.ko
  drivers/virtio/virtio.ko
  drivers/virtio/virtio_pci_modern_dev.ko
  drivers/virtio/virtio_pci_legacy_dev.ko
  drivers/virtio/virtio_pci.ko
  drivers/block/virtio_blk.ko
  drivers/char/hw_random/virtio-rng.ko
  drivers/block/loop.ko
  drivers/net/dummy.ko
  drivers/net/veth.ko
)
# NSBOX_VM_KERNEL=SUITE[:VERSION] boots another Debian suite's cloud kernel instead of the one
# this machine's apt sources offer (Debian 12: 6.1): the newest, or the newest of a series
# (trixie-backports:6.18 is this host's own). The suite's package lists are kept under .vm/ by
# a private apt configuration (the machine's sources are not touched), checked against Debian's
# archive keyring.
want=${NSBOX_VM_KERNEL:-}
suite=${want%%:*}
series=""; [ "$suite" = "$want" ] || series=${want#*:}
kdir="$cache/kernel"
if [ -n "$suite" ]; then
  [[ "$suite" =~ ^[a-z]+(-[a-z]+)*$ ]] && [[ "$series" =~ ^([0-9]+(\.[0-9]+)*)?$ ]] || {
    echo "vm-test: NSBOX_VM_KERNEL=$want is not SUITE[:VERSION] (e.g. trixie-backports:6.18)" >&2; exit 2; }
  kdir="$cache/kernel-$suite${series:+-$series}"
fi
t0=$(date +%s.%N)
if [ -f "$kdir/vmlinuz" ] && [ -f "$kdir/release" ] && [ -d "$kdir/modules/drivers" ]; then
  kernel_note="cached"
else
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  apt_opts=()
  if [ -n "$suite" ]; then
    adir="$cache/apt-$suite"
    mkdir -p "$adir/lists/partial" "$adir/cache"
    chown -R _apt "$adir/lists" 2>/dev/null || true
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${NSBOX_VM_MIRROR:-http://deb.debian.org/debian} $suite main" >"$adir/sources.list"
    apt_opts=(-o "Dir::Etc::SourceList=$adir/sources.list" -o Dir::Etc::SourceParts=/nonexistent
      -o "Dir::State::Lists=$adir/lists" -o "Dir::Cache=$adir/cache")
    $sudo apt-get "${apt_opts[@]}" update -qq
  fi
  if [ -n "$series" ]; then
    pkg=$(apt-cache "${apt_opts[@]}" search --names-only "^linux-image-${series//./\\.}[.0-9]*\\+.*-cloud-amd64\$" |
      cut -d' ' -f1 | sort -V | tail -n 1)
  else
    pkg=$(apt-cache "${apt_opts[@]}" depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
  fi
  if [ -z "$pkg" ] && [ -z "$suite" ]; then
    $sudo apt-get update -qq
    pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ { print $2; exit }')
  fi
  [ -n "$pkg" ] || { echo "vm-test: apt-cache names no cloud kernel package${suite:+ in $want}" >&2; exit 1; }
  # Newer kernels split the image: the kernel and its modules are packages of their own.
  parts=$(apt-cache "${apt_opts[@]}" depends "$pkg" | awk '/Depends: linux-(binary|modules)-/ { print $2 }')
  say "downloading $pkg${suite:+ ($suite)}"
  dl=$(mktemp -d "${TMPDIR:-/tmp}/nsbox-kernel.XXXXXX")
  chmod 755 "$dl"
  chown _apt "$dl" 2>/dev/null || true   # apt-get download drops to user _apt, which writes here
  # shellcheck disable=SC2086 # parts: package names, one word each
  (cd "$dl" && apt-get "${apt_opts[@]}" download -q "$pkg" $parts >/dev/null)
  rm -rf "$kdir.new"
  mkdir -p "$kdir.new"
  for deb in "$dl"/*.deb; do dpkg-deb -x "$deb" "$kdir.new/deb"; done
  dpkg-deb -f "$dl/${pkg}_"*.deb Package Version >"$kdir.new/package"
  rm -rf "$dl"
  mods=""
  for d in "$kdir.new"/deb/lib/modules/* "$kdir.new"/deb/usr/lib/modules/*; do [ -d "$d" ] && mods=$d; done
  [ -n "$mods" ] || { echo "vm-test: $pkg holds no lib/modules/<release>" >&2; exit 1; }
  release=$(basename "$mods")
  mv "$kdir.new/deb/boot/vmlinuz-$release" "$kdir.new/vmlinuz"
  mv "$kdir.new/deb/boot/config-$release" "$kdir.new/config"
  mv "$mods/kernel" "$kdir.new/modules"
  if [ -f "$mods/modules.builtin" ]; then mv "$mods/modules.builtin" "$kdir.new/modules.builtin"; fi
  # Debian 13's kernels compress their modules; busybox's insmod wants them plain.
  find "$kdir.new/modules" -name '*.ko.xz' -exec xz -d {} +
  rm -rf "$kdir.new/deb"
  echo "$release" >"$kdir.new/release"
  rm -rf "$kdir"
  mv "$kdir.new" "$kdir"
  kernel_note="downloaded"
fi
release=$(cat "$kdir/release")
t_kernel=$(since "$t0")

# --- the initramfs: one uncompressed cpio ---------------------------------------------------
t0=$(date +%s.%N)
mkdir -p "$cache"
work=$(mktemp -d "$cache/run.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
root="$work/root"
# merged /usr, as on Debian 12
mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,etc,root,proc,sys,dev,tmp,run,mnt,newroot,vm,vm-out,nsbox}
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
mkdir -p "$root/lib/modules/$release"
for m in "${modules[@]}"; do
  if [ -f "$kdir/modules/$m" ]; then
    cp "$kdir/modules/$m" "$root/lib/modules/$release/"
    basename "$m" .ko >>"$root/vm/modules"
  elif ! grep -qx "kernel/$m" "$kdir/modules.builtin" 2>/dev/null; then
    echo "vm-test: kernel $release has no module $m, and does not build it in" >&2
    exit 1
  fi
done

# This host's programs where the tests may call them (coreutils, dash as /bin/sh, bash,
# util-linux, iproute2, strace), so that they behave as on the host; busybox for the rest.
cp /bin/busybox "$root/bin/busybox"
elfs=("$root/usr/bin/busybox")
host_cmds=$(dpkg -L coreutils | grep -E '^/(usr/)?s?bin/')
for c in node bash dash grep sed awk find xargs ps kill pgrep ip strace unshare nsenter setpriv \
  mount umount findmnt mountpoint prlimit taskset chrt ionice getpcaps capsh; do
  p=$(type -P "$c" 2>/dev/null) && host_cmds+=$'\n'"$p"
done
for p in $host_cmds; do
  [ -f "$p" ] && [ -x "$p" ] || continue
  case "$p" in /usr/*) dest="$root$p" ;; *) dest="$root/usr$p" ;; esac
  [ -e "$dest" ] && continue
  mkdir -p "$(dirname "$dest")"
  cp "$(realpath "$p")" "$dest"
  elfs+=("$dest")
done
ln -sf dash "$root/usr/bin/sh"

printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' >"$root/etc/group"
printf '127.0.0.1 localhost nsbox-vm\n::1 localhost ip6-localhost\n' >"$root/etc/hosts"
echo nsbox-vm >"$root/etc/hostname"

# the repository as the suite needs it at run time (no compiler, no type checker)
cp -a package.json tsconfig.json tsconfig.test.json vitest.config.ts vitest.vm.config.ts lib test types bench "$root/nsbox/"
# dist/ (the compiled library) where it is built: the benchmarks load it (--guest-script)
if [ -d dist ]; then cp -a dist "$root/nsbox/"; fi
mkdir -p "$root/nsbox/build/Release"
cp build/Release/nsbox.node "$root/nsbox/build/Release/"
tar -C "$repo" -c \
  --exclude=node_modules/typescript --exclude=node_modules/@types --exclude=node_modules/node-gyp \
  --exclude=node_modules/.vite --exclude=node_modules/.cache \
  node_modules | tar -C "$root/nsbox" -x
while IFS= read -r -d '' f; do elfs+=("$f"); done < <(find "$root/nsbox" -name '*.node' -type f -print0)

# The libraries all of these link, at the paths the loader looks for them.
for lib in $(ldd "${elfs[@]}" 2>/dev/null | grep -o '/[^ ]*' | grep -v ":$" | sort -u); do
  [ -e "$root$lib" ] && continue
  mkdir -p "$root$(dirname "$lib")"
  cp "$(realpath "$lib")" "$root$lib"
done

for f in "${extra_files[@]}"; do
  mkdir -p "$root/vm/extra$(dirname "$f")"
  cp -a "$f" "$root/vm/extra$f"
done
printf '%s\n' "${include[@]}" >"$root/vm/include"
if [ -n "$guest_script" ]; then cp "$guest_script" "$root/vm/job"; fi
color=0; [ -t 1 ] && color=1
echo "$color" >"$root/vm/color"

cat >"$root/init" <<'INIT'
#!/bin/busybox sh
# PID 1 of the test VM (written by scripts/vm-test.sh).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
if [ "$1" != stage2 ]; then
  # The initramfs is the rootfs mount, which pivot_root refuses to leave: copy it to a tmpfs
  # and make that the root, as a real root file system is.
  /bin/busybox mount -t tmpfs -o mode=755 root /newroot
  for e in /*; do
    case "$e" in
      /newroot|/proc|/sys|/dev) /bin/busybox mkdir -p "/newroot$e" ;;
      *) /bin/busybox cp -a "$e" /newroot/ ;;
    esac
  done
  exec /bin/busybox switch_root /newroot /init stage2
fi
/bin/busybox --install -s   # links the applets the host's programs did not provide
mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o nosuid,mode=755 devtmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o nosuid,noexec,gid=5,mode=620,ptmxmode=000 devpts /dev/pts
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /dev/shm
mount -t mqueue -o nosuid,nodev,noexec mqueue /dev/mqueue
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp
mount -t tmpfs -o nosuid,nodev,mode=755 tmpfs /run
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
# As systemd mounts it on a pure cgroup v2 host.
mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup
if [ -d /vm/extra ]; then cp -a /vm/extra/. /; fi
for m in $(cat /vm/modules); do insmod "/lib/modules/$(uname -r)/$m.ko" || echo "init: insmod $m failed"; done
i=0; while [ ! -e /sys/block/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -e /sys/block/vda ] || echo "init: no /dev/vda"
echo 8 >/proc/sys/vm/nr_hugepages
hostname -F /etc/hostname
ip link set lo up
# Controllers for the root's children, as systemd enables them; this shell (and so the test
# run) moves to a leaf, as a login session's processes sit in session-N.scope.
for c in cpuset cpu io memory pids; do echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control; done
mkdir /sys/fs/cgroup/nsbox-vm.scope
echo $$ >/sys/fs/cgroup/nsbox-vm.scope/cgroup.procs
echo "NSBOX-VM-BOOTED $(cut -d' ' -f1 /proc/uptime) $(uname -r)"

cd /nsbox
if [ -f /vm/job ]; then
  { /bin/busybox sh /vm/job; echo $? >/tmp/job-rc; } 2>&1 | cat
  rc=$(cat /tmp/job-rc)
else
  export NSBOX_VM=1 NSBOX_VM_INCLUDE="$(cat /vm/include)"
  if [ "$(cat /vm/color)" = 1 ]; then export FORCE_COLOR=1; else export NO_COLOR=1; fi
  # Through cat: vitest sees a pipe, not a terminal, and prints plain lines.
  { node node_modules/vitest/vitest.mjs run --config vitest.vm.config.ts \
      --reporter=default --reporter=json --outputFile.json=/tmp/vm-result.json; echo $? >/tmp/job-rc; } 2>&1 | cat
  rc=$(cat /tmp/job-rc)
  echo "NSBOX-VM-VITEST-END $(cut -d' ' -f1 /proc/uptime)"
  if [ -f /tmp/vm-result.json ]; then
    node -e 'const r = require("/tmp/vm-result.json"); const o = {};
      for (const k of ["numPassedTests", "numFailedTests", "numPendingTests", "numTodoTests", "numTotalTests", "numTotalTestSuites", "numFailedTestSuites", "success"]) o[k] = r[k];
      console.log("NSBOX-VM-RESULT " + JSON.stringify(o))'
  fi
fi
if [ -n "$(ls /vm-out)" ] && [ -e /dev/vdb ]; then tar -C /vm-out -cf /dev/vdb . && sync; fi
echo "NSBOX-VM-UPTIME $(cut -d' ' -f1 /proc/uptime)"
echo "NSBOX-VM-EXIT $rc"
sync
poweroff -f
INIT
chmod 755 "$root/init"

(cd "$root" && find . -mindepth 1 | cpio -o -H newc --quiet) >"$work/initrd"
truncate -s 64M "$work/disk.img"
drives=(-drive "file=$work/disk.img,if=virtio,format=raw")
if [ -n "$output_dir" ]; then
  truncate -s 64M "$work/out.img"
  drives+=(-drive "file=$work/out.img,if=virtio,format=raw")
fi
t_initrd=$(since "$t0")
say "kernel $release ($kernel_note, $t_kernel), initramfs $(du -m "$work/initrd" | cut -f1) MB ($t_initrd)"

# --- boot ---------------------------------------------------------------------------------
# TCG only: a stock kernel hangs under this host's KVM.
timeout_s=${NSBOX_VM_TIMEOUT:-900}
t0=$(date +%s.%N)
log="$work/console.log"
set +e
timeout --foreground --kill-after=10 "$timeout_s" qemu-system-x86_64 \
  -accel "tcg${NSBOX_VM_TCG_THREAD:+,thread=$NSBOX_VM_TCG_THREAD}" -cpu "${NSBOX_VM_QEMU_CPU:-qemu64}" -m "${NSBOX_VM_MEM:-2048}" -smp "${NSBOX_VM_CPUS:-2}" \
  -nographic -no-reboot -nodefaults -serial stdio \
  -kernel "$kdir/vmlinuz" -initrd "$work/initrd" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off" \
  -fw_cfg name=etc/sercon-port,string=0 "${drives[@]}" -device virtio-rng-pci </dev/null 2>&1 | sed -u 's/\r$//; /externally provided fw_cfg item names/d; s/\x1bc//g; s/\x1b\[?7l//g; s/\x1b\[2J//g' | tee "$log"
qemu_rc=${PIPESTATUS[0]}
set -e
t_vm=$(since "$t0")

exit_line=$(grep -a '^NSBOX-VM-EXIT ' "$log" | tail -n 1 || true)
result_line=$(grep -a '^NSBOX-VM-RESULT ' "$log" | tail -n 1 || true)
booted=$(grep -ao 'NSBOX-VM-BOOTED [0-9.]*' "$log" | tail -n 1 | cut -d' ' -f2 || true)
uptime=$(grep -a '^NSBOX-VM-UPTIME ' "$log" | tail -n 1 | cut -d' ' -f2 || true)
if [ -z "$exit_line" ]; then
  if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
    echo "vm-test: FAILED: the VM did not finish within ${timeout_s} s (NSBOX_VM_TIMEOUT); the console is above" >&2
  else
    echo "vm-test: FAILED: the VM stopped (qemu exit $qemu_rc) without reporting a result (kernel panic? init died?); the console is above" >&2
  fi
  exit 1
fi
rc=${exit_line#NSBOX-VM-EXIT }

if [ -n "$output_dir" ]; then
  mkdir -p "$output_dir"
  tar -C "$output_dir" -xf "$work/out.img"
fi
if [ -z "$guest_script" ]; then
  if [ -z "$result_line" ]; then
    echo "vm-test: FAILED: vitest exited $rc without a JSON report" >&2
    [ "$rc" -ne 0 ] || rc=1
  elif [ -n "$json_out" ]; then
    echo "${result_line#NSBOX-VM-RESULT }" >"$json_out"
  fi
fi
# Guest clock: kernel start to init ready, init ready to vitest's end, the rest (poweroff).
vitest_end=$(grep -ao 'NSBOX-VM-VITEST-END [0-9.]*' "$log" | tail -n 1 | cut -d' ' -f2 || true)
work_s=$(awk -v a="${booted:-0}" -v b="${vitest_end:-${uptime:-0}}" 'BEGIN { printf "%.1f", b - a }')
say "timings: kernel $t_kernel ($kernel_note), initramfs $t_initrd, boot to init ${booted:-?} s," \
  "$([ -n "$guest_script" ] && echo "guest script" || echo vitest) $work_s s, qemu in all $t_vm, total $(since "$t_start")"
say "guest exit $rc"
exit "$rc"
