/**
 * Resource quantities ("500m", "128Mi", "1.5", "2e3"), kept exact as integer nano-units so
 * comparisons and sums never round (Kubernetes' resource.Quantity, whose finest scale is 1n too).
 */

/** How a quantity prints, taken from the suffix it was written with (resource.Format). */
export type QuantityFormat = "DecimalSI" | "BinarySI" | "DecimalExponent";

const BINARY_EXP: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const BINARY_SUFFIX: Record<number, string> = {
  0: "",
  10: "Ki",
  20: "Mi",
  30: "Gi",
  40: "Ti",
  50: "Pi",
  60: "Ei",
};
const DECIMAL_EXP: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  "": 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const DECIMAL_SUFFIX: Record<number, string> = Object.fromEntries(
  Object.entries(DECIMAL_EXP).map(([suffix, exp]) => [exp, suffix]),
);

const QUANTITY_RE = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([eE][+-]?\d+)|([numkMGTPE]))?$/;
const NANO = 1_000_000_000n;

const abs = (n: bigint) => (n < 0n ? -n : n);

/** n / d rounded away from zero, as Kubernetes rounds when it drops precision. */
function divAway(n: bigint, d: bigint): bigint {
  const q = n / d;
  if (n % d === 0n) return q;
  return n < 0n ? q - 1n : q + 1n;
}

/** Remembered parses (see Quantity.parse); a failed parse throws and is not remembered. */
const parsed = new Map<string, Quantity>();
const PARSED_LIMIT = 4096;

export class Quantity {
  private constructor(
    /** The exact value in nano-units (10^-9). */
    readonly nano: bigint,
    readonly format: QuantityFormat,
  ) {}

  /**
   * Parses a quantity. Quantities are immutable and manifests repeat a handful of strings ("100m",
   * "64Mi") in every container of every pod, so parses are remembered, a bounded number of them.
   */
  static parse(text: string): Quantity {
    let q = parsed.get(text);
    if (!q) {
      q = Quantity.parseUncached(text);
      if (parsed.size >= PARSED_LIMIT) parsed.clear();
      parsed.set(text, q);
    }
    return q;
  }

  private static parseUncached(text: string): Quantity {
    const m = QUANTITY_RE.exec(text.trim());
    if (!m)
      throw new Error(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
      );
    const [, sign, number, binary, exponent, decimal] = m;
    const [intPart, fracPart = ""] = number!.split(".");
    // value = digits × 10^(exp10 - 9) × 2^exp2 nano-units; anything finer than 1n rounds up.
    const digits = BigInt((intPart || "0") + fracPart);
    let exp10 = 9 - fracPart.length;
    let exp2 = 0;
    let format: QuantityFormat = "DecimalSI";
    if (binary) {
      exp2 = BINARY_EXP[binary]!;
      format = "BinarySI";
    } else if (exponent) {
      exp10 += Number(exponent.slice(1));
      format = "DecimalExponent";
    } else exp10 += DECIMAL_EXP[decimal ?? ""]!;
    const num = digits * 2n ** BigInt(exp2);
    const nano = exp10 >= 0 ? num * 10n ** BigInt(exp10) : divAway(num, 10n ** BigInt(-exp10));
    return new Quantity(sign === "-" ? -nano : nano, format);
  }

  static fromMilli(milli: bigint | number, format: QuantityFormat = "DecimalSI"): Quantity {
    return new Quantity(BigInt(milli) * 1_000_000n, format);
  }

  static fromNano(nano: bigint, format: QuantityFormat = "DecimalSI"): Quantity {
    return new Quantity(nano, format);
  }

  /** The value in thousandths, rounded away from zero (Quantity.MilliValue()). */
  get milli(): bigint {
    return divAway(this.nano, 1_000_000n);
  }

  /** Whole units, rounded away from zero (Quantity.Value()). */
  value(): number {
    return Number(divAway(this.nano, NANO));
  }

  milliValue(): number {
    return Number(this.milli);
  }

  cmp(other: Quantity): number {
    return this.nano < other.nano ? -1 : this.nano > other.nano ? 1 : 0;
  }

  /** Sums keep the left operand's format, as Quantity.Add does. */
  add(other: Quantity): Quantity {
    return new Quantity(this.nano + other.nano, this.format);
  }

  sub(other: Quantity): Quantity {
    return new Quantity(this.nano - other.nano, this.format);
  }

  isZero(): boolean {
    return this.nano === 0n;
  }

  isNegative(): boolean {
    return this.nano < 0n;
  }

  /**
   * The canonical form Kubernetes stores and prints: the largest suffix that keeps an integer
   * mantissa ("1000m" → "1", "0.5" → "500m", "1024Mi" → "1Gi", "1.5k" → "1500"). BinarySI values
   * below 1Ki or with a fraction print as DecimalSI, because no binary suffix shows them exactly.
   */
  toString(): string {
    if (this.nano === 0n) return "0";
    if (this.format === "BinarySI" && abs(this.nano) >= 1024n * NANO && this.nano % NANO === 0n) {
      let mantissa = this.nano / NANO;
      let exp = 0;
      while (exp < 60 && mantissa % 1024n === 0n) {
        mantissa /= 1024n;
        exp += 10;
      }
      return `${mantissa}${BINARY_SUFFIX[exp]}`;
    }
    let mantissa = this.nano;
    let exp = -9;
    while (mantissa % 10n === 0n) {
      mantissa /= 10n;
      exp++;
    }
    const down = ((exp % 3) + 3) % 3;
    mantissa *= 10n ** BigInt(down);
    exp -= down;
    if (this.format === "DecimalExponent") return exp === 0 ? `${mantissa}` : `${mantissa}e${exp}`;
    const suffix = DECIMAL_SUFFIX[exp];
    return suffix === undefined ? `${mantissa}e${exp}` : `${mantissa}${suffix}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

export const parseQuantity = (text: string): Quantity => Quantity.parse(text);
