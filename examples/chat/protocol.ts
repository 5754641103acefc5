/**
 * What the chat's services say to each other: the WebSocket frames between a page and its
 * gateway, and the mq messages between gateway, logic and task.
 *
 * @module
 */

/** A stored chat message. */
export interface ChatMessage {
  /** Snowflake id, as a decimal string (JSON numbers lose precision past 2^53). */
  readonly id: string;
  readonly conversationId: string;
  readonly senderId: string;
  /** The sender's own id of the message: a resend carries the same one. */
  readonly clientMsgId: string;
  readonly text: string;
  /** ISO-8601. */
  readonly sentAt: string;
}

/** A frame from the page. */
export type ClientFrame = {
  readonly type: "send";
  readonly clientMsgId: string;
  readonly conversationId: string;
  readonly text: string;
};

/** A frame to the page. */
export type ServerFrame =
  | { readonly type: "message"; readonly message: ChatMessage }
  | { readonly type: "ack"; readonly clientMsgId: string; readonly id: string }
  | { readonly type: "presence"; readonly user: string; readonly online: boolean }
  | { readonly type: "error"; readonly clientMsgId?: string; readonly error: string };

/** gateway → logic, on {@linkcode UPSTREAM_TOPIC}, keyed by conversation (per-conversation order). */
export interface UpstreamMessage {
  readonly senderId: string;
  readonly clientMsgId: string;
  readonly conversationId: string;
  readonly text: string;
  /** The gateway holding the sender, for the ack. */
  readonly gateway: string;
}

/** logic → one gateway, on its downstream topic: frames for some of its users. */
export interface DownstreamMessage {
  readonly users: readonly string[];
  readonly frame: ServerFrame;
}

/** The topic every gateway publishes to and logic consumes. */
export const UPSTREAM_TOPIC = "chat.upstream";
/** The topic of stored messages, which task indexes. */
export const STORED_TOPIC = "chat.stored";
/** A gateway's own topic, named after its instance id. */
export const downstreamTopic = (gateway: string): string => `chat.downstream.${gateway}`;

/** The cache pub/sub channel on which gateways tell each other who came online or left. */
export const ONLINE_CHANNEL = "chat.online";

/** Registry names of the roles that serve HTTP to the others. */
export const SERVICE = { repo: "im-repo", task: "im-task" } as const;

const ID = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * A client frame, checked; what is wrong is said in the error.
 *
 * @param text The frame as received.
 * @returns The frame.
 * @throws {TypeError} Naming the field at fault.
 */
export function parseClientFrame(text: string): ClientFrame {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TypeError("frame is not JSON");
  }
  if (value?.type !== "send") {
    throw new TypeError(`unknown frame type ${JSON.stringify(value?.type)}`);
  }
  for (const field of ["clientMsgId", "conversationId"] as const) {
    if (typeof value[field] !== "string" || !ID.test(value[field] as string)) {
      throw new TypeError(`'${field}' must be 1-64 letters, digits, '_', '.' or '-'`);
    }
  }
  const body = value.text;
  if (typeof body !== "string" || body.trim() === "" || body.length > 4000) {
    throw new TypeError("'text' must be a non-empty string of at most 4000 characters");
  }
  return {
    type: "send",
    clientMsgId: value.clientMsgId as string,
    conversationId: value.conversationId as string,
    text: body,
  };
}

/** Whether `name` can be a user or conversation id. */
export const validId = (name: unknown): name is string => typeof name === "string" && ID.test(name);
