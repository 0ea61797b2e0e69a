import { createHash } from "node:crypto";

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/**
 * RFC 4648 base32 (Go's base32.StdEncoding) without padding: chain names must match Kubernetes'
 * byte for byte, and only the first 16 characters are used, so padding never matters. Node has no
 * base32 codec and the few lines here are smaller than a dependency.
 */
export function base32(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

const hash16 = (text: string) => base32(createHash("sha256").update(text).digest()).slice(0, 16);

/** KUBE-SVC-<hash> of "ns/name:port" + lower-case protocol, as Kubernetes' servicePortChainName. */
export const servicePortChainName = (servicePortName: string, protocol: string): string =>
  `KUBE-SVC-${hash16(servicePortName + protocol.toLowerCase())}`;

/** KUBE-SEP-<hash> of service port name + protocol + "ip:port", as servicePortEndpointChainName. */
export const servicePortEndpointChainName = (
  servicePortName: string,
  protocol: string,
  endpoint: string,
): string => `KUBE-SEP-${hash16(servicePortName + protocol.toLowerCase() + endpoint)}`;

/** KUBE-XLB-<hash>: NodePort traffic of an externalTrafficPolicy: Local service. */
export const serviceLocalChainName = (servicePortName: string, protocol: string): string =>
  `KUBE-XLB-${hash16(servicePortName + protocol.toLowerCase())}`;
