import { type KindInfo, type KubeObject, type Pod, podKind, Toleration } from "@tskube/api";

/**
 * A mutating admission step on create (Kubernetes' admission.MutationInterface): it runs after
 * defaulting and before validation, so what it adds is validated like what the client sent.
 */
export type AdmitFunc = (obj: KubeObject, kind: KindInfo) => void;

export interface AdmissionOptions {
  /** --default-not-ready-toleration-seconds (300). */
  defaultNotReadyTolerationSeconds: number;
  /** --default-unreachable-toleration-seconds (300). */
  defaultUnreachableTolerationSeconds: number;
}

export const ADMISSION_DEFAULTS: AdmissionOptions = {
  defaultNotReadyTolerationSeconds: 300,
  defaultUnreachableTolerationSeconds: 300,
};

const TAINT_NODE_NOT_READY = "node.kubernetes.io/not-ready";
const TAINT_NODE_UNREACHABLE = "node.kubernetes.io/unreachable";

/**
 * Kubernetes' DefaultTolerationSeconds plugin: a pod that does not already tolerate the
 * not-ready / unreachable NoExecute taints tolerates each for a bounded time, so that a pod on a
 * node that stops answering is evicted (and replaced elsewhere) after that time rather than at
 * once — a node that blips keeps its pods.
 */
export function defaultTolerationSeconds(opts: AdmissionOptions): AdmitFunc {
  return (obj, kind) => {
    if (kind !== podKind) return;
    const pod = obj as Pod;
    if (!pod.spec) return;
    addToleration(pod.spec.tolerations, TAINT_NODE_NOT_READY, opts.defaultNotReadyTolerationSeconds);
    addToleration(pod.spec.tolerations, TAINT_NODE_UNREACHABLE, opts.defaultUnreachableTolerationSeconds);
  };
}

// Plain loops and module-level helpers: this runs on every pod create, and closures made per call
// each cost a defineProperty under the dev loader's keep-names transform.
function addToleration(tolerations: Toleration[], key: string, seconds: number): void {
  for (const t of tolerations)
    if ((t.key === key || t.key === "") && (t.effect === "NoExecute" || t.effect === "")) return;
  tolerations.push(
    Toleration.fromPartial({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: seconds }),
  );
}

/** The admission chain of this apiserver: every plugin in order. */
export function admissionChain(opts: AdmissionOptions = ADMISSION_DEFAULTS): AdmitFunc {
  const plugins = [defaultTolerationSeconds(opts)];
  return (obj, kind) => {
    for (const admit of plugins) admit(obj, kind);
  };
}
