import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { createLogger, reopenLogFile } from '../src/daemon/logger';

/**
 * SIGUSR1 after logrotate: when the path cannot be opened (a directory there, a dangling symlink), the reopen fails
 * and the old file stays in use, as Unit keeps its old descriptors. The log destination raised the error again as an
 * uncaught exception, which stopped wardend with every app.
 */
describe('reopening the log file', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'warden-log-reopen-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('throws and keeps writing to the old file when the path cannot be opened; nothing is raised later', async () => {
    const file = join(dir, 'w.log');
    const log = createLogger(file, { format: 'json', level: 'info' });
    log.info('before');
    renameSync(file, `${file}.1`);
    mkdirSync(file); // something at the path that cannot be opened for appending
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      expect(() => reopenLogFile(log)).toThrow(/EISDIR/);
      await new Promise((r) => setTimeout(r, 200));
      log.info('after');
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(readFileSync(`${file}.1`, 'utf8')).toMatch(/"before"[^]*"after"/);
    rmSync(file, { recursive: true });
    expect(reopenLogFile(log)).toBe(true); // once the path opens again, lines go to the new file
    log.info('new file');
    expect(readFileSync(file, 'utf8')).toMatch(/"new file"/);
  });
});
