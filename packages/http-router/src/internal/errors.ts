/** Stable code of a config the router cannot run for a reason no more specific code below names. */
export const ROUTER_CONFIG_ERROR = 'WARDEN_ERR_ROUTER_CONFIG';
/** A listener address Unit would not parse, or two listeners on one address. */
export const LISTENER_ERROR = 'WARDEN_ERR_CONFIG_LISTENER';
/** A `pass` (or a listener's `application`) that is malformed or names nothing. */
export const PASS_ERROR = 'WARDEN_ERR_CONFIG_PASS';
/** An `action` object with none or several of pass/share/proxy/return, an option of another action, a bad proxy. */
export const ACTION_ERROR = 'WARDEN_ERR_CONFIG_ACTION';
/** A `match` condition or pattern Unit refuses (`**`, bad scheme, bad regex, bad address, bad encoding). */
export const MATCH_ERROR = 'WARDEN_ERR_CONFIG_MATCH';
/** A listener's `tls` value (session, ticket keys, conf_commands) Unit or this build refuses. */
export const TLS_ERROR = 'WARDEN_ERR_CONFIG_TLS';
/** An upstream server address Unit would not parse. */
export const UPSTREAM_ERROR = 'WARDEN_ERR_CONFIG_UPSTREAM';
/** A string with variables that does not parse or names an unknown variable. */
export const VARIABLE_ERROR = 'WARDEN_ERR_CONFIG_VARIABLE';
/** A module of `settings.js_module` that is missing, does not compile or throws while it loads. */
export const JS_MODULE_ERROR = 'WARDEN_ERR_CONFIG_JS_MODULE';

/**
 * A config the router cannot run: the message is Unit's wording where Unit has one, `path` is the JSON pointer of
 * the offending value (e.g. `/routes/0/match/uri`).
 */
export class RouterConfigError extends Error {
  /** Stable machine-readable code (`WARDEN_ERR_ROUTER_CONFIG`). */
  readonly code: string;
  /** JSON pointer of the offending value inside the config. */
  readonly path: string;

  constructor(message: string, path: string, code: string = ROUTER_CONFIG_ERROR) {
    super(message);
    this.name = 'RouterConfigError';
    this.code = code;
    this.path = path;
  }
}

/** Appends one key or index to a JSON pointer, escaping `~` and `/` as RFC 6901 requires. */
export function jp(base: string, key: string | number): string {
  return `${base}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}
