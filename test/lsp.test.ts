/**
 * `policyc lsp` driven as an editor drives it: a process on stdio, initialize, didOpen, didChange, didClose,
 * publishDiagnostics. The ranges are those of `examples/broken/expected-diagnostics.txt` (1-based there,
 * 0-based in LSP), and an unsaved edit is checked as typed, without touching the file on disk.
 */
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { EXAMPLES } from './helpers';
import { LspClient, type PublishedDiagnostics } from './lsp-client';

const folder = path.join(EXAMPLES, 'broken');
const file = path.join(folder, 'policy.ts');
const uri = pathToFileURL(file).href;
const onDisk = fs.readFileSync(file, 'utf8');

type Range = readonly [line: number, character: number, endLine: number, endCharacter: number];

/** Code, severity and range of each diagnostic, in the order published. */
function summary(published: PublishedDiagnostics): string[] {
  return published.diagnostics.map((d) => {
    const { start, end } = d.range;
    return `${d.code} ${d.severity === 1 ? 'error' : 'warning'} ${start.line}:${start.character}-${end.line}:${end.character}`;
  });
}

const at = (code: string, severity: string, [line, character, endLine, endCharacter]: Range): string =>
  `${code} ${severity} ${line}:${character}-${endLine}:${endCharacter}`;

// examples/broken/expected-diagnostics.txt: policy.ts:15:30 PC3001 (`service`, 7), 20:31 PC3002, 33:16 PC3011 (`to`),
// 35:35 PC3015, 37:21 PC3013 and PC3016.
const BROKEN = [
  at('PC3001', 'error', [14, 29, 14, 36]),
  at('PC3002', 'error', [19, 30, 19, 37]),
  at('PC3011', 'error', [32, 15, 32, 17]),
  at('PC3015', 'error', [34, 34, 34, 36]),
  at('PC3013', 'warning', [36, 20, 36, 22]),
  at('PC3016', 'error', [36, 20, 36, 22]),
];

describe('policyc lsp', () => {
  let client: LspClient;
  beforeAll(async () => {
    client = new LspClient(folder);
    const reply = await client.initialize(folder);
    assert.deepEqual((reply.result as { capabilities: unknown }).capabilities, {
      textDocumentSync: { openClose: true, change: 1, save: { includeText: false } },
      codeActionProvider: { codeActionKinds: ['quickfix'] },
    });
  });
  afterAll(async () => {
    assert.equal(await client.stop(), 0);
  });

  it('GIVEN examples/broken opened WHEN checked THEN every policyc diagnostic is published at its exact range', async () => {
    client.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'typescript', version: 1, text: onDisk } });
    const published = await client.diagnosticsOf(file);
    assert.deepEqual(summary(published), BROKEN);
    const duplicate = published.diagnostics[0];
    assert.match(duplicate?.message ?? '', /^Service 'shop\/checkout' is declared twice\./);
    assert.deepEqual(duplicate?.relatedInformation, [
      { location: { uri, range: { start: { line: 9, character: 24 }, end: { line: 9, character: 31 } } }, message: 'The first declaration is here.' },
    ]);
  });

  it('GIVEN an unsaved edit that fixes the CIDR WHEN changed THEN PC3015 goes and the rest stay, and the file on disk is untouched', async () => {
    const fixed = onDisk.replace("ipBlocks('10.1.2.3/8')", "ipBlocks('10.0.0.0/8')");
    client.notify('textDocument/didChange', { textDocument: { uri, version: 2 }, contentChanges: [{ text: fixed }] });
    const published = await client.diagnosticsOf(file);
    assert.deepEqual(
      summary(published),
      BROKEN.filter((d) => !d.startsWith('PC3015')),
    );
    assert.equal(fs.readFileSync(file, 'utf8'), onDisk);
  });

  it('GIVEN a rule that names a port its destination lacks WHEN changed THEN the type error is published and the quick fix adds the port', async () => {
    const typo = onDisk.replace("to(billing, { ports: ['http'], paths", "to(billing, { ports: ['grpc'], paths");
    client.notify('textDocument/didChange', { textDocument: { uri, version: 3 }, contentChanges: [{ text: typo }] });
    const published = await client.diagnosticsOf(file);
    assert.deepEqual(summary(published), [at('PC1002', 'error', [36, 42, 36, 48])]);
    const actions = await client.request('textDocument/codeAction', {
      textDocument: { uri },
      range: published.diagnostics[0]?.range ?? null,
      context: { diagnostics: published.diagnostics as never },
    });
    const [action] = actions.result as { title: string; kind: string; edit: { changes: Record<string, { range: unknown; newText: string }[]> } }[];
    assert.equal(action?.title, "Add port 'grpc' to the ports of 'billing'");
    assert.equal(action.kind, 'quickfix');
    // Applied as an editor applies it, the policy type-checks again: only the policyc diagnostics remain.
    const [edit] = action.edit.changes[uri] ?? [];
    assert.deepEqual(edit, {
      range: { start: { line: 25, character: 49 }, end: { line: 25, character: 49 } },
      newText: ", grpc: { port: 8081, protocol: 'http' }",
    });
    const lines = typo.split('\n');
    lines[25] = `${lines[25]?.slice(0, 49)}${edit?.newText}${lines[25]?.slice(49)}`;
    client.notify('textDocument/didChange', { textDocument: { uri, version: 4 }, contentChanges: [{ text: lines.join('\n') }] });
    const after = await client.diagnosticsOf(file);
    assert.ok(!summary(after).some((d) => d.startsWith('PC1002')), summary(after).join('\n'));
    assert.ok(summary(after).includes(BROKEN[0] ?? ''));
  });

  it('GIVEN the unsaved buffer is closed WHEN checked THEN the diagnostics are those of the file on disk again', async () => {
    client.notify('textDocument/didClose', { textDocument: { uri } });
    assert.deepEqual(summary(await client.diagnosticsOf(file)), BROKEN);
  });
});
