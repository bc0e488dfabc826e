/**
 * Editor latency of `policyc lsp` on a generated repository: the time from an edit (didChange of an unsaved
 * buffer) to policyc's diagnostics for that file (publishDiagnostics), measured as the editor sees it,
 * through the process's stdio. The edit is bench/run.ts's: one more path in one rule of the namespace file in
 * the middle. The server waits 50 ms after the last change before checking; that wait is included.
 *
 * Usage: npm run build && node dist/bench/lsp.js [--services 1000] [--edits 5] [--target istio]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { generate } from './generate';
import { LspClient } from '../test/lsp-client';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : (process.argv[at + 1] ?? fallback);
}

async function main(): Promise<void> {
  const services = Number(option('--services', '1000'));
  const edits = Number(option('--edits', '5'));
  const target = option('--target', 'istio');
  const repo = generate(services, fs.mkdtempSync(path.join(os.tmpdir(), 'policyc-lsp-bench-')));
  const file = path.join(repo.dir, path.basename(repo.files[Math.floor((repo.files.length - 1) / 2)] as string));
  const uri = pathToFileURL(file).href;
  const original = fs.readFileSync(file, 'utf8');
  const lines = original.split('\n');
  const lineIndex = lines.findIndex((l) => l.includes("ports: ['http'], methods: ["));

  const client = new LspClient(repo.dir, ['--target', target]);
  await client.initialize(repo.dir);
  let t = performance.now();
  client.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'typescript', version: 1, text: original } });
  const first = await client.diagnosticsOf(file, 300_000);
  const openMs = performance.now() - t;
  process.stdout.write(
    `N = ${services}, --target ${target}: open + first diagnostics ${openMs.toFixed(0)} ms (${first.diagnostics.length} diagnostics in ${path.basename(file)})\n`,
  );

  const times: number[] = [];
  for (let edit = 1; edit <= edits; edit++) {
    const edited = [...lines];
    edited[lineIndex] = (lines[lineIndex] as string).replace("paths: ['", `paths: ['/edited-${edit}/*', '`);
    t = performance.now();
    client.notify('textDocument/didChange', { textDocument: { uri, version: edit + 1 }, contentChanges: [{ text: edited.join('\n') }] });
    await client.diagnosticsOf(file, 300_000);
    times.push(performance.now() - t);
    process.stdout.write(`  edit ${edit}: diagnostics after ${times.at(-1)?.toFixed(0)} ms\n`);
  }
  const sorted = [...times].sort((a, b) => a - b);
  process.stdout.write(
    `median edit → diagnostics: ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)} ms (min ${sorted[0]?.toFixed(0)}, max ${sorted.at(-1)?.toFixed(0)})\n`,
  );
  await client.stop();
  fs.rmSync(repo.dir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
