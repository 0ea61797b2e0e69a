import { describe, expect, it } from "vitest";
import {
  isConfigMapKey,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isEnvVarName,
  isQualifiedName,
  isValidCIDR,
  isValidIP,
  isValidLabelValue,
  isValidPortName,
  isValidPortNum,
} from "./validation.js";

describe("Kubernetes name rules", () => {
  it("words DNS-1123 subdomain errors as Kubernetes does", () => {
    expect(isDNS1123Subdomain("nginx-deployment")).toEqual([]);
    expect(isDNS1123Subdomain("kube-system.svc")).toEqual([]);
    expect(isDNS1123Subdomain("Web_Server")).toEqual([
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    ]);
    expect(isDNS1123Subdomain("a".repeat(254))).toEqual(["must be no more than 253 characters"]);
  });

  it("separates DNS-1123 labels from DNS-1035 labels (which must start with a letter)", () => {
    expect(isDNS1123Label("123-abc")).toEqual([]);
    expect(isDNS1123Label("a.b")).toEqual([
      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    ]);
    expect(isDNS1123Label("x".repeat(64))).toEqual(["must be no more than 63 characters"]);
    expect(isDNS1035Label("my-service")).toEqual([]);
    expect(isDNS1035Label("123-abc")).toEqual([
      "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
    ]);
  });

  it("checks qualified names with an optional DNS prefix", () => {
    expect(isQualifiedName("app")).toEqual([]);
    expect(isQualifiedName("app.kubernetes.io/name")).toEqual([]);
    expect(isQualifiedName("/name")).toEqual(["prefix part must be non-empty"]);
    expect(isQualifiedName("Example.com/name")[0]).toMatch(/^prefix part a lowercase RFC 1123 subdomain/);
    expect(isQualifiedName("a/b/c")[0]).toMatch(/^a qualified name must consist of alphanumeric characters/);
    expect(isQualifiedName("x".repeat(64))).toEqual(["name part must be no more than 63 characters"]);
    expect(isQualifiedName("bad key!")).toEqual([
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    ]);
  });

  it("allows empty label values but not leading punctuation", () => {
    expect(isValidLabelValue("")).toEqual([]);
    expect(isValidLabelValue("v1.2_beta")).toEqual([]);
    expect(isValidLabelValue("-x")[0]).toMatch(/^a valid label must be an empty string/);
    expect(isValidLabelValue("x".repeat(64))).toContain("must be no more than 63 characters");
  });
});

describe("ports and addresses", () => {
  it("bounds port numbers to 1-65535", () => {
    expect(isValidPortNum(80)).toEqual([]);
    expect(isValidPortNum(65535)).toEqual([]);
    expect(isValidPortNum(0)).toEqual(["must be between 1 and 65535, inclusive"]);
    expect(isValidPortNum(65536)).toEqual(["must be between 1 and 65535, inclusive"]);
    expect(isValidPortNum(1.5)).toEqual(["must be between 1 and 65535, inclusive"]);
  });

  it("checks IANA service names in Kubernetes' order", () => {
    expect(isValidPortName("http")).toEqual([]);
    expect(isValidPortName("web-8080")).toEqual([]);
    expect(isValidPortName("80")).toEqual(["must contain at least one letter (a-z)"]);
    expect(isValidPortName("a--b")).toEqual(["must not contain consecutive hyphens"]);
    expect(isValidPortName("-http")).toEqual(["must not begin or end with a hyphen"]);
    expect(isValidPortName("HTTP")).toEqual([
      "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
      "must contain at least one letter (a-z)",
    ]);
    expect(isValidPortName("a-very-long-port-name")).toEqual(["must be no more than 15 characters"]);
  });

  it("accepts IPv4 and IPv6 addresses and CIDRs only", () => {
    expect(isValidIP("10.96.0.1")).toEqual([]);
    expect(isValidIP("2001:db8::ffff")).toEqual([]);
    for (const bad of ["256.1.1.1", "10.0.0", "010.0.0.1", "example.com", "", "10.0.0.1/24"]) {
      expect(isValidIP(bad), bad).toEqual(["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]);
    }
    expect(isValidCIDR("10.96.0.0/12")).toEqual([]);
    expect(isValidCIDR("fd00::/108")).toEqual([]);
    for (const bad of ["10.96.0.0", "10.96.0.0/33", "10.96.0.0/", "/8", "fd00::/129", "x/8", "10.0.0.0/08"]) {
      expect(isValidCIDR(bad), bad).toEqual([
        "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
      ]);
    }
  });
});

describe("data keys and environment names", () => {
  it("takes ConfigMap keys as file names", () => {
    expect(isConfigMapKey("default.conf")).toEqual([]);
    expect(isConfigMapKey("KEY_NAME-1")).toEqual([]);
    expect(isConfigMapKey("a/b")[0]).toMatch(/^a valid config key must consist of alphanumeric characters/);
    expect(isConfigMapKey("..")).toEqual(["must not be '..'"]);
  });

  it("takes C-like environment variable names, dots and dashes included", () => {
    expect(isEnvVarName("MY_ENV.NAME")).toEqual([]);
    expect(isEnvVarName("1ST")[0]).toMatch(/must not start with a digit/);
    expect(isEnvVarName("A=B")).toHaveLength(1);
  });
});
