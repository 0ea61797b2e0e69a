import { Deployment, type ExperimentWorkload, Service } from "@tskube/api";
import type { Client } from "@tskube/client";
import { isAlreadyExists, type Selector, selectorFromLabelSelector } from "@tskube/machinery";

export const DEFAULT_WORKLOAD = "chaos-workload";
const PORT = 8080;

export interface ResolvedWorkload {
  namespace: string;
  deployment: string;
  service: string;
  selector: Selector;
  replicas: number;
  nodePort: number;
}

/**
 * The controller's own steady workload: 3 busybox httpd replicas behind a NodePort Service, Ready
 * once their page answers. busybox is the sandbox image, so it is on every node even offline; the
 * server binds the pod's own address, which the process runtime needs (pods share the host there).
 */
export function workloadObjects(
  namespace: string,
  image: string,
): { deployment: Deployment; service: Service } {
  const labels = { app: DEFAULT_WORKLOAD };
  const script =
    'd="/tmp/chaos-www-$POD_IP"; mkdir -p "$d" && echo ok > "$d/index.html" && exec busybox httpd -f -p "$POD_IP:8080" -h "$d"';
  const deployment = Deployment.fromPartial({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: DEFAULT_WORKLOAD, namespace, labels },
    spec: {
      replicas: 3,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: "httpd",
              image,
              imagePullPolicy: "IfNotPresent",
              command: ["sh", "-c", script],
              env: [{ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }],
              ports: [{ containerPort: PORT, protocol: "TCP" }],
              readinessProbe: {
                httpGet: { path: "/", port: String(PORT) },
                periodSeconds: 1,
                timeoutSeconds: 1,
                failureThreshold: 1,
              },
            },
          ],
        },
      },
    },
  });
  const service = Service.fromPartial({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: DEFAULT_WORKLOAD, namespace, labels },
    spec: {
      type: "NodePort",
      selector: labels,
      ports: [{ name: "http", port: 80, targetPort: String(PORT), protocol: "TCP" }],
    },
  });
  return { deployment, service };
}

/** The Deployment and NodePort Service under test; creates the default workload when none is named. */
export async function resolveWorkload(
  client: Pick<Client, "resource">,
  w: ExperimentWorkload | undefined,
  image: string,
): Promise<ResolvedWorkload> {
  const namespace = w?.namespace || "default";
  const own = !w?.deployment;
  if (own) {
    const { deployment, service } = workloadObjects(namespace, image);
    for (const [kind, obj] of [
      ["deployments", deployment],
      ["services", service],
    ] as const) {
      try {
        await client.resource(kind).create(obj);
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
    }
  }
  const name = w?.deployment || DEFAULT_WORKLOAD;
  const svcName = w?.service || (own ? DEFAULT_WORKLOAD : name);
  const d = await client.resource<Deployment>("deployments").get(name, { namespace });
  const svc = await client.resource<Service>("services").get(svcName, { namespace });
  const nodePort = svc.spec?.ports?.find((p) => p.nodePort)?.nodePort ?? 0;
  if (!nodePort)
    throw new Error(
      `spec.workload.service: Invalid value: "${svcName}": service ${namespace}/${svcName} has no node port`,
    );
  return {
    namespace,
    deployment: name,
    service: svcName,
    selector: selectorFromLabelSelector(d.spec?.selector),
    replicas: d.spec?.replicas ?? 1,
    nodePort,
  };
}
