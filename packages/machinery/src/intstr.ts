/** Kubernetes IntOrString helpers; tskube stores IntOrString values as strings ("3", "25%"). */

export function isIntOrPercent(value: string): boolean {
  return /^\d+%?$/.test(value);
}

/**
 * intstr.GetScaledValueFromIntOrPercent: a number is itself; "25%" of total rounds up (maxSurge)
 * or down (maxUnavailable) as the caller asks.
 */
export function getScaledValueFromIntOrPercent(value: string, total: number, roundUp: boolean): number {
  if (/^\d+$/.test(value)) return Number(value);
  const m = /^(\d+)%$/.exec(value);
  if (!m) throw new Error(`invalid value for IntOrString: invalid value ${JSON.stringify(value)}`);
  const scaled = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(scaled) : Math.floor(scaled);
}
