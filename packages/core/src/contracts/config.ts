/** The Unit-format configuration, as accepted by the schema. Only the parts core itself reads are typed. */
export interface WardenConfig {
  listeners?: Record<string, ListenerConfig>;
  routes?: unknown;
  applications?: Record<string, AppConfig>;
  upstreams?: Record<string, unknown>;
  settings?: Record<string, unknown>;
  access_log?: unknown;
  [key: string]: unknown;
}

export interface ListenerConfig {
  pass?: string;
  backlog?: number;
  forwarded?: unknown;
  tls?: unknown;
  [key: string]: unknown;
}

/** An application object (Unit's common fields plus whatever the launcher of its `type` accepts). */
export interface AppConfig {
  type: string;
  processes?: number | { max?: number; spare?: number; idle_timeout?: number };
  limits?: { timeout?: number; requests?: number };
  user?: string;
  group?: string;
  working_directory?: string;
  environment?: Record<string, string>;
  stdout?: string;
  stderr?: string;
  isolation?: IsolationConfig;
  [key: string]: unknown;
}

/** The `isolation` object: Unit's keys plus Warden's additive extensions. */
export interface IsolationConfig {
  namespaces?: Record<string, unknown>;
  uidmap?: IdMapEntry[];
  gidmap?: IdMapEntry[];
  rootfs?: string;
  automount?: { language_deps?: boolean; procfs?: boolean; tmpfs?: boolean };
  new_privs?: boolean;
  cgroup?: { path: string; [limit: string]: unknown };
  [key: string]: unknown;
}

export interface IdMapEntry {
  container: number;
  host: number;
  size: number;
}
