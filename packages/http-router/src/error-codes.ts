/** Every stable error code @warden/http-router raises, with its meaning. */
export const ERROR_CODES = {
  WARDEN_ERR_ROUTER_CONFIG: "A config the router cannot run (the path and Unit's sentence say why).",
  WARDEN_ERR_CONFIG_INVALID: 'The config does not match the schema (the generic validation error).',
  WARDEN_ERR_CONFIG_REQUIRED: 'A required key is missing.',
  WARDEN_ERR_CONFIG_UNKNOWN: 'A key the schema does not know.',
  WARDEN_ERR_CONFIG_TYPE: 'A value has the wrong JSON type.',
  WARDEN_ERR_CONFIG_ENUM: 'A value is not one of the allowed ones.',
  WARDEN_ERR_CONFIG_RANGE: 'A number or a length is out of its range.',
  WARDEN_ERR_CONFIG_FORMAT: 'A string has an invalid format.',
  WARDEN_ERR_CONFIG_LISTENER: 'A listener address is invalid.',
  WARDEN_ERR_CONFIG_PASS: '`pass` names a route, application or upstream that does not exist, or is malformed.',
  WARDEN_ERR_CONFIG_ACTION: 'A route action is invalid.',
  WARDEN_ERR_CONFIG_MATCH: 'A route match condition is invalid.',
  WARDEN_ERR_CONFIG_UPSTREAM: 'An upstream or one of its servers is invalid.',
  WARDEN_ERR_CONFIG_TLS: 'A listener `tls` object is invalid.',
  WARDEN_ERR_CONFIG_VARIABLE: 'A variable in a route, action or template is unknown or malformed.',
  WARDEN_ERR_CONFIG_JS_MODULE: 'settings.js_module names a JavaScript module that is not stored, or one that failed while it loaded.',
} as const;
