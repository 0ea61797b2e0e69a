#!/usr/bin/env node
// The installed `ktl` command: runs the TypeScript sources through tsx's loader in this process.
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
