/** Byte transports: the interface, node-serialport/pty, and an in-memory pair for tests. */
export { createMemoryTransportPair, type Fault, type MemoryPairOptions } from "./memory.js";
export { type NetworkPort, parseNetworkPort } from "./network.js";
export { BAUD_DEFAULT, mapOpenError, openSerialTransport, type SerialTransportOptions } from "./serial.js";
export type { CloseListener, DataListener, Transport } from "./transport.js";
