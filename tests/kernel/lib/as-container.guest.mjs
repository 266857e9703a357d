// Runs argv as a process of an LXD container would see itself: started (by lib/charm.mjs's `wrap`)
// as `unshare -m --propagation private node as-container.guest.mjs KIND argv…` inside the unit's
// network namespace, it mounts a private tmpfs on /run/systemd holding `container` = KIND (what
// systemd writes in a container, and what vrf-host's detectContainer reads), then runs argv with
// inherited stdio and exits with its status. Nothing outside this private mount namespace changes
// (/run/systemd must exist as a mount point: the scenario creates it).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const [kind, cmd, ...args] = process.argv.slice(2);
if (!kind || !cmd) {
  process.stderr.write('usage: as-container.guest.mjs KIND COMMAND [ARG…]\n');
  process.exit(2);
}
const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'as-container', '/run/systemd'], {
  encoding: 'utf8',
});
if (m.status !== 0) {
  process.stderr.write(`as-container: mount tmpfs on /run/systemd failed: ${m.stderr}\n`);
  process.exit(2);
}
writeFileSync('/run/systemd/container', `${kind}\n`);
const r = spawnSync(cmd, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
