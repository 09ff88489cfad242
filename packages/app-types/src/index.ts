import type { DependencyContainer } from 'tsyringe';
import { TOKENS } from '@warden/core';
import { ExternalLauncher } from './external.launcher';
import { NodeLauncher } from './node.launcher';

export { ExternalLauncher } from './external.launcher';
export { NodeLauncher } from './node.launcher';
export type { NodeLauncherOptions } from './node.launcher';
export { ChannelBinding, createExchange, parseListenArgs, underWarden, PRELOAD_PATH, HTTP_MODULE_PATH } from './runtime';
export type { ChannelBindingOptions, ChannelEndpoint, ChannelExchange, ChannelRequest, ExchangeOptions, ListenRequest } from './runtime';

/** Plugin entry: registers the `external`/`go` and `node` launchers under {@link TOKENS.AppLauncher}. */
export function register(container: DependencyContainer): void {
  container.register(TOKENS.AppLauncher, { useValue: new ExternalLauncher() });
  container.register(TOKENS.AppLauncher, { useValue: new NodeLauncher() });
}
