/**
 * Runs a tskube control plane as local processes, without Docker: one etcd (the `etcd` binary on PATH)
 * and the apiservers, started from source with tsx. Output is prefixed per process; Ctrl-C stops
 * everything (SIGTERM, then SIGKILL after --stop-timeout) and exits 0.
 *
 *   pnpm local-up [flags]
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { parseDuration, parseTimingProfile } from "@tskube/machinery";

const FLAGS = {
  "data-dir": { type: "string", default: ".local/etcd", help: "etcd data directory" },
  wipe: { type: "boolean", default: false, help: "delete --data-dir before starting (a fresh cluster)" },
  "etcd-client-port": { type: "string", default: "2379", help: "etcd client port on 127.0.0.1" },
  "etcd-peer-port": { type: "string", default: "2380", help: "etcd peer port on 127.0.0.1" },
  apiservers: { type: "string", default: "2", help: "number of apiservers" },
  "grpc-port": { type: "string", default: "6443", help: "gRPC port of the first apiserver (next ones +1)" },
  "http-port": { type: "string", default: "8080", help: "HTTP port of the first apiserver (next ones +1)" },
  "ready-timeout": { type: "string", default: "60s", help: "how long to wait for readiness" },
  "stop-timeout": { type: "string", default: "10s", help: "SIGTERM grace before SIGKILL" },
  "etcd-log-level": { type: "string", default: "warn", help: "etcd --log-level (debug, info, warn, error)" },
  "restart-delay": { type: "string", default: "1s", help: "wait before restarting a crashed process" },
  profile: {
    type: "string",
    default: "fast",
    help: "--timing-profile of every component: fast (recovery in seconds, as compose) or upstream (Kubernetes' defaults)",
  },
  "dns-port": { type: "string", default: "10053", help: "cluster DNS port on 127.0.0.1 (UDP and TCP)" },
  help: { type: "boolean", default: false, help: "show this help" },
} as const;

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const COLORS = [36, 33, 35, 32, 34, 91, 96];

interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  /** Resolves when the process serves; rejects on timeout. */
  ready: (signal: AbortSignal) => Promise<void>;
}

function usage(): string {
  return `usage: pnpm local-up [flags]\n${Object.entries(FLAGS)
    .map(
      ([name, f]) =>
        `  --${name.padEnd(18)} ${f.help}${f.type === "string" ? ` (default ${f.default})` : ""}`,
    )
    .join("\n")}`;
}

type Flags = { [K in keyof typeof FLAGS]: (typeof FLAGS)[K]["type"] extends "boolean" ? boolean : string };

function readFlags(argv: string[]): Flags {
  const options: ParseArgsConfig["options"] = {};
  for (const [name, f] of Object.entries(FLAGS)) options[name] = { type: f.type, default: f.default };
  return parseArgs({ args: argv, options, strict: true }).values as Flags;
}

function port(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0 || n > 65535)
    throw new Error(`--${name}: not a port: ${JSON.stringify(v)}`);
  return n;
}

function etcdMissing(): boolean {
  const r = spawnSync("etcd", ["--version"], { stdio: "ignore" });
  return r.error !== undefined || r.status !== 0;
}

