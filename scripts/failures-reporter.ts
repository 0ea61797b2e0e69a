/**
 * A vitest reporter for scripts/test.sh's summary: every failure with its reason on one line — a
 * failed test, a failed hook (beforeAll/afterAll, whose error vitest's JSON report does not carry),
 * a file that failed to load, an unhandled error. A CI log may keep only its tail; the summary is
 * the tail. Writes to $TSKUBE_FAILURES_FILE (nothing when it is unset).
 */
import { writeFileSync } from "node:fs";
import { relative } from "node:path";
import type { Reporter, SerializedError, TestModule } from "vitest/node";

const firstLine = (errors: readonly SerializedError[]) =>
  errors
    .map((e) =>
      `${e.name && e.name !== "Error" ? `${e.name}: ` : ""}${e.message ?? ""}`.split("\n")[0]?.trim(),
    )
    .filter(Boolean)
    .join(" | ")
    .slice(0, 300);

export default class FailuresReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<SerializedError>): void {
    const out = process.env.TSKUBE_FAILURES_FILE;
    if (!out) return;
    const lines: string[] = [];
    for (const m of modules) {
      const file = relative(process.cwd(), m.moduleId);
      if (m.errors().length) lines.push(`${file}: ${firstLine(m.errors())}`);
      for (const s of m.children.allSuites())
        if (s.errors().length) lines.push(`${file} > ${s.fullName} (hook): ${firstLine(s.errors())}`);
      for (const t of m.children.allTests("failed"))
        lines.push(`${file} > ${t.fullName}: ${firstLine(t.result().errors ?? [])}`);
    }
    if (unhandled.length) lines.push(`unhandled error: ${firstLine(unhandled)}`);
    writeFileSync(out, lines.map((l) => `        ✗ ${l}\n`).join(""));
  }
}
