import type { Logger } from 'pino';
import { checkJsModule } from '@warden/http-router';
import { NamedStore } from './named-store';

/** Container token of the daemon's ScriptStore (core-internal: the runtime and the controller share it). */
export const SCRIPT_STORE = 'warden:ScriptStore';

/** Sub-directory of the state dir that holds the uploaded JavaScript modules, one file per name (Unit's `scripts`). */
export const SCRIPTS_DIR = 'scripts';

/**
 * The uploaded JavaScript modules (`/js_modules`), in `<statedir>/scripts/<name>` (a NamedStore: kept in memory,
 * written atomically, names looked up case-insensitively, files that no longer compile skipped at start, as in Unit).
 * An upload must compile as a module (checkJsModule of @warden/http-router: nothing of it runs in main).
 */
export class ScriptStore {
  private readonly store: NamedStore<string>;

  constructor(stateDir: string, log?: Logger) {
    this.store = new NamedStore(
      stateDir,
      SCRIPTS_DIR,
      (data, name) => {
        const text = data.toString('utf8');
        checkJsModule(name, text);
        return text;
      },
      'JavaScript module',
      log,
    );
  }

  /** Creates the directory (0700), removes temp files a crashed writer left, and loads every stored module. */
  init(): void {
    this.store.init();
  }

  /** The text of the module of that name (any case), with the name as uploaded; undefined when there is none. */
  get(name: string): { name: string; text: string } | undefined {
    const item = this.store.get(name);
    return item === undefined ? undefined : { name: item.name, text: item.value };
  }

  /** Whether an item of that name (any case) is stored. */
  has(name: string): boolean {
    return this.store.get(name) !== undefined;
  }

  /** Unit's `/js_modules` object: name → the module's text. */
  info(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const m of this.store.items()) out[m.name] = m.value;
    return out;
  }

  /** Stores a new module; throws JsModuleError when it does not compile, or the filesystem error. */
  add(name: string, data: Buffer): void {
    this.store.add(name, data);
  }

  /** Removes a module; false when there is none of that name. */
  remove(name: string): boolean {
    return this.store.remove(name);
  }
}
