/**
 * The Language Server Protocol's base protocol: JSON-RPC 2.0 messages, each preceded by a
 * `Content-Length: <bytes>` header and an empty line. Small enough to own: the server needs the framing and
 * a dozen message shapes, not a framework.
 */

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue | undefined };

/** A request (with id), a notification (without), or a response (with id and result or error). */
export interface Message {
  readonly jsonrpc: '2.0';
  readonly id?: number | string | null;
  readonly method?: string;
  readonly params?: JsonValue;
  readonly result?: JsonValue;
  readonly error?: { readonly code: number; readonly message: string };
}

const HEADER_END = '\r\n\r\n';

/** Encodes one message with its header. */
export function frame(message: Message): string {
  const body = JSON.stringify(message);
  return `Content-Length: ${Buffer.byteLength(body, 'utf8')}${HEADER_END}${body}`;
}

/**
 * Splits a byte stream into messages. Feed it chunks as they arrive; it calls `onMessage` once per complete
 * message and keeps any partial one. A malformed header or body is reported and skipped.
 */
export class MessageReader {
  private buffer = Buffer.alloc(0);

  constructor(
    private readonly onMessage: (message: Message) => void,
    private readonly onError: (problem: string) => void,
  ) {}

  push(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const headerEnd = this.buffer.indexOf(HEADER_END);
      if (headerEnd === -1) return;
      const header = this.buffer.subarray(0, headerEnd).toString('ascii');
      const length = /(?:^|\r\n)Content-Length:\s*(\d+)/i.exec(header)?.[1];
      if (length === undefined) {
        this.onError(`a message header without Content-Length: ${JSON.stringify(header)}`);
        this.buffer = this.buffer.subarray(headerEnd + HEADER_END.length);
        continue;
      }
      const bodyStart = headerEnd + HEADER_END.length;
      const bodyEnd = bodyStart + Number(length);
      if (this.buffer.length < bodyEnd) return;
      const body = this.buffer.subarray(bodyStart, bodyEnd).toString('utf8');
      this.buffer = this.buffer.subarray(bodyEnd);
      let message: Message;
      try {
        message = JSON.parse(body) as Message;
      } catch {
        this.onError(`a message body that is not JSON: ${body.slice(0, 200)}`);
        continue;
      }
      this.onMessage(message);
    }
  }
}
