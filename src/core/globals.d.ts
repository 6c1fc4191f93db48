/**
 * The few platform globals core may use. They exist in Node, browsers and workers alike, but core's
 * tsconfig has `"lib": ["ES2022"], "types": []` so they are declared here, narrowly.
 */
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: ArrayBufferView | ArrayBuffer, options?: { stream?: boolean }): string;
}
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
