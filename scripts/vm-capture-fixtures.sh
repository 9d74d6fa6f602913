#!/usr/bin/env bash
# Captures a real cgroup v2 group's interface files into test/fixtures/cgroup-v2/ (inputs for
# the parser unit tests): in the VM of scripts/vm-test.sh, a group with limits on every
# controller that has seen memory, cpu, io, pids and hugetlb use, one OOM kill, fork failures
# at pids.max, hugetlb failures at its max. Run by hand when a fixture is wanted anew:
#   bash scripts/vm-capture-fixtures.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-test/fixtures/cgroup-v2}
guest=$(mktemp /tmp/nsbox-capture.XXXXXX.sh)
raw=$(mktemp -d /tmp/nsbox-capture.XXXXXX)
trap 'rm -rf "$guest" "$raw"' EXIT

cat >"$guest" <<'GUEST'
set -u
cg=/sys/fs/cgroup
G=$cg/nsbox-fixture
dev=$(cat /sys/block/vda/dev)
for c in hugetlb rdma misc; do echo "+$c" >$cg/cgroup.subtree_control 2>/dev/null; done
# G carries the limits and is read; its processes sit in G/leaf (a group with controllers
# enabled for its children may hold no process itself), so its counters are hierarchical.
mkdir $G
echo "+cpuset +cpu +io +memory +pids +hugetlb" >$G/cgroup.subtree_control
mkdir $G/leaf
join() { echo 0 >$G/leaf/cgroup.procs; }   # moves the writer: ( join; exec CMD ) in a subshell, where $$ is not its pid
step() { echo "capture: $* (uptime $(cut -d' ' -f1 /proc/uptime))"; }

# limits
echo 96M >$G/memory.max
echo 4M >$G/memory.min
echo 8M >$G/memory.low
echo 0 >$G/memory.swap.max
echo "50000 100000" >$G/cpu.max
echo 10000 >$G/cpu.max.burst
echo 200 >$G/cpu.weight
echo 0-1 >$G/cpuset.cpus
echo 0 >$G/cpuset.mems
echo "$dev rbps=1048576 wiops=100" >$G/io.max
echo "default 150" >$G/io.weight 2>/dev/null
echo 4194304 >$G/hugetlb.2MB.max

step limits set
# a resident: keeps the group populated while it is read
( join; exec sleep 1000 ) &
resident=$!
step io
# io: direct writes (wiops-limited) and reads (rbps-limited) on /dev/vda
( join; exec dd if=/dev/urandom of=/dev/vda bs=64k count=48 oflag=direct 2>/dev/null )
( join; exec dd if=/dev/vda of=/dev/null bs=64k count=24 iflag=direct 2>/dev/null )
step cpu
# cpu: a busy second under cpu.max (throttled periods)
( join; exec timeout 1 sh -c 'while :; do :; done' )
step pids
# pids: more children than pids.max allows
# (the shell gives up at the first failed fork: wait for the sleeps it started)
echo 8 >$G/pids.max
( join; for i in $(seq 24); do sleep 1 & done; wait ) 2>/dev/null
while [ "$(cat $G/pids.current)" -gt 1 ]; do sleep 0.2; done
echo 64 >$G/pids.max   # node starts a dozen threads, and threads count
step memory
# memory: 8 MB of tmpfs (shmem, stays charged), then one OOM kill at memory.max
( join; exec dd if=/dev/zero of=/dev/shm/nsbox-fixture bs=1M count=8 2>/dev/null )
( join; exec node -e 'const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1))' )
step memory.high
# memory.high below what node needs: throttled and counted as high events, cut short
echo 32M >$G/memory.high
( join; exec timeout 5 node -e 'const a = []; for (let i = 0; i < 48; i++) a.push(Buffer.alloc(1 << 20, 1))' )
step hugetlb
# hugetlb: 4 MB of 2 MB pages on hugetlbfs (charged while the file exists), then past the max
mkdir -p /mnt/huge && mount -t hugetlbfs -o pagesize=2M none /mnt/huge
( join; exec fallocate -l 4M /mnt/huge/a )
( join; exec fallocate -l 4M /mnt/huge/b ) 2>/dev/null
# a descendant removed (cgroup.stat may count it as dying for a while)
mkdir $G/gone && rmdir $G/gone

step read
mkdir -p /vm-out/files
for f in $G/*; do
  case "${f##*/}" in cgroup.procs|cgroup.threads|cgroup.kill|memory.reclaim|leaf) continue ;; esac
  [ -f "$f" ] && [ -r "$f" ] && cat "$f" >"/vm-out/files/${f##*/}" 2>/dev/null
