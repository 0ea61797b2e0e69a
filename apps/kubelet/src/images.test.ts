import { Container, Pod } from "@tskube/api";
import type { EventRecorder } from "@tskube/controller";
import { describe, expect, it } from "vitest";
import { ImageManager, ImagePullBackoff } from "./images.js";
import type { Image, ImageService } from "./runtime/types.js";

describe("ImagePullBackoff", () => {
  it("waits 10 s after a failed pull, doubling to 5 min", () => {
    const b = new ImagePullBackoff({ initialMs: 10_000, maxMs: 300_000 });
    let now = 1_000_000;
    expect(b.remaining("u_x", now)).toBe(0);
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      b.next("u_x", now);
      waits.push(b.remaining("u_x", now));
      now += 1_000;
      expect(b.remaining("u_x", now)).toBe(waits.at(-1)! - 1_000);
      now += waits.at(-1)! - 1_000;
      expect(b.remaining("u_x", now)).toBe(0);
    }
    expect(waits).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
  });

  it("starts over after a success, after twice the maximum without failures, and per key", () => {
    const b = new ImagePullBackoff({ initialMs: 10_000, maxMs: 300_000 });
    b.next("a", 0);
    b.next("a", 10_000);
    expect(b.delay("a")).toBe(20_000);
    expect(b.remaining("b", 10_000)).toBe(0);
    b.reset("a");
    b.next("a", 20_000);
    expect(b.delay("a")).toBe(10_000);
    b.next("a", 30_000);
    expect(b.delay("a")).toBe(20_000);
    b.next("a", 30_000 + 600_001);
    expect(b.delay("a")).toBe(10_000);
    b.forget("a");
    expect(b.remaining("a", 630_002)).toBe(0);
  });
});

class Images implements ImageService {
  present = new Set<string>();
  pulls: string[] = [];
  failWith: string | undefined;
  async imageStatus(image: string): Promise<Image | undefined> {
    return this.present.has(image) ? { id: `sha256:${image}`, repoTags: [image], size: 1 } : undefined;
  }
  async pullImage(image: string): Promise<Image> {
    this.pulls.push(image);
    if (this.failWith) throw new Error(this.failWith);
    this.present.add(image);
    return { id: `sha256:${image}`, repoTags: [image], size: 1 };
  }
}

function setup(images: ImageService | null) {
  const events: string[] = [];
  const recorder = {
    event: async (_obj: unknown, type: string, reason: string, message: string) => {
      events.push(`${type} ${reason} ${message}`);
    },
  } as unknown as EventRecorder;
  let now = 0;
  const m = new ImageManager({
    images,
    recorder,
    backoff: new ImagePullBackoff({ initialMs: 10_000, maxMs: 300_000 }),
    now: () => now,
  });
  const pod = Pod.fromPartial({ metadata: { name: "p", namespace: "default", uid: "uid-1" } });
  const container = (image: string, imagePullPolicy: string) =>
    Container.fromPartial({ name: "c", image, imagePullPolicy });
  return { m, events, pod, container, advance: (ms: number) => (now += ms) };
}

describe("ImageManager", () => {
  it("IfNotPresent pulls a missing image once, then finds it present", async () => {
    const images = new Images();
    const { m, events, pod, container, advance } = setup(images);
    const c = container("busybox:1.36", "IfNotPresent");
    expect(await m.ensureImageExists(pod, c)).toBeUndefined();
    advance(1_234);
    expect(await m.ensureImageExists(pod, c)).toBeUndefined();
    expect(images.pulls).toEqual(["busybox:1.36"]);
    expect(events).toEqual([
      'Normal Pulling Pulling image "busybox:1.36"',
      'Normal Pulled Successfully pulled image "busybox:1.36" in 0s',
      'Normal Pulled Container image "busybox:1.36" already present on machine',
    ]);
  });

  it("Always pulls a present image every time and says how long it took", async () => {
    const images = new Images();
    images.present.add("app:latest");
    const slow: ImageService = {
      imageStatus: (i) => images.imageStatus(i),
      pullImage: async (i) => {
        advance(1_200);
        return await images.pullImage(i);
      },
    };
    const { m, events, pod, container, advance } = setup(slow);
    expect(await m.ensureImageExists(pod, container("app:latest", "Always"))).toBeUndefined();
    expect(await m.ensureImageExists(pod, container("app:latest", "Always"))).toBeUndefined();
    expect(images.pulls).toEqual(["app:latest", "app:latest"]);
    expect(events[1]).toBe('Normal Pulled Successfully pulled image "app:latest" in 1.2s');
  });

  it("Never with a missing image is ErrImageNeverPull and never pulls", async () => {
    const images = new Images();
    const { m, events, pod, container } = setup(images);
    expect(await m.ensureImageExists(pod, container("local/only:1", "Never"))).toEqual({
      reason: "ErrImageNeverPull",
      message: 'Container image "local/only:1" is not present with pull policy of Never',
    });
    expect(images.pulls).toEqual([]);
    expect(events).toEqual([
      'Warning ErrImageNeverPull Container image "local/only:1" is not present with pull policy of Never',
    ]);
  });

  it("a failed pull is ErrImagePull, then ImagePullBackOff until the back-off passes", async () => {
    const images = new Images();
    images.failWith = "Error response from daemon: no such host";
    const { m, events, pod, container, advance } = setup(images);
    const c = container("nope/missing:1", "IfNotPresent");
    expect(await m.ensureImageExists(pod, c)).toEqual({
      reason: "ErrImagePull",
      message: "Error response from daemon: no such host",
      retryAfterMs: 10_000,
    });
    advance(4_000);
    expect(await m.ensureImageExists(pod, c)).toEqual({
      reason: "ImagePullBackOff",
      message: 'Back-off pulling image "nope/missing:1"',
      retryAfterMs: 6_000,
    });
    expect(images.pulls).toHaveLength(1);
    advance(6_000);
    expect((await m.ensureImageExists(pod, c))?.retryAfterMs).toBe(20_000);
    expect(images.pulls).toHaveLength(2);
    expect(events).toEqual([
      'Normal Pulling Pulling image "nope/missing:1"',
      'Warning Failed Failed to pull image "nope/missing:1": Error response from daemon: no such host',
      'Normal BackOff Back-off pulling image "nope/missing:1"',
      'Normal Pulling Pulling image "nope/missing:1"',
      'Warning Failed Failed to pull image "nope/missing:1": Error response from daemon: no such host',
    ]);
    images.failWith = undefined;
    advance(20_000);
    expect(await m.ensureImageExists(pod, c)).toBeUndefined();
  });

  it("a runtime without images reports every image present, whatever the policy", async () => {
    const { m, events, pod, container } = setup(null);
    expect(await m.ensureImageExists(pod, container("busybox:latest", "Always"))).toBeUndefined();
    expect(await m.ensureImageExists(pod, container("busybox:1.36", "Never"))).toBeUndefined();
    expect(events).toEqual([
      'Normal Pulled Container image "busybox:latest" already present on machine',
      'Normal Pulled Container image "busybox:1.36" already present on machine',
    ]);
  });
});
