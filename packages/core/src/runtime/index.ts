import type { DependencyContainer } from 'tsyringe';

/**
 * Registers the running server's components (router gateway, supervisor) in the container: ConfigComponents under
 * TOKENS.ConfigComponent and the AppControl. Called by the daemon after plugins are loaded and before the first
 * config is applied. Filled in by the runtime work (issue 7); until then the daemon runs with the control API only.
 */
export function registerRuntime(container: DependencyContainer): void {
  void container;
}
