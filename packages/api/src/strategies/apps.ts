import {
  type FieldError,
  field,
  isIntValue,
  isValidPercent,
  selectorFromLabelSelector,
} from "@tskube/machinery";
import type {
  Deployment,
  DeploymentStrategy,
  PodTemplateSpec,
  ReplicaSet,
  RollingUpdateDeployment,
} from "../gen/tskube/v1/apps.js";
import type { LabelSelector } from "../gen/tskube/v1/meta.js";
import { canonicalJson } from "./canonical.js";
import { defineStrategy } from "./define-strategy.js";
import {
  goLabelSelector,
  goStringMap,
  invalidGoValue,
  validateObjectMeta,
  validateObjectMetaUpdate,
  validateTemplateMeta,
} from "./meta.js";
import { defaultPodSpec, validatePodSpec } from "./pod.js";
import { validateLabelSelector } from "./selector.js";
import type { Strategy } from "./types.js";

const nonNegative = (path: string, v: number | undefined): FieldError[] =>
  v !== undefined && v < 0 ? [field.invalid(path, v, "must be greater than or equal to 0")] : [];

/**
 * The shared spec rules of ReplicaSet and Deployment (ValidateReplicaSetSpec /
 * ValidateDeploymentSpec): replicas ≥ 0, a non-empty valid selector, and a pod template whose
 * labels the selector matches and whose pods restart Always.
 */
export function validateSelectorAndTemplate(
  selector: LabelSelector | undefined,
  template: PodTemplateSpec | undefined,
  replicas: number | undefined,
): FieldError[] {
  const errs: FieldError[] = [];
  errs.push(...nonNegative("spec.replicas", replicas));
  let selectorOk = false;
  if (!selector) errs.push(field.required("spec.selector", ""));
  else {
    const selectorErrs = validateLabelSelector(selector, "spec.selector");
    errs.push(...selectorErrs);
    if (Object.keys(selector.matchLabels).length + selector.matchExpressions.length === 0) {
      errs.push(
        invalidGoValue(
          "spec.selector",
          goLabelSelector(selector),
          "empty selector is invalid for deployment",
        ),
      );
    } else selectorOk = selectorErrs.length === 0;
  }
  if (!template) {
    errs.push(field.required("spec.template", ""));
    return errs;
  }
  const labels = template.metadata?.labels ?? {};
  if (selector && selectorOk && !selectorFromLabelSelector(selector).matches(labels)) {
    errs.push(
      invalidGoValue(
        "spec.template.metadata.labels",
        goStringMap(labels),
        "`selector` does not match template `labels`",
      ),
    );
  }
  errs.push(...validateTemplateMeta(template.metadata, "spec.template.metadata"));
  errs.push(...validatePodSpec(template.spec, "spec.template.spec"));
  const spec = template.spec;
  if (spec?.restartPolicy && spec.restartPolicy !== "Always") {
    errs.push(field.notSupported("spec.template.spec.restartPolicy", spec.restartPolicy, ["Always"]));
  }
  if (spec?.activeDeadlineSeconds !== undefined) {
    errs.push(
      field.invalid(
        "spec.template.spec.activeDeadlineSeconds",
        spec.activeDeadlineSeconds,
        "activeDeadlineSeconds in ReplicaSet is not Supported",
      ),
    );
  }
  return errs;
}

function selectorImmutable(
  selector: LabelSelector | undefined,
  old: LabelSelector | undefined,
): FieldError[] {
  return canonicalJson(selector) === canonicalJson(old)
    ? []
    : [invalidGoValue("spec.selector", goLabelSelector(selector), "field is immutable")];
}

/** Labels default to the template's when the object has none (SetDefaults_ReplicaSet/Deployment). */
function defaultLabelsFromTemplate(obj: ReplicaSet | Deployment): void {
  const labels = obj.spec?.template?.metadata?.labels;
  if (obj.metadata && labels && Object.keys(obj.metadata.labels).length === 0) {
    obj.metadata.labels = { ...labels };
  }
}

