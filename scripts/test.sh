#!/usr/bin/env bash
# The whole test run, as CI runs it (.ci/run): setup, the suite as root, the suite again
# as an unprivileged user, and the packed tarball installed where no compiler is found.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
bash scripts/setup.sh

echo "== vitest as $(id -un) (uid $(id -u))"
npx --no-install vitest run

# The same suite as uid 65534. The checkout may sit under a directory that user cannot
# enter, so it is bound at a world-readable path in a private mount namespace.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  echo "== vitest as uid 65534 (unprivileged)"
  home=$(mktemp -d /tmp/nsbox-unpriv-home.XXXXXX)
  chown 65534:65534 "$home"
  unshare --mount --propagation private bash -euc '
    view=$(mktemp -d /tmp/nsbox-unpriv-repo.XXXXXX)
    chmod 755 "$view"
    mount --bind "$1" "$view"
    cd "$view"
    exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
      env HOME="$2" NSBOX_TEST_UNPRIVILEGED=1 npx --no-install vitest run
  ' _ "$repo" "$home"
  rm -rf "$home"
else
  echo "== unprivileged pass skipped: it needs root to switch to uid 65534"
fi

bash scripts/pack-test.sh
