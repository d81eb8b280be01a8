/** The CoAP engine's public API (see server.ts, client.ts, codec.ts). */
export { CoapServer, encodeReply } from './server.js';
export type { CoapMethod, CoapRequest, CoapReply, ResourceDef, CoapServerOptions, CoapServerRequestEvent, HandleInfo } from './server.js';
export { CoapClient, CoapTimeoutError, CoapResetError } from './client.js';
export type { CoapClientOptions, CoapResponse, CoapRequestInit } from './client.js';
export {
  ACK,
  CON,
  NON,
  RST,
  Code,
  ContentFormat,
  CoapFormatError,
  Opt,
  blockFromUint,
  blockToUint,
  codeFromString,
  codeToString,
  decode,
  describe,
  encode,
  type CoapMessage,
  type CoapOption,
} from './codec.js';
export { parseCoapUri, formatCoapUri, COAP_DEFAULT_PORT } from './uri.js';
export { formatLinks, parseLinks, filterLinks, type LinkDescription } from './link-format.js';
