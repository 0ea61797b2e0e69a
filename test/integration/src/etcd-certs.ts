import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** PEM files for etcd over TLS: a CA, etcd's serving pair and a client pair, all from that CA. */
export interface EtcdCerts {
  dir: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

const openssl = (args: string[], cwd: string) => execFileSync("openssl", args, { cwd, stdio: "pipe" });

/**
 * A fresh CA and certificates made with the openssl CLI (as etcd's own docs and `tskube certs`-style
 * bootstraps do): the server certificate names 127.0.0.1 and localhost, the client certificate is
 * for clientAuth only. EC P-256 keys, one day of validity: they live as long as the test.
 */
export function makeEtcdCerts(): EtcdCerts {
  const dir = mkdtempSync(join(tmpdir(), "tskube-etcd-certs-"));
  const key = (name: string) =>
    openssl(
      ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`],
      dir,
    );
  key("ca");
  openssl(
    ["req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=tskube-etcd-ca", "-days", "1", "-out", "ca.crt"],
    dir,
  );
  const issue = (name: string, cn: string, ext: string) => {
    key(name);
    openssl(["req", "-new", "-key", `${name}.key`, "-subj", `/CN=${cn}`, "-out", `${name}.csr`], dir);
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(
      [
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        `${name}.ext`,
        "-out",
        `${name}.crt`,
      ],
      dir,
    );
  };
  issue(
    "server",
    "etcd",
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n",
  );
  issue("client", "kube-apiserver-etcd-client", "keyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n");
  return {
    dir,
    caFile: join(dir, "ca.crt"),
    serverCertFile: join(dir, "server.crt"),
    serverKeyFile: join(dir, "server.key"),
    clientCertFile: join(dir, "client.crt"),
    clientKeyFile: join(dir, "client.key"),
  };
}
