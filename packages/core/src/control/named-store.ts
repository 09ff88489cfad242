import { mkdirSync, readdirSync, readFileSync, statSync, unlinkSync } from 'fs';
import { join } from 'path';
import type { Logger } from 'pino';
import { WardenError } from '../contracts';
import { fsyncDir, writeFileAtomic } from './atomic-file';

/** One stored item under the name it was uploaded with. */
export interface NamedItem<T> {
  name: string;
  value: T;
}

/**
 * Items uploaded through the control API by name (`/certificates`, `/js_modules`): kept parsed in memory and on disk
 * in `<statedir>/<dir>/<name>` (mode 0600, written atomically: temp file in the state dir, fsync, rename, fsync of the
 * directory). Names are looked up case-insensitively, as Unit does. At start every file is loaded again; a file that
 * no longer parses is logged and skipped, as in Unit.
 */
export class NamedStore<T> {
  readonly dir: string;
  private readonly byKey = new Map<string, NamedItem<T>>();
  private readonly tmpPrefix: string;

  constructor(
    readonly stateDir: string,
    dirName: string,
    /** Parses an upload (or a stored file); throws for one that cannot be used. */
    private readonly parse: (data: Buffer, name: string) => T,
    /** What the items are, for log lines and errors ("certificate bundle"). */
    private readonly what: string,
    private readonly log?: Logger,
  ) {
    this.dir = join(stateDir, dirName);
    this.tmpPrefix = `${dirName}.tmp-`;
  }

  /** Creates the directory (0700), removes temp files a crashed writer left, and loads every stored item. */
  init(): void {
    let names: string[];
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      for (const f of readdirSync(this.stateDir)) if (f.startsWith(this.tmpPrefix)) unlinkSync(join(this.stateDir, f));
      names = readdirSync(this.dir);
    } catch (e) {
      throw new WardenError(
        'WARDEN_ERR_STATE_DIR',
        `Cannot use the ${this.what} store ${this.dir}: ${(e as Error).message}. Check --statedir and its permissions.`,
      );
    }
    this.byKey.clear();
    for (const name of names) {
      const file = join(this.dir, name);
      try {
        if (!statSync(file).isFile()) continue;
        this.byKey.set(key(name), { name, value: this.parse(readFileSync(file), name) });
      } catch (e) {
        this.log?.error({ err: e, file }, `a stored ${this.what} cannot be loaded; it is skipped`);
      }
    }
    if (this.byKey.size > 0) this.log?.info({ names: this.names() }, `${this.what}s loaded`);
  }

  /** The stored item of that name (any case), or undefined. */
  get(name: string): NamedItem<T> | undefined {
    return this.byKey.get(key(name));
  }

  /** Stored names as uploaded. */
  names(): string[] {
    return [...this.byKey.values()].map((c) => c.name);
  }

  /** Every stored item. */
  items(): NamedItem<T>[] {
    return [...this.byKey.values()];
  }

  /**
   * Parses and stores a new item. Throws what `parse` throws for one that cannot be used, or the filesystem error
   * when it cannot be written (nothing is kept then). The caller checks that the name is free.
   */
  add(name: string, data: Buffer): NamedItem<T> {
    const value = this.parse(data, name);
    writeFileAtomic(join(this.dir, name), data, join(this.stateDir, `${this.tmpPrefix}${process.pid}`));
    const stored = { name, value };
    this.byKey.set(key(name), stored);
    return stored;
  }

  /** Removes an item; false when there is none of that name. */
  remove(name: string): boolean {
    const c = this.get(name);
    if (!c) return false;
    try {
      unlinkSync(join(this.dir, c.name));
      fsyncDir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    this.byKey.delete(key(name));
    return true;
  }
}

function key(name: string): string {
  return name.toLowerCase();
}

/** Names Unit accepts for an uploaded item: not empty, no `/` or NUL, not `.` or `..`. */
export function validStoreName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}