export const replicaSetStrategy: Strategy<ReplicaSet> = defineStrategy<ReplicaSet>({
  applyDefaults(rs) {
    if (!rs.spec) return;
    rs.spec.replicas ??= 1;
    defaultLabelsFromTemplate(rs);
    defaultPodSpec(rs.spec.template?.spec);
  },
  validate(rs) {
    const errs = validateObjectMeta(rs.metadata, true);
    if (!rs.spec) return [...errs, field.required("spec", "")];
    errs.push(...validateSelectorAndTemplate(rs.spec.selector, rs.spec.template, rs.spec.replicas));
    errs.push(...nonNegative("spec.minReadySeconds", rs.spec.minReadySeconds));
    return errs;
  },
  validateUpdate(rs, old) {
    return [
      ...replicaSetStrategy.validate(rs),
      ...validateObjectMetaUpdate(rs.metadata, old.metadata),
      ...selectorImmutable(rs.spec?.selector, old.spec?.selector),
    ];
  },
  validateStatusUpdate(rs, old) {
    const errs = validateObjectMetaUpdate(rs.metadata, old.metadata);
    const s = rs.status;
    if (!s) return errs;
    errs.push(
      ...nonNegative("status.replicas", s.replicas),
      ...nonNegative("status.fullyLabeledReplicas", s.fullyLabeledReplicas),
      ...nonNegative("status.readyReplicas", s.readyReplicas),
      ...nonNegative("status.availableReplicas", s.availableReplicas),
      ...nonNegative("status.observedGeneration", s.observedGeneration),
    );
    const cap = (path: string, v: number, what: string, max: number) => {
      if (v > max) errs.push(field.invalid(path, v, `cannot be greater than ${what}`));
    };
    cap("status.fullyLabeledReplicas", s.fullyLabeledReplicas, "status.replicas", s.replicas);
    cap("status.readyReplicas", s.readyReplicas, "status.replicas", s.replicas);
    cap("status.availableReplicas", s.availableReplicas, "status.replicas", s.replicas);
    cap("status.availableReplicas", s.availableReplicas, "readyReplicas", s.readyReplicas);
    return errs;
  },
  selectableFields(rs) {
    return { "status.replicas": String(rs.status?.replicas ?? 0) };
  },
});

const STRATEGY_TYPES = ["Recreate", "RollingUpdate"];

/** IntOrString fields of a rolling update: a non-negative integer or a valid percentage. */
function validatePositiveIntOrPercent(value: string, path: string): FieldError[] {
  if (isIntValue(value)) return nonNegative(path, Number(value));
  return isValidPercent(value).map((e) => field.invalid(path, value, e));
}

const intOrPercentValue = (v: string): number => Number(v.endsWith("%") ? v.slice(0, -1) : v);

function validateRollingUpdate(ru: RollingUpdateDeployment, path: string): FieldError[] {
  const errs = [
    ...validatePositiveIntOrPercent(ru.maxUnavailable, `${path}.maxUnavailable`),
    ...validatePositiveIntOrPercent(ru.maxSurge, `${path}.maxSurge`),
  ];
  if (intOrPercentValue(ru.maxUnavailable) === 0 && intOrPercentValue(ru.maxSurge) === 0) {
    errs.push(
      field.invalid(`${path}.maxUnavailable`, ru.maxUnavailable, "may not be 0 when `maxSurge` is 0"),
    );
  }
  if (ru.maxUnavailable.endsWith("%") && intOrPercentValue(ru.maxUnavailable) > 100) {
    errs.push(field.invalid(`${path}.maxUnavailable`, ru.maxUnavailable, "must not be greater than 100%"));
  }
  return errs;
}

function validateDeploymentStrategy(s: DeploymentStrategy | undefined, path: string): FieldError[] {
  switch (s?.type) {
    case "Recreate":
      return s.rollingUpdate
        ? [
            field.forbidden(
              `${path}.rollingUpdate`,
              "may not be specified when strategy `type` is 'Recreate'",
            ),
          ]
        : [];
    case "RollingUpdate":
      return s.rollingUpdate
        ? validateRollingUpdate(s.rollingUpdate, `${path}.rollingUpdate`)
        : [field.required(`${path}.rollingUpdate`, "this should be defaulted and never be nil")];
    default:
      return [field.notSupported(`${path}.type`, s?.type ?? "", STRATEGY_TYPES)];
  }
}

