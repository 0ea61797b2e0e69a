import { describe, expect, it } from "vitest";
import type { Deployment, ReplicaSet } from "../gen/tskube/v1/apps.js";
import { KINDS } from "../kinds.js";
import { admit, update } from "./testing.js";

// The Deployment from the Kubernetes docs ("Deployments" concept page).
const NGINX_DEPLOYMENT = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-deployment
  labels:
    app: nginx
spec:
  replicas: 3
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:1.14.2
        ports:
        - containerPort: 80
`;

// The ReplicaSet from the Kubernetes docs ("ReplicaSet" concept page).
const FRONTEND_RS = `
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: frontend
  labels:
    app: guestbook
    tier: frontend
spec:
  replicas: 3
  selector:
    matchLabels:
      tier: frontend
  template:
    metadata:
      labels:
        tier: frontend
    spec:
      containers:
      - name: php-redis
        image: us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v5
`;

const deploymentErrors = (yaml: string) => admit<Deployment>(yaml).errors;

describe("deployment defaults", () => {
  it("rolls out with 25% surge and unavailability and keeps ten revisions", () => {
    const { obj, errors } = admit<Deployment>(NGINX_DEPLOYMENT);
    expect(errors).toEqual([]);
    const spec = obj.spec!;
    expect(spec.replicas).toBe(3);
    expect(spec.strategy).toMatchObject({
      type: "RollingUpdate",
      rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" },
    });
    expect(spec.revisionHistoryLimit).toBe(10);
    expect(spec.progressDeadlineSeconds).toBe(600);
    // The template gets the pod defaults.
    expect(spec.template?.spec).toMatchObject({
      restartPolicy: "Always",
      dnsPolicy: "ClusterFirst",
      schedulerName: "default-scheduler",
    });
    expect(spec.template?.spec?.containers[0]).toMatchObject({
      imagePullPolicy: "IfNotPresent",
      terminationMessagePath: "/dev/termination-log",
    });
  });

  it("defaults replicas to 1, labels from the template, and no rolling update for Recreate", () => {
    const { obj, errors } = admit<Deployment>(
      NGINX_DEPLOYMENT.replace("  replicas: 3\n", "  strategy:\n    type: Recreate\n").replace(
        "  labels:\n    app: nginx\nspec",
        "spec",
      ),
    );
    expect(errors).toEqual([]);
    expect(obj.spec?.replicas).toBe(1);
    expect(obj.spec?.strategy).toMatchObject({ type: "Recreate", rollingUpdate: undefined });
    expect(obj.metadata?.labels).toEqual({ app: "nginx" });
  });

  it("keeps explicit values, zero included", () => {
    const { obj } = admit<Deployment>(
      NGINX_DEPLOYMENT.replace(
        "replicas: 3",
        "replicas: 0\n  revisionHistoryLimit: 0\n  strategy:\n    rollingUpdate:\n      maxSurge: 1\n      maxUnavailable: 0",
      ),
    );
    expect(obj.spec?.replicas).toBe(0);
    expect(obj.spec?.revisionHistoryLimit).toBe(0);
    expect(obj.spec?.strategy?.rollingUpdate).toMatchObject({ maxSurge: "1", maxUnavailable: "0" });
  });
});

describe("deployment validation", () => {
  it("rejects negative replicas", () => {
    expect(deploymentErrors(NGINX_DEPLOYMENT.replace("replicas: 3", "replicas: -1"))).toEqual([
      "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
    ]);
  });

  it("requires a selector that matches the template's labels", () => {
    expect(
      deploymentErrors(
        NGINX_DEPLOYMENT.replace("      labels:\n        app: nginx", "      labels:\n        app: x"),
      ),
    ).toEqual([
      'spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: `selector` does not match template `labels`',
    ]);
    expect(
      deploymentErrors(
        NGINX_DEPLOYMENT.replace("    matchLabels:\n      app: nginx\n", "    matchLabels: {}\n"),
      ),
    ).toEqual([
      "spec.selector: Invalid value: &v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment",
    ]);
    expect(
      deploymentErrors(NGINX_DEPLOYMENT.replace("  selector:\n    matchLabels:\n      app: nginx\n", "")),
    ).toEqual(["spec.selector: Required value"]);
    expect(
      deploymentErrors(
        NGINX_DEPLOYMENT.replace(
          "    matchLabels:\n      app: nginx\n",
          "    matchExpressions:\n    - {key: app, operator: Like, values: [nginx]}\n",
        ),
      ),
    ).toEqual([
      'spec.selector.matchExpressions[0].operator: Invalid value: "Like": not a valid selector operator',
    ]);
  });

  it("reports a mismatch even alongside other errors", () => {
    expect(
      deploymentErrors(
        NGINX_DEPLOYMENT.replace("replicas: 3", "replicas: -2").replace(
          "      labels:\n        app: nginx",
          "      labels:\n        app: x\n        tier: web",
        ),
      ),
    ).toEqual([
      "spec.replicas: Invalid value: -2: must be greater than or equal to 0",
      'spec.template.metadata.labels: Invalid value: map[string]string{"app":"x", "tier":"web"}: `selector` does not match template `labels`',
    ]);
  });

  it("checks the strategy", () => {
    const strategy = (s: string) =>
      deploymentErrors(NGINX_DEPLOYMENT.replace("  replicas: 3\n", `  replicas: 3\n  strategy:\n${s}`));
    expect(strategy("    type: Canary\n")).toEqual([
      'spec.strategy.type: Unsupported value: "Canary": supported values: "Recreate", "RollingUpdate"',
    ]);
    expect(strategy("    type: Recreate\n    rollingUpdate:\n      maxSurge: 1\n")).toEqual([
      "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
    ]);
    expect(strategy("    rollingUpdate:\n      maxSurge: 0\n      maxUnavailable: 0%\n")).toEqual([
      'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0%": may not be 0 when `maxSurge` is 0',
    ]);
    expect(strategy("    rollingUpdate:\n      maxSurge: -1\n")).toEqual([
      "spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0",
    ]);
    expect(strategy("    rollingUpdate:\n      maxUnavailable: 150%\n")).toEqual([
      'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%',
    ]);
    expect(strategy("    rollingUpdate:\n      maxSurge: lots\n")).toEqual([
      `spec.strategy.rollingUpdate.maxSurge: Invalid value: "lots": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')`,
    ]);
  });

  it("validates the pod template at its own path and only allows restartPolicy Always", () => {
    expect(
      deploymentErrors(
        NGINX_DEPLOYMENT.replace(
          "      containers:",
          "      restartPolicy: OnFailure\n      containers:",
        ).replace("image: nginx:1.14.2", 'image: ""'),
      ),
    ).toEqual([
      "spec.template.spec.containers[0].image: Required value",
      'spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"',
    ]);
  });

  it("needs a progress deadline longer than minReadySeconds", () => {
    expect(
      deploymentErrors(NGINX_DEPLOYMENT.replace("replicas: 3", "replicas: 3\n  minReadySeconds: 600")),
    ).toEqual(["spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"]);
  });

  it("keeps the selector immutable on update, while the template may change", () => {
    const { obj } = admit<Deployment>(NGINX_DEPLOYMENT);
    expect(update(obj, (d) => (d.spec!.template!.spec!.containers[0]!.image = "nginx:1.16.1"))).toEqual([]);
    expect(update(obj, (d) => (d.spec!.replicas = 10))).toEqual([]);
    expect(
      update(obj, (d) => {
        d.spec!.selector!.matchLabels = { app: "web" };
        d.spec!.template!.metadata!.labels = { app: "web" };
      }),
    ).toEqual([
      'spec.selector: Invalid value: &v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable',
    ]);
  });

  it("bounds status counts", () => {
    const { obj } = admit<Deployment>(NGINX_DEPLOYMENT);
    const s = KINDS.find((k) => k.kind === "Deployment")!.strategy;
    const next = structuredClone(obj);
    next.status = {
      $type: "tskube.v1.DeploymentStatus",
      observedGeneration: 1,
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 2,
      availableReplicas: 3,
      unavailableReplicas: -1,
      conditions: [],
      collisionCount: undefined,
    };
    expect(s.validateStatusUpdate(next, obj).map(String)).toEqual([
      "status.unavailableReplicas: Invalid value: -1: must be greater than or equal to 0",
      "status.availableReplicas: Invalid value: 3: cannot be greater than readyReplicas",
    ]);
  });
});

