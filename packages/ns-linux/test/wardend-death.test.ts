import { execFileSync, spawn } from 'child_process';
import { existsSync, readFileSync } from 'fs';
import * as path from 'path';
import { describeRoot, waitUntil } from './helpers';

const PKG = path.resolve(__dirname, '..');

function alive(pid: number): boolean {
  // a zombie has no /proc/PID/exe target; treat it as dead
  try {
    return existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

describeRoot('when wardend dies (requires root)', () => {
  beforeAll(() => {
    execFileSync(path.resolve(PKG, '../../node_modules/.bin/tsc'), ['-b', PKG], { stdio: 'inherit' });
  });

  it.each([
    ['with a pid namespace', { namespaces: { pid: true } }],
    ['without a pid namespace', { namespaces: { uname: true } }],
  ])('the prototype and its app processes die too (%s)', async (_name, isolation) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'fixtures/orphaned-wardend.js'), JSON.stringify(isolation), '/bin/sleep', '1000'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout!.on('data', (d) => {
        buf += d;
        if (buf.includes('\n')) resolve(buf);
      });
      child.on('exit', () => reject(new Error('fake wardend exited early')));
    });
    const { prototype, app } = JSON.parse(line) as { prototype: number; app: number };
    expect(alive(prototype) && alive(app)).toBe(true);
    child.kill('SIGKILL');
    expect(await waitUntil(() => !alive(app) && !alive(prototype))).toBe(true);
  });
});
