/**
 * Resource quantities ("500m", "128Mi", "1.5", "2e3"), kept exact as integer milli-units so
 * comparisons and sums never round (Kubernetes' resource.Quantity).
 */

const BINARY: Record<string, bigint> = {
  Ki: 1024n,
  Mi: 1024n ** 2n,
  Gi: 1024n ** 3n,
  Ti: 1024n ** 4n,
  Pi: 1024n ** 5n,
  Ei: 1024n ** 6n,
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

const QUANTITY_RE = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([eE][+-]?\d+)|([numkMGTPE]))?$/;

export class Quantity {
  private constructor(
    /** The value in thousandths, rounded up as Kubernetes rounds (ceil). */
    readonly milli: bigint,
    private readonly text: string,
  ) {}

  static parse(text: string): Quantity {
    const m = QUANTITY_RE.exec(text.trim());
    if (!m)
      throw new Error(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
      );
    const [, sign, number, binary, exponent, decimal] = m;
    const [intPart, fracPart = ""] = number!.split(".");
    // Value = digits × 10^(exp - fracLen) × multiplier, computed as milli-units with ceil.
    const digits = BigInt((intPart || "0") + fracPart);
    let exp10 = -fracPart.length + 3;
    let mul = 1n;
    if (binary) mul = BINARY[binary]!;
    else if (exponent) exp10 += Number(exponent.slice(1));
    else exp10 += DECIMAL_EXP[decimal ?? ""]!;
    let milli: bigint;
    if (exp10 >= 0) milli = digits * mul * 10n ** BigInt(exp10);
    else {
      const div = 10n ** BigInt(-exp10);
      const num = digits * mul;
      milli = num / div + (num % div === 0n ? 0n : 1n);
    }
    return new Quantity(sign === "-" ? -milli : milli, text.trim());
  }

  static fromMilli(milli: bigint | number): Quantity {
    const m = BigInt(milli);
    return new Quantity(m, m % 1000n === 0n ? String(m / 1000n) : `${m}m`);
  }

  /** Whole units, rounded up (Quantity.Value()). */
  value(): number {
    const whole = this.milli / 1000n + (this.milli % 1000n > 0n ? 1n : 0n);
    return Number(whole);
  }

  milliValue(): number {
    return Number(this.milli);
  }

  cmp(other: Quantity): number {
    return this.milli < other.milli ? -1 : this.milli > other.milli ? 1 : 0;
  }

  add(other: Quantity): Quantity {
    return Quantity.fromMilli(this.milli + other.milli);
  }

  sub(other: Quantity): Quantity {
    return Quantity.fromMilli(this.milli - other.milli);
  }

  isNegative(): boolean {
    return this.milli < 0n;
  }

  toString(): string {
    return this.text;
  }
}

export const parseQuantity = (text: string): Quantity => Quantity.parse(text);
