import { ConfigMap, type KubeObject } from "@tskube/api";
import type { Logger } from "@tskube/log";
import { isAlreadyExists, TIMING_CONFIGMAP, type TimingRecord } from "@tskube/machinery";
import type { Registry } from "./registry.js";

/**
 * ConfigMap kube-system/tskube-timing: the apiserver's timing profile and the values of its
 * timing flags, so `ktl explain timing` can show what the cluster runs with. Written whole at
 * every start (the last apiserver to start wins; with two apiservers on different profiles the
 * ConfigMap shows one of them, and each logs its own at start).
 */
export function timingConfigMapData(record: TimingRecord): Record<string, string> {
  return { profile: record.profile, ...record.values };
}

export async function recordTiming(configMaps: Registry, record: TimingRecord, log: Logger): Promise<void> {
  const { namespace, name } = TIMING_CONFIGMAP;
  const data = timingConfigMapData(record);
  // A record for tools, not something serving depends on: a failed write is logged, not fatal.
  try {
    try {
      await configMaps.create(ConfigMap.fromPartial({ metadata: { name, namespace }, data }), { namespace });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      await configMaps.mutate(namespace, name, (current) => ({ ...current, data }) as KubeObject);
    }
    log.info(
      { profile: record.profile, values: record.values },
      `recorded timing in configmap ${namespace}/${name}`,
    );
  } catch (err) {
    log.warn({ err: (err as Error).message }, `could not record timing in configmap ${namespace}/${name}`);
  }
}
