export {
  PeerNetwork,
  backoffDelay,
  PEER_NETWORK_DEFAULTS,
  type PeerSpec,
  type PeerFault,
  type PeerNetworkOptions,
  type PeerNetworkEvents,
  type PeerStats,
  type BackoffOptions,
  type DownReason,
  type AuthFailReason,
  type AuthFailure,
} from './peer-network.js';
export { FrameDecoder, FrameType, encodeFrame, frameHeader, FRAME_HEADER_BYTES, type Frame, type FrameTypeName } from './frame.js';
export { computeMac, verifyMac, HANDSHAKE_VERSION, NONCE_BYTES, MAC_BYTES, HANDSHAKE_FRAME_LIMIT, type HandshakeTranscript, type Role } from './handshake.js';
