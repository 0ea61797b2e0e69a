import type { Client } from "@tskube/client";
import type { Clock, ControllerMetrics, EventRecorder, SharedInformerFactory } from "@tskube/controller";
import type { Logger } from "@tskube/log";

/** What every controller gets from the controller-manager (kube-controller-manager's ControllerContext). */
export interface ControllerContext {
  client: Pick<Client, "resource">;
  /** Shared by every controller of one leadership term: one watch per kind for the whole process. */
  informers: SharedInformerFactory;
  /** An EventRecorder reporting as the named component ("replicaset-controller"). */
  recorder(component: string): EventRecorder;
  clock: Clock;
  log: Logger;
  /** The process's work queue and reconcile metrics; absent in unit tests. */
  metrics?: ControllerMetrics;
}

/** One controller of the manager: its watches are declared when it is built, run() starts it. */
export interface RunnableController {
  run(signal: AbortSignal): Promise<void>;
}
