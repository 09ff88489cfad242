import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync } from 'fs';
import { join } from 'path';
import { WardenError } from '../contracts';
import type { WardenConfig } from '../contracts';
import { fsyncDir, removeQuietly, writeFileAtomic, writeFileDurable } from './atomic-file';
import { parseJson } from './json-parser';

/** File name of the accepted config inside the state dir. */
export const CONFIG_FILE = 'conf.json';

/**
 * File name of the copy of the accepted config kept beside `conf.json` (rewritten after each save). When `conf.json`
 * is found corrupt at start, wardend restores this copy instead of starting empty.
 */
export const LAST_GOOD_FILE = `${CONFIG_FILE}.last-good`;

/** What {@link ConfigStore.loadAtStart} found in the state dir. */
export type SavedState =
  /** No `conf.json`: a first start, or the operator removed it to reset. */
  | { kind: 'none' }
  /** `conf.json` read and parsed. */
  | { kind: 'saved'; config: WardenConfig; file: string }
  /**
   * `conf.json` was not JSON (truncated, edited by hand, disk error): it was moved to `corrupt` and `reason` says what
   * was wrong. `lastGood` is the copy of the last accepted config, when there is a usable one.
   */
  | { kind: 'corrupt'; file: string; corrupt: string; reason: string; lastGood?: { config: WardenConfig; file: string } };

/** A config written and fsynced beside the state files, not yet in place (see {@link ConfigStore.stage}). */
export interface StagedConfig {
  /** Puts it in place (renames, then a directory fsync). Throws WardenError when that fails. */
  publish(): void;
  /** Removes it (a change that did not apply). */
  discard(): void;
}

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
      throw new WardenError(
        'WARDEN_ERR_STATE_DIR',
        `Cannot use the state directory ${this.dir}: ${(e as Error).message}. Check --statedir and its permissions.`,
      );
    }
  }

  /** The persisted config, or undefined when there is none. Throws WardenError when the file is unreadable or not JSON. */
  load(): WardenConfig | undefined {
    const data = this.read();
    if (data === undefined) return undefined;
    try {
      return parseJson(data) as WardenConfig;
    } catch (e) {
      throw new WardenError('WARDEN_ERR_STATE_READ', `The saved configuration ${this.file} is not valid JSON: ${(e as Error).message}.`);
    }
  }

  /** The bytes of `conf.json`, undefined when there is none; WardenError when it cannot be read. */
  private read(): Buffer | undefined {
    try {
      return readFileSync(this.file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new WardenError('WARDEN_ERR_STATE_READ', `Cannot read the saved configuration ${this.file}: ${(e as Error).message}.`);
    }
  }

  /**
   * Start-up read: like {@link load}, but a `conf.json` that is not JSON does not throw. It is moved aside to
   * `conf.json.corrupt-<UTC time>` (so that the next accepted config cannot overwrite it), and the last good copy
   * (`conf.json.last-good`) is returned when it parses. Throws WardenError only when the file cannot be read at all
   * (permissions, I/O) or cannot be moved.
   */
  loadAtStart(now = new Date()): SavedState {
    const data = this.read();
    if (data === undefined) return { kind: 'none' };
    try {
      return { kind: 'saved', config: parseJson(data) as WardenConfig, file: this.file };
    } catch (e) {
      const corrupt = this.moveAside('corrupt', now);
      return { kind: 'corrupt', file: this.file, corrupt, reason: (e as Error).message, lastGood: this.readLastGood() };
    }
  }

  /** The path of the last good copy beside `conf.json`. */
  get lastGoodFile(): string {
    return join(this.dir, LAST_GOOD_FILE);
  }

  /**
   * Copies `conf.json` (which parses but was not accepted, e.g. a plugin is missing) to
   * `conf.json.rejected-<UTC time>` and returns that path: the file stays in place for the next start, and the copy
   * survives the next accepted config. Undefined when the copy fails (the caller logs the rejection anyway).
   */
  keepRejected(now = new Date()): string | undefined {
    const target = this.asideName('rejected', now);
    try {
      copyFileSync(this.file, target);
      return target;
    } catch {
      return undefined;
    }
  }

  /**
   * Makes sure the last good copy exists once `conf.json` has been accepted at start (a state dir written by an
   * older wardend has none): copies `conf.json` to it when it is missing. A failure only costs the copy.
   */
  ensureLastGood(): void {
    if (existsSync(this.lastGoodFile)) return;
    try {
      writeFileAtomic(this.lastGoodFile, readFileSync(this.file), join(this.dir, `${CONFIG_FILE}.tmp-${process.pid}`));
    } catch {
      /* the next save writes it */
    }
  }

  /**
   * Saving a config, first half, for a change that is still being applied: the new config is written to two temp files
   * in the state dir (one for `conf.json`, one for its last good copy) and fsynced, on libuv's threads. The result's
   * `publish()` then renames them over the last good copy, then over `conf.json`, and fsyncs the directory once;
   * `discard()` removes them. A crash at any point leaves complete files only: a crash between the renames leaves
   * the copy new and `conf.json` one config older (the one that was running). Rejects with WardenError (temp files
   * removed) when the writes fail; `publish()` throws it when a rename fails.
   */
  async stage(config: WardenConfig): Promise<StagedConfig> {
    const data = Buffer.from(JSON.stringify(config, null, 4) + '\n');
    const tmp = join(this.dir, `${CONFIG_FILE}.tmp-${process.pid}`);
    const tmpCopy = `${tmp}-last-good`;
    const discard = (): void => {
      removeQuietly(tmp);
      removeQuietly(tmpCopy);
    };
    const written = await Promise.allSettled([writeFileDurable(tmp, data), writeFileDurable(tmpCopy, data)]);
    const failed = written.find((w): w is PromiseRejectedResult => w.status === 'rejected');
    if (failed) {
      discard();
      throw this.writeError(failed.reason);
    }
    return {
      publish: () => {
        try {
          renameSync(tmpCopy, this.lastGoodFile);
          renameSync(tmp, this.file);
          fsyncDir(this.dir);
        } catch (e) {
          discard();
          throw this.writeError(e);
        }
      },
      discard,
    };
  }

  private writeError(e: unknown): WardenError {
    return new WardenError('WARDEN_ERR_STATE_WRITE', `Cannot save the configuration in ${this.dir}: ${(e as Error).message}.`);
  }

  private readLastGood(): { config: WardenConfig; file: string } | undefined {
    try {
      return { config: parseJson(readFileSync(this.lastGoodFile)) as WardenConfig, file: this.lastGoodFile };
    } catch {
      return undefined; // missing or itself damaged: nothing to restore
    }
  }

  private moveAside(what: string, now: Date): string {
    const target = this.asideName(what, now);
    try {
      renameSync(this.file, target);
      fsyncDir(this.dir);
    } catch (e) {
      throw new WardenError('WARDEN_ERR_STATE_READ', `Cannot move the damaged configuration ${this.file} aside to ${target}: ${(e as Error).message}.`);
    }
    return target;
  }

  /** `conf.json.<what>-20261206T072539Z`, with `-1`, `-2`, ... when that name is taken. */
  private asideName(what: string, now: Date): string {
    const stamp = now
      .toISOString()
      .replace(/\.\d+Z$/, 'Z')
      .replace(/[-:]/g, '');
    const base = join(this.dir, `${CONFIG_FILE}.${what}-${stamp}`);
    let name = base;
    for (let i = 1; existsSync(name); i++) name = `${base}-${i}`;
    return name;
  }
}
