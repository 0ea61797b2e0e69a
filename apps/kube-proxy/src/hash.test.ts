import { describe, expect, it } from "vitest";
import { base32, servicePortChainName, servicePortEndpointChainName } from "./hash.js";

describe("chain names", () => {
  it("encodes base32 as RFC 4648 (Go's StdEncoding) before padding", () => {
    const enc = (s: string) => base32(new TextEncoder().encode(s));
    expect(enc("")).toBe("");
    expect(enc("f")).toBe("MY");
    expect(enc("fo")).toBe("MZXQ");
    expect(enc("foo")).toBe("MZXW6");
    expect(enc("foobar")).toBe("MZXW6YTBOI");
  });

  // Expected values from coreutils: printf %s "<text>" | sha256sum | xxd -r -p | base32 | cut -c1-16
  it("hashes the service port name with the lower-case protocol, as Kubernetes", () => {
    expect(servicePortChainName("default/web:http", "TCP")).toBe("KUBE-SVC-CDGGSHYLG3RE2FKL");
    expect(servicePortChainName("default/web", "tcp")).toBe("KUBE-SVC-LOLE4ISW44XBNF3G");
    expect(servicePortEndpointChainName("default/web:http", "TCP", "10.244.1.2:8080")).toBe(
      "KUBE-SEP-UIQK3OSOSTRHRPBX",
    );
  });
});
