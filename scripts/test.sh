#!/usr/bin/env bash
# The whole test run, as CI runs it (.ci/run): setup, the suite as root, the suite again
# as an unprivileged user, and the packed tarball installed where no compiler is found.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
bash scripts/setup.sh
results=$(mktemp -d /tmp/nsbox-results.XXXXXX)
chmod 777 "$results"
home="" view=""
# Whatever fails (set -e), the temp dirs go: the unprivileged pass's too.
trap 'rm -rf "$results"; [ -z "$home" ] || rm -rf "$home"; [ -z "$view" ] || rmdir "$view" 2>/dev/null || true' EXIT
vitest_args=(--reporter=default --reporter=json)

echo "== type check (lib and tests)"
npx --no-install tsc -p tsconfig.test.json

echo "== vitest as $(id -un) (uid $(id -u))"
npx --no-install vitest run "${vitest_args[@]}" --outputFile.json="$results/root.json"

# The same suite as uid 65534. The checkout may sit under a directory that user cannot
# enter, so it is bound at a world-readable path in a private mount namespace.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  echo "== vitest as uid 65534 (unprivileged)"
  home=$(mktemp -d /tmp/nsbox-unpriv-home.XXXXXX)
  view=$(mktemp -d /tmp/nsbox-unpriv-repo.XXXXXX)
  chown 65534:65534 "$home"
  chmod 755 "$view"
  unshare --mount --propagation private bash -euc '
    mount --bind "$1" "$2"
    cd "$2"
    shift 2
    exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$@"
  ' _ "$repo" "$view" env HOME="$home" NSBOX_TEST_UNPRIVILEGED=1 \
    npx --no-install vitest run "${vitest_args[@]}" --outputFile.json="$results/unprivileged.json"
else
  echo "== unprivileged pass skipped: it needs root to switch to uid 65534"
fi

# Real cgroup v2 controllers (this host's hierarchy is hybrid): Debian 12's cloud kernel, then
# Debian 13's (a newer kernel: mounts cloned from templates, memory.peak resets...). Both with
# single-threaded TCG: under multi-threaded TCG a 6.12 guest once oopsed on an int3 in the
# scheduler, idle CPU, nothing of the suite's on its stack (most likely a vCPU running code
# another was live-patching); the suite takes ~35 s either way.
export NSBOX_VM_TCG_THREAD=single
echo "== cgroup v2 suite in a VM (qemu TCG, Debian 12's cloud kernel)"
bash scripts/vm-test.sh --json "$results/vm.json" test/cgroup test/container/resources.test.ts
echo "== cgroup v2 suite in a VM (qemu TCG, Debian 13's cloud kernel)"
NSBOX_VM_KERNEL=trixie bash scripts/vm-test.sh --json "$results/vm-trixie.json" test/cgroup test/container/resources.test.ts
unset NSBOX_VM_TCG_THREAD

bash scripts/pack-test.sh

# One plain closing line over every pass (the pack check counts as one test).
node -e '
  let passed = 1, failed = 0, skipped = 0;
  for (const f of process.argv.slice(1)) {
    const r = JSON.parse(require("fs").readFileSync(f, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
  }
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
' "$results"/*.json
