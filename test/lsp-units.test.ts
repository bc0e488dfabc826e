/**
 * The language server's pieces without a process: the base protocol's framing (byte lengths, split chunks)
 * and the "add the missing port" edit on the shapes ports objects are written in.
 */
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import { frame, MessageReader, type Message } from '../lsp/jsonrpc';
import { missingPortName, portInsertion } from '../lsp/server';

describe('LSP framing', () => {
  it('GIVEN messages with multi-byte text split at arbitrary bytes WHEN read THEN each arrives whole, once', () => {
    const sent: Message[] = [
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { rootUri: 'file:///srv/ünïcode' } },
      { jsonrpc: '2.0', method: 'textDocument/didChange', params: { text: "// ✓ 'grpc' → 'http'\n" } },
    ];
    const bytes = Buffer.from(sent.map(frame).join(''), 'utf8');
    for (const size of [1, 3, 7, bytes.length]) {
      const received: Message[] = [];
      const problems: string[] = [];
      const reader = new MessageReader(
        (m) => received.push(m),
        (p) => problems.push(p),
      );
      for (let i = 0; i < bytes.length; i += size) reader.push(bytes.subarray(i, i + size));
      assert.deepEqual(received, sent, `chunks of ${size}`);
      assert.deepEqual(problems, []);
    }
  });

  it('GIVEN a header without Content-Length WHEN read THEN it is reported and the next message still arrives', () => {
    const received: Message[] = [];
    const problems: string[] = [];
    const reader = new MessageReader(
      (m) => received.push(m),
      (p) => problems.push(p),
    );
    reader.push(Buffer.from(`Content-Type: x\r\n\r\n${frame({ jsonrpc: '2.0', method: 'initialized' })}`));
    assert.deepEqual(received, [{ jsonrpc: '2.0', method: 'initialized' }]);
    assert.equal(problems.length, 1);
  });
});

describe('the add-a-port quick fix', () => {
  it('GIVEN a one-line ports object WHEN a port is added THEN it follows the last port with the next free number', () => {
    const source = `export const api = service(shop, 'api', { ports: { http: { port: 8080, protocol: 'http' }, admin: { port: 9000, protocol: 'http' } } });\n`;
    const insertion = portInsertion(source, 'api', 'grpc');
    assert.ok(insertion !== undefined);
    const edited = source.slice(0, insertion.offset) + insertion.text + source.slice(insertion.offset);
    assert.match(edited, /admin: \{ port: 9000, protocol: 'http' \}, grpc: \{ port: 9001, protocol: 'http' \} \} \}\);/);
  });

  it('GIVEN a multi-line ports object with a trailing comma, and an empty one WHEN a port is added THEN the result is valid object syntax', () => {
    const multi = `const web = service(shop, 'web', {\n  ports: {\n    http: { port: 80, protocol: 'http' },\n  },\n});\n`;
    const a = portInsertion(multi, 'web', 'metrics-admin');
    assert.ok(a !== undefined);
    assert.equal(
      multi.slice(0, a.offset) + a.text + multi.slice(a.offset),
      `const web = service(shop, 'web', {\n  ports: {\n    http: { port: 80, protocol: 'http' }, 'metrics-admin': { port: 81, protocol: 'http' }\n  },\n});\n`,
    );
    const empty = `const web = service(shop, 'web', { ports: {} });\n`;
    const b = portInsertion(empty, 'web', 'http');
    assert.ok(b !== undefined);
    assert.equal(
      empty.slice(0, b.offset) + b.text + empty.slice(b.offset),
      `const web = service(shop, 'web', { ports: { http: { port: 8080, protocol: 'http' } } });\n`,
    );
    assert.equal(portInsertion(empty, 'other', 'http'), undefined);
  });

  it('GIVEN diagnostics WHEN asked for the missing port THEN only a port name inside `ports: [...]` or PC3009 counts', () => {
    const text = "allow(web).to(api, { ports: ['grpc'], methods: ['FETCH'] })";
    assert.equal(missingPortName(`Type '"grpc"' is not assignable to type '"http"'. (TS2322)`, text, text.indexOf("'grpc'")), 'grpc');
    assert.equal(missingPortName(`Type '"FETCH"' is not assignable to type 'HttpMethod'. (TS2322)`, text, text.indexOf("'FETCH'")), undefined);
    assert.equal(missingPortName(`'shop/api' has no port named 'grpc'. Its ports are: http.`, text, 0), 'grpc');
  });
});
