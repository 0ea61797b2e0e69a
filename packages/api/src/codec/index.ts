export { DecodeError, decodeMessage, decodeObject, encodeMessage, encodeObject } from "./json.js";
export { applyJsonPatch, applyMergePatch, applyStrategicMergePatch } from "./patch.js";
export { messageSchema } from "./schema.js";
export { parseManifests, toJson, toYaml } from "./yaml.js";
