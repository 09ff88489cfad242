const { spawn } = require('child_process');
const { readlinkSync } = require('fs');
const { validateIdMaps, resolveIdMaps, writeIdMaps } = require('@warden/idmap');

async function main() {
  // A shell in a new user namespace (util-linux unshare) that waits for one line on stdin, then runs id.
  const child = spawn('unshare', ['--user', '--', 'sh', '-c', 'read x; id'], { stdio: ['pipe', 'inherit', 'inherit'] });
  const self = readlinkSync('/proc/self/ns/user');
  while (readlinkSync(`/proc/${child.pid}/ns/user`) === self) await new Promise((r) => setTimeout(r, 5));

  const ids = { daemonUid: process.geteuid(), daemonGid: process.getegid() };
  const maps = validateIdMaps({
    credential: true,
    // our own uid/gid become root inside (all an unprivileged caller may map; `unshare -r` does the same)
    uidmap: [{ container: 0, host: ids.daemonUid, size: 1 }],
    gidmap: [{ container: 0, host: ids.daemonGid, size: 1 }],
    ...ids,
    user: 'root',
    uid: 0,
    gid: 0,
    groups: [0],
  });
  await writeIdMaps(child.pid, resolveIdMaps(maps, { ...ids, uid: 0, gid: 0 })); // uid_map, setgroups, gid_map
  child.stdin.end('\n'); // prints uid=0(root) gid=0(root) groups=0(root)
}
main();
