// Go's encoding/json escapes these inside strings; kubectl's -o json output carries them escaped.
const GO_ESCAPES: Record<string, string> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

/** JSON as `kubectl -o json` prints it: 4-space indent, Go's escaping, a final newline. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 4).replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c]!)}\n`;
}
