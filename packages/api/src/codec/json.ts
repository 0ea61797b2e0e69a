/** The JSON form of typed objects, decoding and encoding together (imported by path in strategies/testing.ts). */
export { DecodeError, decodeMessage, decodeObject } from "./decode.js";
export { encodeMessage, encodeObject } from "./encode.js";
