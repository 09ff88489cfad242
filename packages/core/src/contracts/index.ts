export * from './tokens';
export * from './errors';
export * from './config';
export * from './plugin';
export * from './spawn-plan';
export * from './component';
