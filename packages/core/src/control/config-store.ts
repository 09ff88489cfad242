import { mkdirSync, readdirSync, readFileSync, unlinkSync } from 'fs';
import { join } from 'path';
import { WardenError } from '../contracts';
import type { WardenConfig } from '../contracts';
import { writeFileAtomic } from './atomic-file';
import { parseJson } from './json-parser';

/** File name of the accepted config inside the state dir. */
export const CONFIG_FILE = 'conf.json';

/**
 * The accepted config on disk. Writes are atomic: a temp file in the same directory is written and fsynced, renamed
 * over `conf.json`, then the directory is fsynced so the rename itself is durable. A crash at any point leaves
 * either the old or the new file, never a partial one.
 */
export class ConfigStore {
  readonly file: string;

  constructor(readonly dir: string) {
    this.file = join(dir, CONFIG_FILE);
  }

  /** Creates the state dir (mode 0700) and removes temp files a crashed writer left behind. */
  init(): void {
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      for (const name of readdirSync(this.dir)) {
        if (name.startsWith(`${CONFIG_FILE}.tmp-`)) unlinkSync(join(this.dir, name));
      }
    } catch (e) {
      throw new WardenError('WARDEN_ERR_STATE_DIR', `Cannot use the state directory ${this.dir}: ${(e as Error).message}. Check --statedir and its permissions.`);
    }
  }

  /** The persisted config, or undefined when there is none. Throws WardenError when the file is unreadable or not JSON. */
  load(): WardenConfig | undefined {
    let data: Buffer;
    try {
      data = readFileSync(this.file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new WardenError('WARDEN_ERR_STATE_READ', `Cannot read the saved configuration ${this.file}: ${(e as Error).message}.`);
    }
    try {
      return parseJson(data) as WardenConfig;
    } catch (e) {
      throw new WardenError('WARDEN_ERR_STATE_READ', `The saved configuration ${this.file} is not valid JSON: ${(e as Error).message}.`);
    }
  }

  /** Atomically replaces the persisted config. */
  save(config: WardenConfig): void {
    const data = Buffer.from(JSON.stringify(config, null, 4) + '\n');
    try {
      writeFileAtomic(this.file, data, join(this.dir, `${CONFIG_FILE}.tmp-${process.pid}`));
    } catch (e) {
      throw new WardenError('WARDEN_ERR_STATE_WRITE', `Cannot save the configuration in ${this.dir}: ${(e as Error).message}.`);
    }
  }
}
