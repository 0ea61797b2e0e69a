import type { ObjectMeta } from "../../gen/tskube/v1/meta.js";

/** kubectl describe leaves this annotation out: it is the whole object again. */
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";
/** Longer annotation lines are cut here (kubectl's maxAnnotationLen). */
const MAX_ANNOTATION_LEN = 140;

const sorted = (m: Record<string, string>) => Object.keys(m).sort();

/** `Labels:` with one `k=v` per line, sorted, continuation lines in the value column. */
function labelsMultiline(title: string, labels: Record<string, string>): string {
  const keys = sorted(labels);
  if (!keys.length) return `${title}:\t<none>\n`;
  return keys.map((k, i) => `${i === 0 ? `${title}:` : ""}\t${k}=${labels[k]}\n`).join("");
}

function annotationsMultiline(annotations: Record<string, string>): string {
  const keys = sorted(annotations).filter((k) => k !== LAST_APPLIED);
  if (!keys.length) return "Annotations:\t<none>\n";
  return keys
    .map((k, i) => {
      const line = `${k}=${annotations[k]}`;
      return `${i === 0 ? "Annotations:" : ""}\t${line.length > MAX_ANNOTATION_LEN ? `${line.slice(0, MAX_ANNOTATION_LEN)}...` : line}\n`;
    })
    .join("");
}

/** The metadata block of kubectl's tabwriter describers (Service, Endpoints): cells end at tabs. */
export function tabHeader(m: ObjectMeta | undefined): string {
  return (
    `Name:\t${m?.name ?? ""}\n` +
    `Namespace:\t${m?.namespace ?? ""}\n` +
    labelsMultiline("Labels", m?.labels ?? {}) +
    annotationsMultiline(m?.annotations ?? {})
  );
}