done
mkdir -p /vm-out/leaf
for f in $G/leaf/*.events $G/leaf/*.events.local $G/leaf/*.current; do cat "$f" >"/vm-out/leaf/${f##*/}" 2>/dev/null; done
uname -r >/vm-out/uname
echo "$dev" >/vm-out/vda

step cleanup
echo 1 >$G/cgroup.kill
i=0; while grep -q "populated 1" $G/cgroup.events && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done; cat $G/leaf/cgroup.procs
rm -f /mnt/huge/a /mnt/huge/b /dev/shm/nsbox-fixture
umount /mnt/huge
rmdir $G/leaf $G
step done
GUEST

bash scripts/vm-test.sh --guest-script "$guest" --output-dir "$raw"
[ -f "$raw/uname" ] || { echo "capture: the VM returned no files" >&2; exit 1; }

wanted=(memory.stat memory.events memory.events.local memory.current memory.peak memory.swap.current
  memory.max memory.high memory.low memory.min memory.swap.max memory.oom.group
  cpu.stat cpu.max cpu.weight cpu.idle cpu.max.burst
  cpuset.cpus cpuset.cpus.effective cpuset.mems.effective
  io.stat io.max io.weight
  pids.current pids.peak pids.events pids.max
  cgroup.events cgroup.controllers cgroup.subtree_control cgroup.stat cgroup.freeze
  memory.pressure cpu.pressure io.pressure
  hugetlb.2MB.current hugetlb.2MB.max hugetlb.2MB.events hugetlb.2MB.events.local hugetlb.2MB.rsvd.current
  misc.current memory.swap.events)
mkdir -p "$out"
missing=()
for f in "${wanted[@]}"; do
  if [ -f "$raw/files/$f" ]; then cp "$raw/files/$f" "$out/$f"; else missing+=("$f"); fi
done
rm -rf "$out/leaf"
cp -r "$raw/leaf" "$out/leaf"
release=$(cat "$raw/uname")
vda=$(cat "$raw/vda")
cat >"$out/README.md" <<EOF
# cgroup v2 interface files, as a kernel wrote them

Read from one non-root group (\`/sys/fs/cgroup/nsbox-fixture\`) on Linux $release (Debian's
cloud kernel, x86_64, 2 CPUs, 2 GiB, no swap) by \`scripts/vm-capture-fixtures.sh\`, in the VM
of \`scripts/vm-test.sh\` (qemu TCG). cgroup2 mounted with nsdelegate,memory_recursiveprot; the
root's subtree_control: cpuset cpu io memory hugetlb pids rdma misc.

The group, before it was read:
- it holds no process itself: they ran in its one child, \`leaf\`, so the counters here
  (memory.stat, cpu.stat, io.stat, pids.current, memory.events) are the hierarchy's, while
  the *.events.local files count what this group's own limits did.
  \`leaf/\` holds that child's own *.events, *.events.local and *.current files: on this
  kernel a fork refused at the parent's pids.max is counted in the forking task's group
  (leaf/pids.events "max 1", the parent's "max 0"); the OOM kill and the refused hugetlb
  page show in leaf's *.events.local, not in the parent's.
- subtree_control "cpuset cpu io memory hugetlb pids"; a second child made and removed.
- limits: memory.max 96M, memory.high 32M (set after the OOM below), memory.low 8M,
  memory.min 4M, memory.swap.max 0, cpu.max "50000 100000", cpu.max.burst 10000,
  cpu.weight 200, cpuset.cpus 0-1, io.max "$vda rbps=1048576 wiops=100" (/dev/vda, virtio),
  io.weight "default 150", pids.max 64 (8 while forking), hugetlb.2MB.max 4M.
- use: 3 MB written to /dev/vda with O_DIRECT and 1.5 MB read back; a busy shell loop for 1 s
  under cpu.max; a shell starting sleeps until a fork failed at pids.max 8; 8 MB written to
  /dev/shm (still charged); node allocating until the OOM killer ended it (memory.max);
  node held back by memory.high for 5 s; 4 MB fallocated on hugetlbfs (still charged), then 4
  MB more refused at hugetlb.2MB.max; a \`sleep\` still running in \`leaf\`.
EOF
if [ -f "$out/misc.current" ] && [ ! -s "$out/misc.current" ]; then
  echo "- misc.current is empty: this machine has no misc resource (SEV ASIDs)." >>"$out/README.md"
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "- Not on this kernel (or not readable there): ${missing[*]}." >>"$out/README.md"
fi
echo "capture: $(ls "$out" | wc -l) files in $out (kernel $release)${missing:+; missing: ${missing[*]}}"
