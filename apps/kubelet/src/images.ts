import type { Container, Pod } from "@tskube/api";
import type { EventRecorder } from "@tskube/controller";
import { formatDuration } from "@tskube/machinery";
import type { ImageService } from "./runtime/types.js";

export interface ImageBackoffOptions {
  initialMs: number;
  maxMs: number;
}

/**
 * Per-image pull back-off, as the kubelet's flowcontrol.Backoff keyed by pod uid and image: each
 * failed pull doubles the wait (10 s up to 5 min by default); an entry untouched for twice the
 * maximum starts over.
 */
export class ImagePullBackoff {
  private readonly entries = new Map<string, { delayMs: number; lastUpdate: number }>();

  constructor(private readonly opts: ImageBackoffOptions) {}

  /** Records a failed pull at now. */
  next(key: string, now: number): void {
    const e = this.entries.get(key);
    if (!e || this.expired(e.lastUpdate, now)) {
      this.entries.set(key, { delayMs: this.opts.initialMs, lastUpdate: now });
      return;
    }
    e.delayMs = Math.min(e.delayMs * 2, this.opts.maxMs);
    e.lastUpdate = now;
  }

  /** Ms left before the next pull may be tried; 0 when it may be tried now. */
  remaining(key: string, now: number): number {
    const e = this.entries.get(key);
    if (!e || this.expired(e.lastUpdate, now)) return 0;
    return Math.max(0, e.lastUpdate + e.delayMs - now);
  }

  /** The current wait ("back-off 20s" in messages). */
  delay(key: string): number {
    return this.entries.get(key)?.delayMs ?? 0;
  }

  /** A successful pull clears the entry, so a later failure starts at the initial wait again. */
  reset(key: string): void {
    this.entries.delete(key);
  }

  forget(prefix: string): void {
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k);
  }

  private expired(lastUpdate: number, now: number): boolean {
    return now - lastUpdate > 2 * this.opts.maxMs;
  }
}

/** Why a container cannot be created yet: its waiting reason and message, and when to look again. */
export interface ImagePullFailure {
  reason: "ErrImagePull" | "ImagePullBackOff" | "ErrImageNeverPull";
  message: string;
  retryAfterMs?: number;
}

export interface ImageManagerOptions {
  /** null: the runtime runs no images, so there is nothing to pull. */
  images: ImageService | null;
  recorder: EventRecorder;
  backoff: ImagePullBackoff;
  now?: () => number;
}

/**
 * The kubelet's image manager (EnsureImageExists): imagePullPolicy decides whether to pull
 * (Always: every time a container is created; IfNotPresent: when missing; Never: not at all),
 * failed pulls back off per pod and image, and each step is an event with Kubernetes' wording.
 */
export class ImageManager {
  constructor(private readonly opts: ImageManagerOptions) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  /** Undefined when the image is ready for the container; the failure otherwise. */
  async ensureImageExists(pod: Pod, spec: Container): Promise<ImagePullFailure | undefined> {
    const { recorder } = this.opts;
    const image = spec.image;
    const images = this.opts.images;
    if (!images) {
      await recorder.event(pod, "Normal", "Pulled", `Container image "${image}" already present on machine`);
      return undefined;
    }
    const policy = spec.imagePullPolicy || "IfNotPresent";
    const key = `${pod.metadata!.uid}_${image}`;
    let present: boolean;
    try {
      present = !!(await images.imageStatus(image));
    } catch (err) {
      // The runtime could not say (engine down): as a failed pull, with its back-off.
      const message = `Failed to inspect image "${image}": ${(err as Error).message}`;
      this.opts.backoff.next(key, this.now());
      await recorder.event(pod, "Warning", "Failed", message);
      return { reason: "ErrImagePull", message, retryAfterMs: this.opts.backoff.remaining(key, this.now()) };
    }
    const pull = policy === "Always" || (policy === "IfNotPresent" && !present);
    if (!pull) {
      if (present) {
        await recorder.event(
          pod,
          "Normal",
          "Pulled",
          `Container image "${image}" already present on machine`,
        );
        return undefined;
      }
      const message = `Container image "${image}" is not present with pull policy of Never`;
      await recorder.event(pod, "Warning", "ErrImageNeverPull", message);
      return { reason: "ErrImageNeverPull", message };
    }
    const wait = this.opts.backoff.remaining(key, this.now());
    if (wait > 0) {
      const message = `Back-off pulling image "${image}"`;
      await recorder.event(pod, "Normal", "BackOff", message);
      return { reason: "ImagePullBackOff", message, retryAfterMs: wait };
    }
    await recorder.event(pod, "Normal", "Pulling", `Pulling image "${image}"`);
    const started = this.now();
    try {
      await images.pullImage(image);
    } catch (err) {
      const message = (err as Error).message;
      this.opts.backoff.next(key, this.now());
      await recorder.event(pod, "Warning", "Failed", `Failed to pull image "${image}": ${message}`);
      return { reason: "ErrImagePull", message, retryAfterMs: this.opts.backoff.remaining(key, this.now()) };
    }
    this.opts.backoff.reset(key);
    const took = formatDuration(Math.max(0, this.now() - started));
    await recorder.event(pod, "Normal", "Pulled", `Successfully pulled image "${image}" in ${took}`);
    return undefined;
  }

  forget(uid: string): void {
    this.opts.backoff.forget(`${uid}_`);
  }
}
