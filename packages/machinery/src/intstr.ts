/** Kubernetes IntOrString helpers; tskube carries IntOrString values as strings ("3", "25%", "http"). */

const INT_RE = /^-?\d+$/;
const PERCENT_RE = /^-?\d+%$/;

/** True for "3" or "25%": what maxSurge/maxUnavailable may hold (a named port would not do). */
export function isIntOrPercent(value: string): boolean {
  return INT_RE.test(value) || PERCENT_RE.test(value);
}

/** An IntOrString that holds an integer ("8080" rather than "http"). */
export function isIntValue(value: string): boolean {
  return INT_RE.test(value);
}

/** validation.IsValidPercent: a percent string as Deployment strategies and PDBs accept it. */
export function isValidPercent(value: string): string[] {
  return /^[0-9]+%$/.test(value)
    ? []
    : [
        "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
      ];
}

/**
 * intstr.GetScaledValueFromIntOrPercent: an integer is itself; "25%" is that share of total, rounded
 * up (maxSurge) or down (maxUnavailable) as the caller asks. Throws on anything else.
 */
export function getScaledValueFromIntOrPercent(value: string, total: number, roundUp: boolean): number {
  if (INT_RE.test(value)) return Number(value);
  if (!value.endsWith("%")) throw new Error("invalid type: string is not a percentage");
  if (!PERCENT_RE.test(value)) throw new Error(`invalid value ${JSON.stringify(value)}`);
  const scaled = (Number(value.slice(0, -1)) * total) / 100;
  return roundUp ? Math.ceil(scaled) : Math.floor(scaled);
}
