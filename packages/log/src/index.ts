import { type Logger, pino } from "pino";

export type { Logger } from "pino";

/**
 * The root logger: pino JSON on stdout. LOG_LEVEL sets the level (info by default); tests set
 * LOG_LEVEL=silent. Components take a child: `rootLogger().child({ component: "apiserver" })`.
 */
let root: Logger | undefined;

export function rootLogger(): Logger {
  root ??= pino({
    level: process.env.LOG_LEVEL ?? "info",
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
  return root;
}

export function componentLogger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return rootLogger().child({ component, ...bindings });
}

/** A logger that drops everything, for unit tests and library defaults. */
export const silentLogger: Logger = pino({ level: "silent" });
