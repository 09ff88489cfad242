/**
 * `@warden/core/internal`: core's internals, for Warden's own tests and tools. NOT part of the API: any name here
 * may change or go in any release without notice. A plugin or an embedder imports `@warden/core` only.
 */
export * from '../index';
export { PlanBuilder, validateIsolation, isolationPlugins, resolveCredentials, readUserDatabase, defaultAppUser } from '../isolation';
export type { UserDatabase } from '../isolation';
export { validationDetail } from '../config/config-validator';
export { buildConfigSchema, appLaunchers } from '../config/schema-builder';
export { planContextFor, planContextDefaultsFor } from '../config/plan-context';
export { translateAjvErrors } from '../config/error-translator';
export { parseJson, JsonParseError } from '../control/json-parser';
export type { JsonLocation } from '../control/json-parser';
export { Controller } from '../control/controller';
export { ControlApi } from '../control/control-api';
export { ControlServer, parseControlAddress } from '../control/control-server';
export type { ControlAddress, ControlSocketOptions } from '../control/control-server';
export { ControlError } from '../control/control-error';
export type { ControlResponse } from '../control/control-error';
export { ConfigStore, CONFIG_FILE, LAST_GOOD_FILE } from '../control/config-store';
export type { SavedState } from '../control/config-store';
export { CertificateStore, CERTIFICATE_STORE, CERTS_DIR, certificateRefs } from '../control/certificate-store';
export type { StoredCertificate, CertificateRef } from '../control/certificate-store';
export { parseBundle, CertificateBundleError } from '../control/certificate-bundle';
export type { BundleInfo, CertificateBundle, CertificateDetails } from '../control/certificate-bundle';
export { composeContainer, pluginRequests } from '../daemon/warden';
export { createLogger } from '../daemon/logger';
export type { LogFormat, LoggerOptions } from '../daemon/logger';
export { registerRuntime } from '../runtime';
export { ERROR_CODES } from '../contracts/error-codes';
export type { CoreErrorCode } from '../contracts/error-codes';
