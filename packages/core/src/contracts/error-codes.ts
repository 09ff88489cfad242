/**
 * Every stable error code @warden/core raises, with its meaning: the one place to look a code up. Codes of the
 * packages core builds on (`WARDEN_ERR_SHM_*` of @warden/shm-transport, `WARDEN_ERR_ROUTER_*` of
 * @warden/http-router) and of plugins (`WARDEN_ERR_ISOLATION_*`, `WARDEN_ERR_IDMAP_*`, ...) are in those packages'
 * catalogues. `test/error-codes.test.ts` checks that every code in the sources is listed in one catalogue.
 */
export const ERROR_CODES = {
  // Configuration (400 `Invalid configuration.` on the control API; the detail names the JSON path).
  WARDEN_ERR_CONFIG_APP_TYPE: 'No plugin provides the application `type`.',
  WARDEN_ERR_CONFIG_ARGUMENTS: 'An application argument holds a null character.',
  WARDEN_ERR_CONFIG_ENVIRONMENT: 'An environment variable name or value is invalid.',
  WARDEN_ERR_CONFIG_METRICS_LISTEN: '`settings.metrics.listen` is not `IP:port`.',
  WARDEN_ERR_CONFIG_CERTIFICATE: 'A listener names a certificate bundle that is not stored.',
  WARDEN_ERR_CONFIG_PLUGIN: "A plugin's check of an application threw an error that is not a ConfigValidationError.",
  WARDEN_ERR_CONFIG_FILE: 'The `--config` file cannot be read or parsed.',
  WARDEN_ERR_CONFIG_PATH_NOT_FOUND: "A control-API path names no value (404 `Value doesn't exist.`).",
  WARDEN_ERR_CONFIG_PATH_METHOD: "The method cannot be used on that control-API path (405 `Method isn't allowed.`).",
  WARDEN_ERR_CREDENTIALS_USER: 'The user of an application (or `--user`) does not exist.',
  WARDEN_ERR_CREDENTIALS_GROUP: 'The group of an application (or `--group`) does not exist.',
  WARDEN_ERR_CREDENTIALS_UNPRIVILEGED: 'An unprivileged wardend cannot run an app as another user or group.',
  WARDEN_ERR_JSON_INVALID: 'A request body or file is not valid JSON (400 `Invalid JSON.`).',
  // Applying a config (500 `Failed to apply new configuration.`).
  WARDEN_ERR_APPLY: 'Applying a valid config failed at run time (the generic apply error).',
  WARDEN_ERR_INTERNAL: 'An unexpected error while serving a control request (500).',
  // Control API and socket.
  WARDEN_ERR_CONTROL_ANSWER: "A control request ends in one of Unit's error answers (status and body attached).",
  WARDEN_ERR_CONTROL_ADDRESS: 'The control address (`--control`) is malformed.',
  WARDEN_ERR_CONTROL_BODY_SIZE: 'A control request body is larger than the limit (413).',
  WARDEN_ERR_CONTROL_IN_USE: 'Another wardend accepts on the control socket.',
  WARDEN_ERR_CONTROL_LISTEN: 'The control address cannot be listened on.',
  WARDEN_ERR_CONTROL_SOCKET: 'The owner or mode of the control socket cannot be set.',
  WARDEN_ERR_RESTART_UNAVAILABLE: 'A restart was asked of a wardend without a supervisor.',
  // Certificates (`/certificates`).
  WARDEN_ERR_CERTIFICATE_INVALID: 'An uploaded PEM bundle cannot be used (the detail says why).',
  WARDEN_ERR_CERTIFICATE_EXISTS: 'A bundle of that name is stored already.',
  WARDEN_ERR_CERTIFICATE_IN_USE: 'A bundle a listener uses cannot be deleted.',
  WARDEN_ERR_CERTIFICATE_NAME: 'The certificate name is not usable.',
  WARDEN_ERR_CERTIFICATE_STORE: 'A bundle cannot be written to the state directory.',
  WARDEN_ERR_SCRIPT_INVALID: 'An uploaded JavaScript module does not compile (the detail says why).',
  WARDEN_ERR_SCRIPT_EXISTS: 'A JavaScript module of that name is stored already.',
  WARDEN_ERR_SCRIPT_IN_USE: 'A JavaScript module settings.js_module names cannot be deleted.',
  WARDEN_ERR_SCRIPT_NAME: 'The JavaScript module name is not usable.',
  WARDEN_ERR_SCRIPT_STORE: 'A JavaScript module cannot be written to or removed from the state directory.',
  // Daemon start-up and state.
  WARDEN_ERR_USAGE: 'The wardend command line is wrong (exit status 2).',
  WARDEN_ERR_PID_FILE: 'The pid file cannot be written.',
  WARDEN_ERR_PID_IN_USE: 'The pid file names a running wardend.',
  WARDEN_ERR_STATE_DIR: 'The state directory cannot be used.',
  WARDEN_ERR_STATE_READ: 'The saved configuration cannot be read.',
  WARDEN_ERR_STATE_WRITE: 'The configuration cannot be saved.',
  // Plugins.
  WARDEN_ERR_PLUGIN_LOAD: 'A plugin module cannot be loaded or has no `register`.',
  WARDEN_ERR_PLUGIN_CONFLICT: 'Two plugins define the same namespace key, isolation key or application type.',
  WARDEN_ERR_PLUGIN_SCHEMA: "A plugin's schema fragment does not compile.",
  // The warden CLI.
  WARDEN_ERR_CLI_USAGE: 'The warden command line is wrong (exit status 2).',
  WARDEN_ERR_CLI_INPUT: 'An input file of warden cannot be read (exit status 2).',
  WARDEN_ERR_CLI_CONTROL_ADDRESS: "warden's `--control` is malformed (exit status 2).",
  WARDEN_ERR_CLI_UNREACHABLE: 'warden cannot reach wardend (exit status 1).',
  WARDEN_ERR_CHILD_OP: 'A plugin added a spawn-plan op outside the vocabulary (CHILD_OPS) or with bad arguments.',
  WARDEN_ERR_CLI_REQUEST: 'wardend refused a request of `warden top` (exit status 1).',
} as const;

/** A stable code of @warden/core. */
export type CoreErrorCode = keyof typeof ERROR_CODES;
