/** Protocol v1 (docs/protocol.md): pure codecs, no I/O. */
export * from "./chunking.js";
export * from "./constants.js";
export { crc32 } from "./crc.js";
export * from "./frame.js";
export * from "./messages.js";
export * from "./receiver.js";
export * from "./tlv.js";
