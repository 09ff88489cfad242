import { isAbsolute, resolve } from 'path';
import type { Logger } from 'pino';
import type { DependencyContainer } from 'tsyringe';
import type { WardenPlugin } from '../contracts';
import { WardenError } from '../contracts';

/** The plugins `wardend` loads by default: the bundled namespace providers and application types. */
export const DEFAULT_PLUGINS: readonly string[] = ['@warden/ns-linux', '@warden/app-types'];

/** What to load: default plugins may be missing (warning); explicitly requested ones must load (error). */
export interface PluginRequest {
  /** Module name (`@warden/ns-linux`) or a path (`./my-plugin.js`, resolved against the working directory). */
  module: string;
  /** Whether failure to load is fatal (`--plugin`) or only a warning (defaults). */
  required: boolean;
}

/** A plugin that was loaded and registered. */
export interface LoadedPlugin {
  module: string;
  resolvedPath: string;
}

/**
 * Loads each plugin with `require()` at start (never statically imported) and calls its `register(container)`.
 * A default plugin that is not installed or fails is logged as a warning and skipped; a requested one that fails
 * throws WardenError `WARDEN_ERR_PLUGIN_LOAD` naming the module and the reason.
 */
export async function loadPlugins(container: DependencyContainer, requests: PluginRequest[], log: Logger): Promise<LoadedPlugin[]> {
  const loaded: LoadedPlugin[] = [];
  const seen = new Set<string>();
  const failed = new Map<string, string>();
  for (const req of requests) {
    const id = req.module.startsWith('.') || isAbsolute(req.module) ? resolve(req.module) : req.module;
    // A module is loaded once; one that failed as a default and is also requested with --plugin is an error.
    let reason = failed.get(id);
    if (reason === undefined) {
      if (seen.has(id)) continue;
      seen.add(id);
      try {
        const resolvedPath = require.resolve(id);
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const mod = require(resolvedPath) as Partial<WardenPlugin> & { default?: Partial<WardenPlugin> };
        const register = typeof mod.register === 'function' ? mod.register : mod.default?.register;
        if (typeof register !== 'function') throw new Error('it does not export a register(container) function');
        await register(container);
        loaded.push({ module: req.module, resolvedPath });
        log.info({ plugin: req.module, path: resolvedPath }, 'plugin loaded');
        continue;
      } catch (e) {
        reason =
          (e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String((e as Error).message).includes(`'${id}'`)
            ? 'it is not installed (or not built)'
            : (e as Error).message;
        failed.set(id, reason);
      }
    }
    if (req.required) {
      throw new WardenError('WARDEN_ERR_PLUGIN_LOAD', `Cannot load plugin "${req.module}": ${reason}.`);
    }
    log.warn({ plugin: req.module, reason }, `default plugin "${req.module}" not loaded: ${reason}`);
  }
  return loaded;
}
