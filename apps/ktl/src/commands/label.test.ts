import { describe, expect, it } from "vitest";
import { applyChanges, splitChanges } from "./label.js";
import { imagePatch, splitImages } from "./set-image.js";

describe("label and annotate arguments", () => {
  it("splits resources from KEY=VALUE and KEY- changes", () => {
    const { resources, changes } = splitChanges(["pods", "web", "app=web", "tier-", "note=a=b"], "labels");
    expect(resources).toEqual(["pods", "web"]);
    expect([...changes.set]).toEqual([
      ["app", "web"],
      ["note", "a=b"],
    ]);
    expect(changes.remove).toEqual(["tier"]);
    expect(() => splitChanges(["pods", "app=x", "web"], "labels")).toThrow(
      /all resources must be specified before label changes/,
    );
    expect(() => splitChanges(["pods", "web", "app=x", "app-"], "labels")).toThrow(
      /can not both modify and remove a label/,
    );
  });

  it("refuses to change a value without --overwrite and reports keys that are not there", () => {
    const warnings: string[] = [];
    const { changes } = splitChanges(["po", "web", "app=api", "gone-"], "labels");
    expect(() => applyChanges({ app: "web" }, changes, false, (m) => warnings.push(m), "labels")).toThrow(
      "'app' already has a value (web), and --overwrite is false",
    );
    expect(applyChanges({ app: "web", keep: "1" }, changes, true, (m) => warnings.push(m), "labels")).toEqual(
      {
        app: "api",
        keep: "1",
      },
    );
    expect(warnings).toEqual(['label "gone" not found.']);
    const same = splitChanges(["po", "web", "app=web"], "labels").changes;
    expect(applyChanges({ app: "web" }, same, false, () => {}, "labels")).toEqual({ app: "web" });
  });
});

describe("set image", () => {
  const deployment = {
    spec: {
      template: {
        spec: {
          initContainers: [{ name: "init", image: "busybox:1.36" }],
          containers: [
            { name: "web", image: "nginx:1.26" },
            { name: "sidecar", image: "envoy:1" },
          ],
        },
      },
    },
  };

  it("patches only the containers whose image changes, merged by name", () => {
    const { resources, images } = splitImages(["deployment/web", "web=nginx:1.27", "sidecar=envoy:1"]);
    expect(resources).toEqual(["deployment/web"]);
    expect(imagePatch(deployment, "Deployment", images)).toEqual({
      spec: { template: { spec: { containers: [{ name: "web", image: "nginx:1.27" }] } } },
    });
    expect(imagePatch(deployment, "Deployment", splitImages(["x", "web=nginx:1.26"]).images)).toBeUndefined();
  });

  it("* sets every container, init containers included; an unknown name is kubectl's error", () => {
    expect(imagePatch(deployment, "Deployment", splitImages(["x", "*=img:2"]).images)).toEqual({
      spec: {
        template: {
          spec: {
            initContainers: [{ name: "init", image: "img:2" }],
            containers: [
              { name: "web", image: "img:2" },
              { name: "sidecar", image: "img:2" },
            ],
          },
        },
      },
    });
    expect(() => imagePatch(deployment, "Deployment", splitImages(["x", "db=pg:16"]).images)).toThrow(
      'unable to find container named "db"',
    );
    expect(() => imagePatch({}, "ConfigMap", splitImages(["x", "a=b"]).images)).toThrow(
      /has no pod template/,
    );
    expect(
      imagePatch(
        { spec: { containers: [{ name: "c", image: "a" }] } },
        "Pod",
        splitImages(["x", "c=b"]).images,
      ),
    ).toEqual({
      spec: { containers: [{ name: "c", image: "b" }] },
    });
  });
});