describe("replica sets", () => {
  it("admits the docs' frontend with defaults", () => {
    const { obj, errors } = admit<ReplicaSet>(FRONTEND_RS);
    expect(errors).toEqual([]);
    expect(obj.spec?.template?.spec?.restartPolicy).toBe("Always");
    // A ":v5" tag is pinned, so the image is pulled only when missing.
    expect(obj.spec?.template?.spec?.containers[0]?.imagePullPolicy).toBe("IfNotPresent");
  });

  it("checks replicas, selector and template as deployments do", () => {
    expect(admit(FRONTEND_RS.replace("replicas: 3", "replicas: -1")).errors).toEqual([
      "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
    ]);
    expect(admit(FRONTEND_RS.replace("        tier: frontend", "        tier: backend")).errors).toEqual([
      'spec.template.metadata.labels: Invalid value: map[string]string{"tier":"backend"}: `selector` does not match template `labels`',
    ]);
    expect(
      admit(FRONTEND_RS.replace("      containers:", "      activeDeadlineSeconds: 5\n      containers:"))
        .errors,
    ).toEqual([
      "spec.template.spec.activeDeadlineSeconds: Invalid value: 5: activeDeadlineSeconds in ReplicaSet is not Supported",
    ]);
  });

  it("keeps the selector immutable and selects on status.replicas", () => {
    const { obj } = admit<ReplicaSet>(FRONTEND_RS);
    const narrower = update(obj, (rs) => {
      rs.spec!.selector!.matchLabels = { tier: "frontend", app: "guestbook" };
      rs.spec!.template!.metadata!.labels = { tier: "frontend", app: "guestbook" };
    });
    expect(narrower).toHaveLength(1);
    expect(narrower[0]).toMatch(/^spec\.selector: Invalid value: .*field is immutable$/);
    const s = KINDS.find((k) => k.kind === "ReplicaSet")!.strategy;
    expect(s.selectableFields(KINDS.find((k) => k.kind === "ReplicaSet")!.messageType.create())).toEqual({
      "status.replicas": "0",
    });
    const next = structuredClone(obj);
    next.status = {
      $type: "tskube.v1.ReplicaSetStatus",
      replicas: 2,
      fullyLabeledReplicas: 2,
      readyReplicas: 3,
      availableReplicas: 1,
      observedGeneration: 1,
      conditions: [],
    };
    expect(s.validateStatusUpdate(next, obj).map(String)).toEqual([
      "status.readyReplicas: Invalid value: 3: cannot be greater than status.replicas",
    ]);
  });
});
