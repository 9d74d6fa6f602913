// Run by test/kernel/direct.test.ts as root in a fresh node (node -r register-ts.cjs this
// dir): the one-to-one wrappers used directly on this process's main thread, in namespaces
// it unshares first, so nothing reaches the host. Sync fs calls only: they run on the main
// thread, which is the one in the new namespaces (libuv's workers are not). Prints JSON.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const lib = require(path.join(__dirname, '..', '..', 'lib', 'index.ts'));

const dir = process.argv[2];
const r = {};
const mountinfo = () => fs.readFileSync('/proc/thread-self/mountinfo', 'utf8');
const hasMount = (p) => mountinfo().split('\n').some((l) => l.split(' ')[4] === p);
const attempt = (f) => { try { f(); return 'ok'; } catch (e) { return e.code; } };

const hostIds = Object.fromEntries(lib.listNamespaces('self').map((n) => [n.link, true]));
lib.unshare(['mount', 'uts', 'ipc', 'net']);
r.newNamespaces = lib.listNamespaces('self').filter((n) => !n.forChildren && !hostIds[n.link]).map((n) => n.type).sort();

lib.mountSetattr('/', { propagation: 'private', recursive: true });
const a = path.join(dir, 'a');
const b = path.join(dir, 'b');
const c = path.join(dir, 'c');
lib.mount({ source: 'tmpfs', target: a, type: 'tmpfs', flags: { nosuid: true, nodev: true }, data: 'size=1m,mode=755' });
fs.writeFileSync(path.join(a, 'file'), 'in a');
r.mounted = hasMount(a);

const tree = lib.openTree(a, { clone: true });
lib.moveMount(tree, b);
fs.closeSync(tree);
r.clonedTreeAt = fs.readFileSync(path.join(b, 'file'), 'utf8');
lib.mountSetattr(b, { readonly: true });
r.writeReadonly = attempt(() => fs.writeFileSync(path.join(b, 'other'), 'x'));
lib.mountSetattr(b, { readonly: false });
r.writeAgain = attempt(() => fs.writeFileSync(path.join(b, 'other'), 'x'));
lib.umount(b);
lib.umount(a, { detach: true });
r.unmounted = !hasMount(a) && !hasMount(b) && fs.readdirSync(a).length === 0;
r.umountNotMounted = attempt(() => lib.umount(a));

lib.sethostname('nsbox-direct');
lib.setdomainname('nsbox.direct');
r.hostname = os.hostname();
r.domainname = fs.readFileSync('/proc/sys/kernel/domainname', 'utf8').trim();
r.netDevices = fs.readFileSync('/proc/thread-self/net/dev', 'utf8').split('\n').slice(2).filter(Boolean).map((l) => l.split(':')[0].trim());

// pivot_root last: afterwards this thread's root is the new tmpfs.
lib.mount({ source: 'tmpfs', target: c, type: 'tmpfs' });
fs.mkdirSync(path.join(c, 'old'));
fs.writeFileSync(path.join(c, 'marker'), '');
lib.pivotRoot(c, path.join(c, 'old'));
process.chdir('/');
r.rootAfterPivot = fs.readdirSync('/').sort();
r.oldRootReachable = fs.existsSync(path.join('/old', dir));
lib.umount('/old', { detach: true });
r.oldRootAfterDetach = fs.readdirSync('/old');
process.stdout.write(JSON.stringify(r));
