import 'reflect-metadata';
export * from './contracts';
export * from './isolation';
