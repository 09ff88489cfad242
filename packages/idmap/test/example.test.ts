import { execFileSync, spawnSync } from 'child_process';
import { existsSync } from 'fs';
import * as path from 'path';

const PKG = path.resolve(__dirname, '..');
const unshare = ['/usr/bin/unshare', '/bin/unshare'].find((f) => existsSync(f));
const runnable = process.getuid?.() === 0 && unshare !== undefined;

(runnable ? describe : describe.skip)('README example (requires root and util-linux unshare)', () => {
  beforeAll(() => execFileSync(path.resolve(PKG, '../../node_modules/.bin/tsc'), ['-b', PKG]));

  it('makes the caller root inside a new user namespace', () => {
    const r = spawnSync(process.execPath, [path.join(PKG, 'examples/map-own-user.js')], { encoding: 'utf8', timeout: 10000 });
    expect(r.stdout).toBe('uid=0(root) gid=0(root) groups=0(root)\n');
  });

  it('works for an unprivileged caller too (setgroups denied before gid_map)', () => {
    const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((f) => existsSync(f));
    if (!setpriv) return;
    const r = spawnSync(setpriv, ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, path.join(PKG, 'examples/map-own-user.js')], {
      encoding: 'utf8',
      timeout: 10000,
    });
    expect(r.stdout).toBe('uid=0(root) gid=0(root) groups=0(root)\n');
  });
});
