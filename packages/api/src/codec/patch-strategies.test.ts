import { describe, expect, it } from "vitest";
import { MERGE_LISTS } from "./patch-strategies.js";
import { messageSchema } from "./schema.js";

describe("MERGE_LISTS", () => {
  it("names only list fields that exist, and merge keys their items have", () => {
    for (const [typeName, lists] of Object.entries(MERGE_LISTS)) {
      const schema = messageSchema(typeName);
      for (const [jsonName, mergeKey] of Object.entries(lists)) {
        const f = schema.byJsonName.get(jsonName);
        expect(f?.repeated, `${typeName}.${jsonName}`).toBe(true);
        if (mergeKey === null) expect(f?.scalar, `${typeName}.${jsonName}`).toBeDefined();
        else
          expect(messageSchema(f!.message!).byJsonName.has(mergeKey), `${typeName}.${jsonName}`).toBe(true);
      }
    }
  });
});
