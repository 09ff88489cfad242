import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ConfigValidator } from '../src/config/config-validator';
import { Controller } from '../src/control/controller';
import { startWarden } from '../src/daemon/warden';

describe('startWarden', () => {
  it('warms the config validation up before it restores the saved config, so that no PUT pays for it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-warm-'));
    const warmUp = jest.spyOn(ConfigValidator.prototype, 'warmUp');
    const restore = jest.spyOn(Controller.prototype, 'restore');
    try {
      const w = await startWarden({
        control: `unix:${join(dir, 'control.sock')}`,
        statedir: join(dir, 'state'),
        tmpdir: dir,
        log: join(dir, 'wardend.log'),
        routers: 1,
      });
      await w.stop();
      expect(warmUp).toHaveBeenCalledTimes(1);
      expect(restore).toHaveBeenCalledTimes(1);
      expect(warmUp.mock.invocationCallOrder[0]).toBeLessThan(restore.mock.invocationCallOrder[0]!);
    } finally {
      warmUp.mockRestore();
      restore.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
