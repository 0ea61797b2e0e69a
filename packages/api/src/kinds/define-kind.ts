import type { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import type { KindInfo, KubeObject } from "../kinds.js";
import type { Strategy } from "../strategies/types.js";
import type { Printer } from "./printing/printer.js";

/**
 * Everything tskube knows of a kind: its identity (KindInfo), its API behaviour (Strategy) and how
 * ktl shows it (Printer). The registry, the apiserver, ktl, GC and namespace deletion read these.
 */
export interface KindDefinition<T extends KubeObject = KubeObject> extends KindInfo<T> {
  strategy: Strategy<T>;
  printer: Printer<T>;
}

/** The generated message functions of T (ts-proto's MessageFns), enough to tie T to its message. */
interface GeneratedMessage<T extends KubeObject> {
  readonly $type: T["$type"];
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
  decode(input: BinaryReader | Uint8Array, length?: number): T;
}

/**
 * A kind's declaration: every member is required, so a kind missing a piece fails `tsc`. T is
 * taken from the message alone (NoInfer elsewhere), so a strategy or printer written for another
 * message is an error at that member.
 */
export type KindDeclaration<T extends KubeObject> = Omit<
  KindDefinition<NoInfer<T>>,
  "messageType" | "strategy" | "printer"
> & {
  messageType: GeneratedMessage<T>;
  strategy: Strategy<NoInfer<T>>;
  printer: Printer<NoInfer<T>>;
};

/**
 * Declares a kind. T comes from the generated message, so the strategy and printer must be the
 * ones written for that message.
 */
export function defineKind<T extends KubeObject>(declaration: KindDeclaration<T>): KindDefinition<T> {
  // ts-proto's fromPartial/create are generic over exact partials, which KindInfo's plain
  // signatures cannot state; the message is the generated one, so they hold.
  return declaration as unknown as KindDefinition<T>;
}
