/**
 * A language-server client as an editor is one: it starts `policyc lsp` as a process, speaks LSP over its
 * stdin/stdout, and waits for the notifications it expects. Used by the editor test and the benchmark.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { frame, MessageReader, type JsonValue, type Message } from '../lsp/jsonrpc';
import { compiledFile } from '../compiler/package-files';

export interface PublishedDiagnostics {
  readonly uri: string;
  readonly diagnostics: readonly {
    readonly range: { readonly start: { line: number; character: number }; readonly end: { line: number; character: number } };
    readonly severity: number;
    readonly code: string;
    readonly message: string;
    readonly relatedInformation?: readonly { readonly location: { readonly uri: string; readonly range: unknown }; readonly message: string }[];
  }[];
}

export class LspClient {
  private readonly process: ChildProcessWithoutNullStreams;
  private readonly received: Message[] = [];
  private readonly waiters: { test: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  private nextId = 1;
  stderr = '';

  constructor(cwd: string, args: readonly string[] = []) {
    this.process = spawn(process.execPath, [compiledFile('cli/main.js'), 'lsp', '--stdio', ...args], { cwd });
    const reader = new MessageReader(
      (message) => this.deliver(message),
      (problem) => (this.stderr += problem),
    );
    this.process.stdout.on('data', (chunk: Buffer) => reader.push(chunk));
    this.process.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
  }

  private deliver(message: Message): void {
    const waiter = this.waiters.findIndex((w) => w.test(message));
    if (waiter === -1) this.received.push(message);
    else this.waiters.splice(waiter, 1)[0]?.resolve(message);
  }

  /** The first message (already received or still to come) that passes the test. */
  next(test: (m: Message) => boolean, timeoutMs = 60_000): Promise<Message> {
    const index = this.received.findIndex(test);
    if (index !== -1) return Promise.resolve(this.received.splice(index, 1)[0] as Message);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message within ${timeoutMs} ms; stderr: ${this.stderr}`)), timeoutMs);
      this.waiters.push({
        test,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  notify(method: string, params: JsonValue): void {
    this.process.stdin.write(frame({ jsonrpc: '2.0', method, params }));
  }

  async request(method: string, params: JsonValue, timeoutMs?: number): Promise<Message> {
    const id = this.nextId++;
    this.process.stdin.write(frame({ jsonrpc: '2.0', id, method, params }));
    return this.next((m) => m.id === id && m.method === undefined, timeoutMs);
  }

  /** The next diagnostics published for a file. */
  async diagnosticsOf(file: string, timeoutMs?: number): Promise<PublishedDiagnostics> {
    const uri = pathToFileURL(file).href;
    const message = await this.next(
      (m) => m.method === 'textDocument/publishDiagnostics' && (m.params as unknown as PublishedDiagnostics | undefined)?.uri === uri,
      timeoutMs,
    );
    return message.params as unknown as PublishedDiagnostics;
  }

  async initialize(root: string): Promise<Message> {
    const reply = await this.request('initialize', { processId: process.pid, rootUri: pathToFileURL(root).href, capabilities: {} }, 300_000);
    this.notify('initialized', {});
    return reply;
  }

  /** shutdown, exit, and the process's exit code. */
  async stop(): Promise<number | null> {
    const exited = new Promise<number | null>((resolve) => this.process.on('exit', (code) => resolve(code)));
    await this.request('shutdown', null);
    this.notify('exit', null);
    return exited;
  }
}
