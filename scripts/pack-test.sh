#!/usr/bin/env bash
# Proves the published package: npm pack (which runs prebuildify), install the tarball
# into a scratch project with no compiler on PATH, require and import it, make a namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== pack: prebuild, install without a compiler, import"
scratch=$(mktemp -d /tmp/nsbox-pack.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
tarball=$(npm pack --silent --pack-destination "$scratch" | tail -n 1)
tar -tzf "$scratch/$tarball" | grep 'package/prebuilds/linux-x64/.*\.node$' >/dev/null || { echo "pack: no prebuild in $tarball"; exit 1; }

# A PATH with node, npm and sh but no cc, c++, g++, make or python3.
bin="$scratch/bin"
mkdir -p "$bin" "$scratch/app"
ln -s "$(command -v node)" "$bin/node"
ln -s "$(command -v npm)" "$bin/npm"
ln -s /bin/sh "$bin/sh"   # npm runs install scripts through sh
cd "$scratch/app"
env -i HOME="$scratch" PATH="$bin" npm_config_cache="$scratch/cache" npm init -y >/dev/null
if env -i HOME="$scratch" PATH="$bin" bash -c 'command -v g++ || command -v make || command -v cc' >/dev/null 2>&1; then
  echo "pack: a compiler is still on PATH"; exit 1
fi
env -i HOME="$scratch" PATH="$bin" npm_config_cache="$scratch/cache" npm_config_update_notifier=false \
  npm install --no-audit --no-fund --ignore-scripts=false "$scratch/$tarball" >/dev/null
test ! -d node_modules/nsbox/build || { echo "pack: install built from source"; exit 1; }
cat > check.cjs <<'JS'
const { spawn, listNamespaces } = require('nsbox');
(async () => {
  const child = await spawn({ command: ['/bin/sh', '-c', 'echo $$'], namespaces: process.getuid() === 0 ? ['pid', 'uts'] : ['user', 'pid', 'uts'], stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  for await (const chunk of child.stdout) out += chunk; // drain the pipe before the exit status
  const status = await child.exited;
  if (out.trim() !== '1' || status.code !== 0) throw new Error(`expected pid 1, got ${out} ${JSON.stringify(status)}`);
  if (listNamespaces().length < 8) throw new Error('listNamespaces');
  console.log('pack: require ok, child was pid', out.trim());
})().catch((e) => { console.error(e); process.exit(1); });
JS
cat > check.mjs <<'JS'
import { spawn, NAMESPACE_TYPES } from 'nsbox';
const child = await spawn({ command: ['/bin/true'], namespaces: process.getuid() === 0 ? ['net'] : ['user', 'net'], stdio: 'ignore' });
const status = await child.exited;
if (status.code !== 0 || NAMESPACE_TYPES.length !== 8) throw new Error('import failed');
console.log('pack: import ok');
JS
cat > container.cjs <<'JS'
// The Container from the installed package: the embedded default root, Docker's seccomp profile
// compiled by the prebuilt addon's libseccomp.
const { Container } = require('nsbox');
Container.run({ command: ['/bin/sh', '-c', 'echo "$$ $(grep Seccomp: /proc/self/status | cut -f2)"'] }).then((r) => {
  if (r.stdout !== '1 2\n' || r.reason !== 'exit') throw new Error(`container: ${JSON.stringify(r)}`);
  console.log('pack: Container ok');
}).catch((e) => { console.error(e); process.exit(1); });
JS
env -i HOME="$scratch" PATH="$bin" node check.cjs
env -i HOME="$scratch" PATH="$bin" node check.mjs
env -i HOME="$scratch" PATH="$bin" node container.cjs
# The CLI as npm links it (node_modules/.bin/nsbox).
test "$(env -i HOME="$scratch" PATH="$bin" node_modules/.bin/nsbox run --hostname packed -- /bin/sh -c 'hostname; exit 7'; echo "status $?")" = $'packed\nstatus 7' \
  || { echo "pack: nsbox run failed"; exit 1; }
echo "pack: nsbox run ok"
echo "pack: ok ($tarball)"