/** Polls an HTTP endpoint until it answers 2xx: a launcher waiting for a process has nothing to watch. */
async function waitForHttp(url: string, signal: AbortSignal, accept: (body: string) => boolean = () => true) {
  for (;;) {
    signal.throwIfAborted();
    try {
      const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(2000)]) });
      if (res.ok && accept(await res.text())) return;
    } catch (err) {
      if (signal.aborted) throw err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * What local-up tells tools (the chaos controller's process executor) about its processes: each
 * component's current pid, rewritten on every (re)start, and where hold files go. A file in holdDir
 * named after a component keeps a crashed component down until it is removed, as a container that
 * was stopped stays down under compose's restart policy.
 */
export interface LocalUpState {
  pid: number;
  components: Record<string, { pid: number; startedAt: string }>;
  holdDir: string;
  kubeletRootDir: string;
  etcdEndpoints: Record<string, string>;
}

class Supervisor {
  private readonly children = new Map<string, ChildProcess>();
  /** First-start order; a restarted process keeps its place, so shutdown order stays etcd-last. */
  private readonly order: string[] = [];
  private stopping = false;
  private ready = false;
  readonly done: Promise<number>;
  private finish!: (code: number) => void;
  private colorIndex = 0;
  private readonly colors = new Map<string, number>();

  constructor(
    private readonly stopTimeoutMs: number,
    private readonly restartDelayMs: number,
    private readonly width: number,
    private readonly stateFile: string,
    private readonly state: LocalUpState,
  ) {
    this.done = new Promise((r) => {
      this.finish = r;
    });
  }

  private prefix(name: string): string {
    if (!this.colors.has(name)) this.colors.set(name, COLORS[this.colorIndex++ % COLORS.length]!);
    const label = `${name.padEnd(this.width)} |`;
    return process.stdout.isTTY ? `\x1b[${this.colors.get(name)}m${label}\x1b[0m ` : `${label} `;
  }

  say(name: string, text: string): void {
    for (const line of text.split("\n")) process.stdout.write(`${this.prefix(name)}${line}\n`);
  }

  start(spec: ProcessSpec): void {
    // Own process group: a terminal Ctrl-C reaches only this script, which then stops the children in
    // order (apiservers before etcd) instead of all at once.
    const child = spawn(spec.command, spec.args, {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
      env: process.env,
    });
    this.children.set(spec.name, child);
    if (!this.order.includes(spec.name)) this.order.push(spec.name);
    this.state.components[spec.name] = { pid: child.pid ?? 0, startedAt: new Date().toISOString() };
    this.writeState();
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream! }).on("line", (line) => this.say(spec.name, line));
    }
    child.on("error", (err) => this.say(spec.name, `failed to start: ${err.message}`));
    child.on("exit", (code, signal) => {
      if (this.children.get(spec.name) === child) this.children.delete(spec.name);
      if (this.stopping) return;
      this.say(spec.name, `exited (${signal ?? `code ${code}`})`);
      if (!this.ready) {
        this.say("local-up", `${spec.name} exited before the cluster was ready; stopping`);
        void this.stop(1);
        return;
      }
      // As compose's `restart: unless-stopped`: a crash (or a kill -9 to try failover) comes back,
      // unless it is held down (a hold file, as a stopped container) until the hold is removed.
      const restart = () => {
        if (this.stopping) return;
        if (existsSync(join(this.state.holdDir, spec.name))) {
          setTimeout(restart, this.restartDelayMs);
          return;
        }
        this.say(spec.name, "restarting");
        this.start(spec);
      };
      if (existsSync(join(this.state.holdDir, spec.name)))
        this.say(spec.name, "held down until its hold file is removed");
      setTimeout(restart, this.restartDelayMs);
    });
  }

  /** Written whole to a temporary file and renamed, so a reader never sees half a file. */
  private writeState(): void {
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.state, null, 2)}\n`);
    renameSync(tmp, this.stateFile);
  }

  removeState(): void {
    rmSync(this.stateFile, { force: true });
    rmSync(this.state.holdDir, { recursive: true, force: true });
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  markReady(): void {
    this.ready = true;
  }

  private async stopOne(name: string, child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((r) => {
      timer = setTimeout(() => r(true), this.stopTimeoutMs);
    });
    if (await Promise.race([exited.then(() => false), timedOut])) {
      this.say(name, `did not stop within ${this.stopTimeoutMs}ms; sending SIGKILL`);
      child.kill("SIGKILL");
      await exited;
    }
    clearTimeout(timer);
  }

  /** Stops in reverse start order, so the apiservers finish their requests while etcd still serves. */
  async stop(code: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const name of [...this.order].reverse()) {
      const child = this.children.get(name);
      if (child) await this.stopOne(name, child);
    }
    this.removeState();
    this.finish(code);
  }

  /** Last resort when this script itself dies: the children are in their own process groups. */
  killAll(): void {
    for (const child of this.children.values()) child.kill("SIGKILL");
  }
}

async function main(): Promise<number> {
  let flags: Flags;
  try {
    flags = readFlags(process.argv.slice(2));
  } catch (err) {
    console.error(`error: ${(err as Error).message}\n${usage()}`);
    return 2;
  }
  if (flags.help) {
    console.log(usage());
    return 0;
  }
  // The components' own timing table (@tskube/machinery) turns the profile into timer values.
  let profile: string[];
  try {
    profile = [`--timing-profile=${parseTimingProfile(flags.profile)}`];
  } catch (err) {
    console.error(`error: ${(err as Error).message.replace("--timing-profile", "--profile")}\n${usage()}`);
    return 2;
  }
  let cfg: {
    apiservers: number;
    etcdClient: number;
    etcdPeer: number;
    grpc: number;
    http: number;
    readyMs: number;
    stopMs: number;
    restartMs: number;
    dnsPort: number;
  };
  try {
    const apiservers = Number(flags.apiservers);
    if (!Number.isInteger(apiservers) || apiservers < 1) throw new Error("--apiservers: must be at least 1");
    cfg = {
      apiservers,
      etcdClient: port("etcd-client-port", flags["etcd-client-port"]),
      etcdPeer: port("etcd-peer-port", flags["etcd-peer-port"]),
      grpc: port("grpc-port", flags["grpc-port"]),
      http: port("http-port", flags["http-port"]),
      readyMs: parseDuration(flags["ready-timeout"]),
      stopMs: parseDuration(flags["stop-timeout"]),
      restartMs: parseDuration(flags["restart-delay"]),
      dnsPort: port("dns-port", flags["dns-port"]),
    };
  } catch (err) {
    console.error(`error: ${(err as Error).message}\n${usage()}`);
    return 2;
  }

  if (etcdMissing()) {
    console.error(
      [
        "local-up: the `etcd` binary is not on PATH. Install it with one of:",
        "  apt-get install -y etcd-server etcd-client          # Debian/Ubuntu",
        "  brew install etcd                                     # macOS",
        "  https://github.com/etcd-io/etcd/releases              # release tarball: put etcd on PATH",
      ].join("\n"),
    );
    return 1;
  }

  const dataDir = resolve(REPO_ROOT, flags["data-dir"]);
  if (flags.wipe) rmSync(dataDir, { recursive: true, force: true });
  // etcd warns unless its data directory is private.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  const etcdClientUrl = `http://127.0.0.1:${cfg.etcdClient}`;
  const etcdPeerUrl = `http://127.0.0.1:${cfg.etcdPeer}`;
  const specs: ProcessSpec[] = [
    {
      name: "etcd",
      command: "etcd",
      args: [
        "--name=local",
        "--logger=zap",
        `--log-level=${flags["etcd-log-level"]}`,
        `--data-dir=${dataDir}`,
        `--listen-client-urls=${etcdClientUrl}`,
        `--advertise-client-urls=${etcdClientUrl}`,
        `--listen-peer-urls=${etcdPeerUrl}`,
        `--initial-advertise-peer-urls=${etcdPeerUrl}`,
        `--initial-cluster=local=${etcdPeerUrl}`,
      ],
      ready: (signal) => waitForHttp(`${etcdClientUrl}/health`, signal, (b) => b.includes('"true"')),
    },
  ];
  const servers: string[] = [];
  for (let i = 0; i < cfg.apiservers; i++) {
    const grpcAddress = `127.0.0.1:${cfg.grpc + i}`;
    const httpAddress = `127.0.0.1:${cfg.http + i}`;
    servers.push(grpcAddress);
    specs.push({
      name: `apiserver-${i}`,
      command: process.execPath,
      args: [
        "--import",
        "tsx",
        "apps/apiserver/src/main.ts",
        "--etcd-servers",
        etcdClientUrl,
        ...profile,
        "--grpc-address",
        grpcAddress,
        "--http-address",
        httpAddress,
        // A loopback service CIDR: the userspace kube-proxies below can listen on every ClusterIP
        // without root, so Services are reachable from this host at their ClusterIPs.
        "--service-cluster-ip-range",
        "127.96.0.0/16",
      ],
      ready: (signal) => waitForHttp(`http://${httpAddress}/readyz`, signal),
    });
  }

  // Two schedulers, one leader (Lease kube-system/kube-scheduler), as in compose.
  const controlPlane: ProcessSpec[] = [];
  for (let i = 0; i < 2; i++) {
    const httpAddress = `127.0.0.1:${10259 + i}`;
    controlPlane.push({
      name: `scheduler-${i}`,
      command: process.execPath,
      args: [
        "--import",
        "tsx",
        "apps/scheduler/src/main.ts",
        "--server",
        servers.join(","),
        "--http-address",
        httpAddress,
        "--id",
        `scheduler-${i}`,
        ...profile,
      ],
      ready: (signal) => waitForHttp(`http://${httpAddress}/healthz`, signal),
    });
  }
  // Two controller-managers, one leader (Lease kube-system/kube-controller-manager), as in compose.
  for (let i = 0; i < 2; i++) {
    const httpAddress = `127.0.0.1:${10257 + 10 * i}`;
    controlPlane.push({
      name: `controller-manager-${i}`,
      command: process.execPath,
      args: [
        "--import",
        "tsx",
        "apps/controller-manager/src/main.ts",
        "--server",
        servers.join(","),
        "--http-address",
        httpAddress,
        "--id",
        `controller-manager-${i}`,
        ...profile,
      ],
      ready: (signal) => waitForHttp(`http://${httpAddress}/healthz`, signal),
    });
  }
  // Two nodes with the process runtime: containers are local processes, each pod on its own
  // loopback address from the node's pod CIDR. As root the kubelets isolate pods (network
  // namespaces on a per-node bridge, mount namespaces, cgroups), which needs a routable pod CIDR.
  const isolate = process.getuid?.() === 0;
  // Cluster DNS on a loopback port for tools. resolv.conf can only name port 53, so as root it
  // also listens on NodeLocal DNSCache's link-local address (added to lo, reachable from every pod
  // namespace through its bridge) and the kubelets write that into the pods' resolv.conf. Without
  // namespaces pods are host processes with the host's resolv.conf.
  const podDns = "169.254.20.10";
  const addedDnsAddress =
    isolate && spawnSync("ip", ["addr", "add", `${podDns}/32`, "dev", "lo"]).status === 0;
  if (addedDnsAddress)
    process.on("exit", () => spawnSync("ip", ["addr", "del", `${podDns}/32`, "dev", "lo"]));
  controlPlane.push({
    name: "dns",
    command: process.execPath,
    args: [
      "--import",
      "tsx",
      "apps/dns/src/main.ts",
      "--server",
      servers.join(","),
      "--listen-address",
      [`127.0.0.1:${cfg.dnsPort}`, ...(isolate ? [`${podDns}:53`] : [])].join(","),
      "--http-address",
      "127.0.0.1:9153",
    ],
    ready: (signal) => waitForHttp("http://127.0.0.1:9153/readyz", signal),
  });
  for (let i = 0; i < 2; i++) {
    const httpAddress = `127.0.0.1:${10248 - 2 * i}`;
    controlPlane.push({
      name: `kubelet-${i + 1}`,
      command: process.execPath,
      args: [
        "--import",
        "tsx",
        "apps/kubelet/src/main.ts",
        "--server",
        servers.join(","),
        "--node-name",
        `node-${i + 1}`,
        ...profile,
        "--pod-cidr",
        isolate ? `10.244.${i + 1}.0/24` : `127.${i + 1}.0.0/16`,
        // Insist: without namespaces a 10.244 pod address would be on no interface at all.
        "--process-isolation",
        isolate ? "namespaces" : "none",
        "--port",
        String(10250 + i),
        "--http-address",
        httpAddress,
        "--root-dir",
        resolve(dataDir, "..", "kubelet"),
        ...(isolate ? ["--cluster-dns", podDns] : []),
      ],
      ready: (signal) => waitForHttp(`http://${httpAddress}/healthz`, signal),
    });
  }
  // A userspace kube-proxy per node. Both share this host, so the first to bind a ClusterIP or
  // NodePort (on 127.0.0.1) serves it and the other stands by, taking over on its next sync.
  for (let i = 0; i < 2; i++) {
    const httpAddress = `127.0.0.1:${10256 - 2 * i}`;
    controlPlane.push({
      name: `kube-proxy-${i + 1}`,
      command: process.execPath,
      args: [
        "--import",
        "tsx",
        "apps/kube-proxy/src/main.ts",
        "--server",
        servers.join(","),
        "--proxy-mode",
        "userspace",
        "--hostname-override",
        `node-${i + 1}`,
        "--nodeport-addresses",
        "127.0.0.1/32",
        "--http-address",
        httpAddress,
      ],
      ready: (signal) => waitForHttp(`http://${httpAddress}/readyz`, signal),
    });
  }
  specs.push(...controlPlane);

  // Beside the etcd data directory, as the kubelets' root directory.
  const stateFile = resolve(dataDir, "..", "local-up.json");
  const holdDir = resolve(dataDir, "..", "local-up-hold");
  rmSync(holdDir, { recursive: true, force: true });
  const sup = new Supervisor(
    cfg.stopMs,
    cfg.restartMs,
    Math.max(8, ...specs.map((s) => s.name.length)),
    stateFile,
    {
      pid: process.pid,
      components: {},
      holdDir,
      kubeletRootDir: resolve(dataDir, "..", "kubelet"),
      etcdEndpoints: { etcd: etcdClientUrl },
    },
  );
  process.on("exit", () => sup.killAll());
  let interrupted = false;
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      if (interrupted) return;
      interrupted = true;
      sup.say("local-up", `${sig}: stopping`);
      void sup.stop(0);
    });
  }

  const abort = new AbortController();
  void sup.done.then(() => abort.abort());
  const deadline = AbortSignal.any([abort.signal, AbortSignal.timeout(cfg.readyMs)]);
  try {
    // etcd first: the apiservers need it to become ready; they themselves can start together.
    sup.start(specs[0]!);
    await specs[0]!.ready(deadline);
    const apiservers = specs.slice(1, 1 + cfg.apiservers);
    for (const s of apiservers) sup.start(s);
    await Promise.all(apiservers.map((s) => s.ready(deadline)));
    for (const s of controlPlane) sup.start(s);
    await Promise.all(controlPlane.map((s) => s.ready(deadline)));
  } catch {
    if (!sup.isStopping) {
      sup.say("local-up", `not ready within ${flags["ready-timeout"]}; stopping`);
      await sup.stop(1);
    }
    return sup.done;
  }
  sup.markReady();
  sup.say(
    "local-up",
    [
      "cluster is ready",
      `  apiservers (gRPC): ${servers.join(", ")}`,
      `  HTTP /healthz /readyz /metrics: ${servers.map((_, i) => `http://127.0.0.1:${cfg.http + i}`).join(", ")}`,
      `  etcd: ${etcdClientUrl} (data in ${dataDir})`,
      "  schedulers: scheduler-0, scheduler-1 (leader in lease kube-system/kube-scheduler)",
      "  controller-managers: controller-manager-0, controller-manager-1 (leader in lease kube-system/kube-controller-manager)",
      `  nodes: node-1, node-2 (kubelets with the process runtime${isolate ? "; pods in network namespaces on 10.244.1.0/24 and 10.244.2.0/24" : ""})`,
      `  dns: 127.0.0.1:${cfg.dnsPort}${isolate ? ` and ${podDns}:53 (the pods' nameserver)` : ""}`,
      "  kube-proxies: kube-proxy-1, kube-proxy-2 (userspace; Services at their 127.96.0.0/16 ClusterIPs and at 127.0.0.1:<nodePort>)",
      `  process ids: ${stateFile}`,
      "use it with ktl:",
      `  export TSKUBE_SERVER=${servers.join(",")}`,
      "  pnpm ktl get namespaces",
      "  pnpm ktl apply -f test/e2e/fixtures/nginx.yaml",
      "Ctrl-C stops everything",
    ].join("\n"),
  );
  return sup.done;
}

process.exitCode = await main();
