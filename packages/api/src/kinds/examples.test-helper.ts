/**
 * One small, valid manifest per served kind, as a user would write it. The kind-walk tests (unit
 * and integration) fail for a kind in KINDS that has no example here, so a new kind brings one.
 */
export const KIND_EXAMPLES: Readonly<Record<string, string>> = {
  Namespace: `
apiVersion: v1
kind: Namespace
metadata: { name: walk }
`,
  Pod: `
apiVersion: v1
kind: Pod
metadata: { name: web, labels: { app: web } }
spec:
  containers: [{ name: web, image: nginx:1.27, ports: [{ containerPort: 80 }] }]
`,
  Node: `
apiVersion: v1
kind: Node
metadata: { name: walk-node, labels: { node-role.kubernetes.io/worker: "" } }
spec: { podCIDR: 10.244.9.0/24 }
`,
  Service: `
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080 }]
`,
  Endpoints: `
apiVersion: v1
kind: Endpoints
metadata: { name: web }
subsets:
  - addresses: [{ ip: 10.244.1.5 }]
    ports: [{ port: 8080 }]
`,
  Event: `
apiVersion: v1
kind: Event
metadata: { name: web.walk }
involvedObject: { kind: Pod, name: web, namespace: default }
reason: Scheduled
message: Successfully assigned default/web to walk-node
`,
  ConfigMap: `
apiVersion: v1
kind: ConfigMap
metadata: { name: settings }
data: { mode: fast }
`,
  Secret: `
apiVersion: v1
kind: Secret
metadata: { name: token }
stringData: { token: s3cr3t }
`,
  ReplicaSet: `
apiVersion: apps/v1
kind: ReplicaSet
metadata: { name: web-rs }
spec:
  replicas: 2
  selector: { matchLabels: { app: web-rs } }
  template:
    metadata: { labels: { app: web-rs } }
    spec: { containers: [{ name: web, image: nginx:1.27 }] }
`,
  Deployment: `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web-deploy }
spec:
  replicas: 2
  selector: { matchLabels: { app: web-deploy } }
  template:
    metadata: { labels: { app: web-deploy } }
    spec: { containers: [{ name: web, image: nginx:1.27 }] }
`,
  Lease: `
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: { name: walk-lock }
spec: { holderIdentity: walker, leaseDurationSeconds: 15 }
`,
  Experiment: `
apiVersion: chaos.tskube.io/v1alpha1
kind: Experiment
metadata: { name: pod-kill }
spec: { action: PodKill }
`,
};
