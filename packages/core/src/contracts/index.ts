export * from './tokens';
export * from './errors';
export * from './config';
export * from './plugin';
export * from './child-ops';
export * from './spawn-plan';
export * from './component';
