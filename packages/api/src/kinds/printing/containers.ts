import type { PodTemplateSpec } from "../../gen/tskube/v1/apps.js";
import type { Container } from "../../gen/tskube/v1/core.js";
import { Writer } from "./describe-writer.js";

/** The containers of a pod spec under `title`, as kubectl's describers print them. */
export function containers(w: Writer, title: string, list: readonly Container[], indent: number): void {
  if (!list.length) return;
  w.line(indent, `${title}:`);
  for (const c of list) {
    w.line(indent + 1, `${c.name}:`);
    w.line(indent + 2, "Image", c.image);
    const ports = c.ports.map((p) => `${p.containerPort}/${p.protocol}`);
    w.line(indent + 2, "Port", ports.length ? ports.join(", ") : "<none>");
    if (c.command.length) {
      w.line(indent + 2, "Command:");
      for (const x of c.command) w.raw(`${"  ".repeat(indent + 3)}${x}`);
    }
    if (c.args.length) {
      w.line(indent + 2, "Args:");
      for (const x of c.args) w.raw(`${"  ".repeat(indent + 3)}${x}`);
    }
    const lim = Object.entries(c.resources?.limits ?? {});
    const req = Object.entries(c.resources?.requests ?? {});
    if (lim.length) {
      w.line(indent + 2, "Limits:");
      for (const [k, v] of lim) w.line(indent + 3, k, v);
    }
    if (req.length) {
      w.line(indent + 2, "Requests:");
      for (const [k, v] of req) w.line(indent + 3, k, v);
    }
    if (c.livenessProbe) w.line(indent + 2, "Liveness", probe(c.livenessProbe));
    if (c.readinessProbe) w.line(indent + 2, "Readiness", probe(c.readinessProbe));
    if (c.env.length) {
      w.line(indent + 2, "Environment:");
      for (const e of c.env) {
        const from = e.valueFrom?.fieldRef
          ? ` (${e.valueFrom.fieldRef.apiVersion || "v1"}:${e.valueFrom.fieldRef.fieldPath})`
          : e.valueFrom?.configMapKeyRef
            ? `<set to the key '${e.valueFrom.configMapKeyRef.key}' of config map '${e.valueFrom.configMapKeyRef.name}'>`
            : e.valueFrom?.secretKeyRef
              ? `<set to the key '${e.valueFrom.secretKeyRef.key}' in secret '${e.valueFrom.secretKeyRef.name}'>`
              : "";
        w.raw(`${"  ".repeat(indent + 3)}${e.name}:  ${e.value}${from}`);
      }
    } else w.line(indent + 2, "Environment", "<none>");
    const mounts = c.volumeMounts.map((m) => `${m.mountPath} from ${m.name} (${m.readOnly ? "ro" : "rw"})`);
    if (mounts.length) {
      w.line(indent + 2, "Mounts:");
      for (const m of mounts) w.raw(`${"  ".repeat(indent + 3)}${m}`);
    } else w.line(indent + 2, "Mounts", "<none>");
  }
}

function probe(p: NonNullable<Container["livenessProbe"]>): string {
  const how = p.httpGet
    ? `http-get ${p.httpGet.scheme.toLowerCase() || "http"}://${p.httpGet.host || ":"}${p.httpGet.host ? ":" : ""}${p.httpGet.port}${p.httpGet.path}`
    : p.tcpSocket
      ? `tcp-socket :${p.tcpSocket.port}`
      : p.exec
        ? `exec [${p.exec.command.join(" ")}]`
        : "unknown";
  return `${how} delay=${p.initialDelaySeconds}s timeout=${p.timeoutSeconds}s period=${p.periodSeconds}s #success=${p.successThreshold} #failure=${p.failureThreshold}`;
}

/** A pod template as describe prints it under "Pod Template:" (rollout history --revision too). */
export function describePodTemplate(template: PodTemplateSpec | undefined): string {
  const w = new Writer();
  w.line(0, "Pod Template:");
  w.map(1, "Labels", template?.metadata?.labels);
  const annotations = template?.metadata?.annotations ?? {};
  if (Object.keys(annotations).length) w.map(1, "Annotations", annotations);
  containers(w, "Containers", template?.spec?.containers ?? [], 1);
  return w.toString();
}