export const deploymentStrategy: Strategy<Deployment> = defineStrategy<Deployment>({
  applyDefaults(d) {
    if (!d.spec) return;
    const spec = d.spec;
    spec.replicas ??= 1;
    spec.revisionHistoryLimit ??= 10;
    spec.progressDeadlineSeconds ??= 600;
    spec.strategy ??= { $type: "tskube.v1.DeploymentStrategy", type: "", rollingUpdate: undefined };
    spec.strategy.type ||= "RollingUpdate";
    if (spec.strategy.type === "RollingUpdate") {
      spec.strategy.rollingUpdate ??= {
        $type: "tskube.v1.RollingUpdateDeployment",
        maxSurge: "",
        maxUnavailable: "",
      };
      spec.strategy.rollingUpdate.maxSurge ||= "25%";
      spec.strategy.rollingUpdate.maxUnavailable ||= "25%";
    }
    defaultLabelsFromTemplate(d);
    defaultPodSpec(spec.template?.spec);
  },
  validate(d) {
    const errs = validateObjectMeta(d.metadata, true);
    if (!d.spec) return [...errs, field.required("spec", "")];
    const spec = d.spec;
    errs.push(...validateSelectorAndTemplate(spec.selector, spec.template, spec.replicas));
    errs.push(...validateDeploymentStrategy(spec.strategy, "spec.strategy"));
    errs.push(...nonNegative("spec.minReadySeconds", spec.minReadySeconds));
    errs.push(...nonNegative("spec.revisionHistoryLimit", spec.revisionHistoryLimit));
    if (spec.progressDeadlineSeconds !== undefined) {
      errs.push(...nonNegative("spec.progressDeadlineSeconds", spec.progressDeadlineSeconds));
      if (spec.progressDeadlineSeconds <= spec.minReadySeconds) {
        errs.push(
          field.invalid(
            "spec.progressDeadlineSeconds",
            spec.progressDeadlineSeconds,
            "must be greater than minReadySeconds",
          ),
        );
      }
    }
    return errs;
  },
  validateUpdate(d, old) {
    return [
      ...deploymentStrategy.validate(d),
      ...validateObjectMetaUpdate(d.metadata, old.metadata),
      ...selectorImmutable(d.spec?.selector, old.spec?.selector),
    ];
  },
  validateStatusUpdate(d, old) {
    const errs = validateObjectMetaUpdate(d.metadata, old.metadata);
    const s = d.status;
    if (!s) return errs;
    errs.push(
      ...nonNegative("status.observedGeneration", s.observedGeneration),
      ...nonNegative("status.replicas", s.replicas),
      ...nonNegative("status.updatedReplicas", s.updatedReplicas),
      ...nonNegative("status.readyReplicas", s.readyReplicas),
      ...nonNegative("status.availableReplicas", s.availableReplicas),
      ...nonNegative("status.unavailableReplicas", s.unavailableReplicas),
    );
    if (s.collisionCount !== undefined) errs.push(...nonNegative("status.collisionCount", s.collisionCount));
    const msg = "cannot be greater than status.replicas";
    if (s.updatedReplicas > s.replicas)
      errs.push(field.invalid("status.updatedReplicas", s.updatedReplicas, msg));
    if (s.readyReplicas > s.replicas) errs.push(field.invalid("status.readyReplicas", s.readyReplicas, msg));
    if (s.availableReplicas > s.replicas)
      errs.push(field.invalid("status.availableReplicas", s.availableReplicas, msg));
    if (s.availableReplicas > s.readyReplicas)
      errs.push(
        field.invalid(
          "status.availableReplicas",
          s.availableReplicas,
          "cannot be greater than readyReplicas",
        ),
      );
    return errs;
  },
  selectableFields() {
    return {};
  },
});
