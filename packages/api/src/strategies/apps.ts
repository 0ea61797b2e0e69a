import {
  type FieldError,
  field,
  getScaledValueFromIntOrPercent,
  isIntOrPercent,
  selectorFromLabelSelector,
} from "@tskube/machinery";
import type { Deployment, PodTemplateSpec, ReplicaSet } from "../gen/tskube/v1/apps.js";
import type { LabelSelector } from "../gen/tskube/v1/meta.js";
import { validateLabels, validateObjectMeta, validateObjectMetaUpdate } from "./meta.js";
import { defaultPodSpec, validatePodSpec } from "./pod.js";
import type { Strategy } from "./types.js";

function formatLabels(labels: Record<string, string>): string {
  return `map[string]string{${Object.entries(labels)
    .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
    .join(", ")}}`;
}

/** Selector required and non-empty; the template's labels must match it. */
export function validateSelectorAndTemplate(
  selector: LabelSelector | undefined,
  template: PodTemplateSpec | undefined,
  replicas: number | undefined,
): FieldError[] {
  const errs: FieldError[] = [];
  if (replicas !== undefined && replicas < 0) {
    errs.push(field.invalid("spec.replicas", replicas, "must be greater than or equal to 0"));
  }
  if (!selector) errs.push(field.required("spec.selector", ""));
  else {
    const empty = Object.keys(selector.matchLabels).length === 0 && selector.matchExpressions.length === 0;
    if (empty) errs.push(field.invalid("spec.selector", "{}", "empty selector is invalid for deployment"));
    errs.push(...validateLabels(selector.matchLabels, "spec.selector.matchLabels"));
    selector.matchExpressions.forEach((e, i) => {
      const ops = ["In", "NotIn", "Exists", "DoesNotExist"];
      if (!ops.includes(e.operator))
        errs.push(field.notSupported(`spec.selector.matchExpressions[${i}].operator`, e.operator, ops));
    });
  }
  if (!template) {
    errs.push(field.required("spec.template", ""));
    return errs;
  }
  const labels = template.metadata?.labels ?? {};
  errs.push(...validateLabels(labels, "spec.template.metadata.labels"));
  if (selector && errs.length === 0) {
    let matches = false;
    try {
      matches = selectorFromLabelSelector(selector).matches(labels);
    } catch {
      matches = false;
    }
    if (!matches) {
      errs.push(
        field.invalid(
          "spec.template.metadata.labels",
          formatLabels(labels),
          "`selector` does not match template `labels`",
        ),
      );
    }
  }
  errs.push(...validatePodSpec(template.spec, "spec.template.spec"));
  if (template.spec && template.spec.restartPolicy && template.spec.restartPolicy !== "Always") {
    errs.push(
      field.notSupported("spec.template.spec.restartPolicy", template.spec.restartPolicy, ["Always"]),
    );
  }
  return errs;
}

function selectorImmutable(
  selector: LabelSelector | undefined,
  old: LabelSelector | undefined,
): FieldError[] {
  return JSON.stringify(selector) === JSON.stringify(old)
    ? []
    : [
        field.invalid(
          "spec.selector",
          selector ? JSON.stringify(selector.matchLabels) : "null",
          "field is immutable",
        ),
      ];
}

function nonNegative(path: string, v: number | undefined): FieldError[] {
  return v !== undefined && v < 0 ? [field.invalid(path, v, "must be greater than or equal to 0")] : [];
}

export const replicaSetStrategy: Strategy<ReplicaSet> = {
  applyDefaults(rs) {
    if (!rs.spec) return;
    rs.spec.replicas ??= 1;
    // A ReplicaSet without labels takes its template's (Kubernetes' defaulting).
    if (rs.metadata && Object.keys(rs.metadata.labels).length === 0 && rs.spec.template?.metadata) {
      rs.metadata.labels = { ...rs.spec.template.metadata.labels };
    }
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
  validateStatusUpdate(rs) {
    const s = rs.status;
    if (!s) return [];
    return [
      ...nonNegative("status.replicas", s.replicas),
      ...nonNegative("status.readyReplicas", s.readyReplicas),
      ...nonNegative("status.availableReplicas", s.availableReplicas),
      ...nonNegative("status.fullyLabeledReplicas", s.fullyLabeledReplicas),
    ];
  },
  selectableFields(rs) {
    return { "status.replicas": String(rs.status?.replicas ?? 0) };
  },
};

const STRATEGY_TYPES = ["Recreate", "RollingUpdate"];

export const deploymentStrategy: Strategy<Deployment> = {
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
    defaultPodSpec(spec.template?.spec);
  },
  validate(d) {
    const errs = validateObjectMeta(d.metadata, true);
    if (!d.spec) return [...errs, field.required("spec", "")];
    const spec = d.spec;
    errs.push(...validateSelectorAndTemplate(spec.selector, spec.template, spec.replicas));
    errs.push(...nonNegative("spec.minReadySeconds", spec.minReadySeconds));
    errs.push(...nonNegative("spec.revisionHistoryLimit", spec.revisionHistoryLimit));
    const type = spec.strategy?.type ?? "";
    if (type && !STRATEGY_TYPES.includes(type))
      errs.push(field.notSupported("spec.strategy.type", type, STRATEGY_TYPES));
    const ru = spec.strategy?.rollingUpdate;
    if (type === "Recreate" && ru)
      errs.push(
        field.forbidden(
          "spec.strategy.rollingUpdate",
          "may not be specified when strategy `type` is 'Recreate'",
        ),
      );
    if (ru) {
      for (const [name, v] of [
        ["maxSurge", ru.maxSurge],
        ["maxUnavailable", ru.maxUnavailable],
      ] as const) {
        const p = `spec.strategy.rollingUpdate.${name}`;
        if (!v) continue;
        if (!isIntOrPercent(v))
          errs.push(
            field.invalid(
              p,
              v,
              "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
            ),
          );
        else if (v.endsWith("%") && Number(v.slice(0, -1)) > 100 && name === "maxUnavailable") {
          errs.push(field.invalid(p, v, "must not be greater than 100%"));
        }
      }
      if (isIntOrPercent(ru.maxSurge) && isIntOrPercent(ru.maxUnavailable)) {
        const surge = getScaledValueFromIntOrPercent(ru.maxSurge || "0", 100, true);
        const unavailable = getScaledValueFromIntOrPercent(ru.maxUnavailable || "0", 100, false);
        if (surge === 0 && unavailable === 0) {
          errs.push(
            field.invalid(
              "spec.strategy.rollingUpdate.maxUnavailable",
              ru.maxUnavailable,
              "may not be 0 when `maxSurge` is 0",
            ),
          );
        }
      }
    }
    if (spec.progressDeadlineSeconds !== undefined && spec.progressDeadlineSeconds <= spec.minReadySeconds) {
      errs.push(
        field.invalid(
          "spec.progressDeadlineSeconds",
          spec.progressDeadlineSeconds,
          "must be greater than minReadySeconds",
        ),
      );
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
  validateStatusUpdate(d) {
    const s = d.status;
    if (!s) return [];
    return [
      ...nonNegative("status.replicas", s.replicas),
      ...nonNegative("status.updatedReplicas", s.updatedReplicas),
      ...nonNegative("status.readyReplicas", s.readyReplicas),
      ...nonNegative("status.availableReplicas", s.availableReplicas),
    ];
  },
  selectableFields() {
    return {};
  },
};
