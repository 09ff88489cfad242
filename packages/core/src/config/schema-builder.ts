import type { DependencyContainer } from 'tsyringe';
import type { AppLauncher, JsonSchema } from '../contracts';
import { TOKENS, WardenError } from '../contracts';
import { isolationPlugins } from '../isolation';
import { ROUTER_ROOT_PROPERTIES, ROUTER_SCHEMA_DEFS } from '@warden/http-router';
import { BASE_ROOT_PROPERTIES, COMMON_APP_PROPERTIES } from './base-schema';

/** The app launchers registered in a container (empty when none are). */
export function appLaunchers(container: DependencyContainer): AppLauncher[] {
  return container.isRegistered(TOKENS.AppLauncher, true) ? container.resolveAll<AppLauncher>(TOKENS.AppLauncher) : [];
}

/**
 * Assembles the whole config schema from core's base schema and every plugin registered in the container:
 * one application branch per AppLauncher (common keys + the launcher's keys, selected by `type`), the
 * `isolation.namespaces` object from the NamespaceProviders and the other `isolation` keys from the IsolationExtras.
 * `listeners`, `routes`, `upstreams`, `settings.http` and `access_log` are @warden/http-router's schema, as it
 * exports it. Two plugins claiming the same type or key is an error at start.
 */
export function buildConfigSchema(container: DependencyContainer): JsonSchema {
  const { providers, extras } = isolationPlugins(container);
  const launchers = appLaunchers(container);

  const namespaces: Record<string, JsonSchema> = {};
  for (const p of providers) {
    if (namespaces[p.key]) throw duplicate(`isolation.namespaces.${p.key}`);
    namespaces[p.key] = p.schema;
  }
  const isolationProps: Record<string, JsonSchema> = {
    namespaces: { type: 'object', properties: namespaces, additionalProperties: false },
  };
  for (const extra of extras) {
    for (const key of extra.keys) {
      if (isolationProps[key]) throw duplicate(`isolation.${key}`);
      const schema = extra.schema[key];
      if (!schema) {
        throw new WardenError('WARDEN_ERR_PLUGIN_SCHEMA', `The isolation extra for "${key}" declares the key but no schema for it.`);
      }
      isolationProps[key] = schema;
    }
  }

  const seenTypes = new Set<string>();
  const branches: JsonSchema[] = launchers.map((l) => {
    for (const t of l.types) {
      if (seenTypes.has(t)) throw duplicate(`application type "${t}"`);
      seenTypes.add(t);
    }
    for (const key of Object.keys(l.schema.properties)) {
      if (key in COMMON_APP_PROPERTIES) {
        throw new WardenError('WARDEN_ERR_PLUGIN_SCHEMA', `The launcher of type "${l.types.join('", "')}" redefines the common application key "${key}".`);
      }
    }
    return {
      type: 'object',
      properties: { ...COMMON_APP_PROPERTIES, ...l.schema.properties, type: { type: 'string', enum: [...l.types] } },
      required: ['type', ...(l.schema.required ?? [])],
      additionalProperties: false,
    };
  });
  // Without any launcher no type is known: the object shape is still checked, and the validator reports the type.
  const application: JsonSchema =
    branches.length > 0
      ? { type: 'object', properties: { type: { type: 'string' } }, required: ['type'], discriminator: { propertyName: 'type' }, oneOf: branches }
      : { type: 'object', properties: { ...COMMON_APP_PROPERTIES }, required: ['type'], additionalProperties: false };

  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'urn:warden:config',
    title: 'Warden configuration (NGINX Unit compatible)',
    type: 'object',
    properties: { listeners: ROUTER_ROOT_PROPERTIES.listeners, routes: ROUTER_ROOT_PROPERTIES.routes, ...BASE_ROOT_PROPERTIES, ...ROUTER_ROOT_PROPERTIES },
    additionalProperties: false,
    $defs: {
      ...ROUTER_SCHEMA_DEFS,
      application,
      isolation: { type: 'object', properties: isolationProps, additionalProperties: false },
    },
  };
}

function duplicate(what: string): WardenError {
  return new WardenError('WARDEN_ERR_PLUGIN_CONFLICT', `Two plugins both define ${what}; load only one of them.`);
}
