import { afterEach, describe, expect, it } from "vitest";
import type { Deployment } from "../gen/tskube/v1/apps.js";
import type { Pod } from "../gen/tskube/v1/core.js";
import { DEFAULT_PROBE_PERIOD_SECONDS, setDefaultProbePeriodSeconds } from "./pod.js";
import { admit } from "./testing.js";

const POD = `
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: web
    image: nginx:1.27
    livenessProbe: {tcpSocket: {port: 80}}
    readinessProbe: {tcpSocket: {port: 80}, periodSeconds: 7}
    startupProbe: {tcpSocket: {port: 80}}
`;

const DEPLOYMENT = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        readinessProbe: {httpGet: {port: 80}}
`;

/** The apiserver's timing profile sets the period an absent probe period gets (the fast profile: 2). */
describe("probe periodSeconds default", () => {
  afterEach(() => setDefaultProbePeriodSeconds(DEFAULT_PROBE_PERIOD_SECONDS));

  it("is Kubernetes' 10 unless the apiserver sets another", () => {
    const c = admit<Pod>(POD).obj.spec!.containers[0]!;
    expect(c.livenessProbe?.periodSeconds).toBe(10);
    expect(c.startupProbe?.periodSeconds).toBe(10);
  });

  it("fills absent periods of pods and pod templates from the setting, keeping the manifest's", () => {
    setDefaultProbePeriodSeconds(2);
    const { obj, errors } = admit<Pod>(POD);
    expect(errors).toEqual([]);
    const c = obj.spec!.containers[0]!;
    expect(c.livenessProbe?.periodSeconds).toBe(2);
    expect(c.startupProbe?.periodSeconds).toBe(2);
    expect(c.readinessProbe?.periodSeconds).toBe(7);
    const d = admit<Deployment>(DEPLOYMENT).obj;
    expect(d.spec!.template!.spec!.containers[0]!.readinessProbe?.periodSeconds).toBe(2);
  });

  it("refuses a period below one second", () => {
    expect(() => setDefaultProbePeriodSeconds(0)).toThrow(/>= 1/);
    expect(() => setDefaultProbePeriodSeconds(1.5)).toThrow(/whole number/);
  });
});
