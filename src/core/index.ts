/** The only import path into core. Pure TypeScript: no `vscode`, no `node:*`, no DOM. */
export * from './errors';
export * from './io/byteSource';
export * from './io/binaryReader';
export * from './io/limits';
export * from './model/dtypes';
export * from './model/types';
export * from './formats/detect';
export * from './formats/context';
export * from './openModel';
export * from './analysis/inspect';
export * from './analysis/numberFormats';
