/**
 * The output folder is policyc's, and only its own files are touched: GIVEN a target folder holding a user's
 * file or a symbolic link, THEN the build refuses and names it, leaving everything as it was; GIVEN a build
 * killed with SIGKILL anywhere while writing, THEN every file holds its old or its new content, `--check`
 * fails, and the next build repairs the folder; GIVEN any entry file name, THEN no output file gains a
 * document or a key.
 */
import { printableName } from '../model/printable';
import { describe, it } from '@jest/globals';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { generate } from '../bench/generate';
import { compile } from '../compiler/compile';
import { HEADER_PREFIX, type RenderedFiles } from '../compiler/render';
import { INCOMPLETE_MARKER, INDEX_FILE, LOCK_FILE, OutputFolderError, staleOutputs, unsafeOutputFolder, writeOutputs } from '../compiler/write';
import { targets } from '../meshes';
import { EXAMPLES, readTree, REPO, runCli, tempProject } from './helpers';

const SHOP_SOURCES = Object.fromEntries([...readTree(path.join(EXAMPLES, 'shop'))].filter(([f]) => f.endsWith('.ts') && !f.includes('/')));
const BUILD = ['build', '--target', 'all', '--format', 'json'] as const;

/** The CLI's codes (PC5xxx) among a JSON run's diagnostics; the shop's own Linkerd warnings are not the point here. */
function codes(run: { stdout: string }): string[] {
  return (JSON.parse(run.stdout) as { diagnostics: { code: string }[] }).diagnostics.map((d) => d.code).filter((c) => c.startsWith('PC5'));
}

/** A copy of the shop, built once. */
function builtShop(): { dir: string; out: string; good: Map<string, string> } {
  const dir = tempProject(SHOP_SOURCES);
  const run = runCli(BUILD, dir);
  assert.equal(run.exit, 0, run.stderr);
  const out = path.join(dir, 'manifests');
  return { dir, out, good: readTree(out) };
}

describe('the output folder holds only policyc’s files', () => {
  it('GIVEN a user file in a target folder WHEN built THEN PC5008 names it, exit 2, and nothing changes; --adopt takes the folder over', () => {
    const { dir, out, good } = builtShop();
    fs.writeFileSync(path.join(out, 'istio', 'shop', 'mine.yaml'), 'kind: Mine\n');
    fs.writeFileSync(path.join(out, 'linkerd', 'notes.txt'), 'my notes\n');
    const before = readTree(out);
    const run = runCli(BUILD, dir);
    assert.equal(run.exit, 2);
    assert.deepEqual(codes(run), ['PC5008', 'PC5008']);
    assert.match(run.stdout, /manifests\/istio\/shop\/mine\.yaml/);
    assert.match(run.stdout, /manifests\/linkerd\/notes\.txt/);
    assert.deepEqual(readTree(out), before);
    // build --check refuses the same folder the same way
    const check = runCli([...BUILD, '--check'], dir);
    assert.equal(check.exit, 2);
    assert.deepEqual(codes(check), ['PC5008', 'PC5008']);
    // --adopt: the folder becomes policyc's, the user's files go
    const adopted = runCli([...BUILD, '--adopt'], dir);
    assert.equal(adopted.exit, 0, adopted.stdout);
    assert.deepEqual(readTree(out), good);
  });

  it('GIVEN symbolic links (the target folder, a subfolder, a file) WHEN built THEN PC5009, exit 2, even with --adopt, and what they point to is untouched', () => {
    const { dir, out } = builtShop();
    const elsewhere = tempProject({ 'precious.yaml': 'kind: Precious\n', 'keep/a.yaml': 'a\n' });
    // the target folder itself is a link
    fs.renameSync(path.join(out, 'istio'), path.join(elsewhere, 'istio-real'));
    fs.symlinkSync(path.join(elsewhere, 'keep'), path.join(out, 'istio'));
    // a file and a subfolder inside the other target are links
    fs.symlinkSync(path.join(elsewhere, 'precious.yaml'), path.join(out, 'linkerd', 'shop', 'precious.yaml'));
    fs.symlinkSync(path.join(elsewhere, 'keep'), path.join(out, 'linkerd', 'keep'));
    const outside = readTree(elsewhere);
    for (const args of [BUILD, [...BUILD, '--adopt'], [...BUILD, '--check']]) {
      const run = runCli(args, dir);
      assert.equal(run.exit, 2, args.join(' '));
      assert.deepEqual(codes(run), ['PC5009', 'PC5009']);
      assert.match(run.stdout, /manifests\/istio is a symbolic link/);
      assert.match(run.stdout, /manifests\/linkerd\/keep, manifests\/linkerd\/shop\/precious\.yaml/);
      assert.deepEqual(readTree(elsewhere), outside);
    }
  });

  it('GIVEN a folder written before the index (policyc headers, no index) WHEN built THEN it is recognised as policyc’s and gets an index', () => {
    const { dir, out, good } = builtShop();
    fs.rmSync(path.join(out, 'istio', INDEX_FILE));
    fs.rmSync(path.join(out, 'linkerd', INDEX_FILE));
    const check = runCli([...BUILD, '--check'], dir);
    assert.equal(check.exit, 1, 'a missing index is stale');
    assert.equal(runCli(BUILD, dir).exit, 0);
    assert.deepEqual(readTree(out), good);
  });

  it('GIVEN an unchanged policy WHEN built again THEN no file is rewritten (timestamps kept)', () => {
    const { dir, out } = builtShop();
    const file = path.join(out, 'istio', 'shop', 'payments.yaml');
    const index = path.join(out, 'istio', INDEX_FILE);
    const past = new Date('2020-01-01T00:00:00Z');
    fs.utimesSync(file, past, past);
    fs.utimesSync(index, past, past);
    const run = runCli(['build', '--target', 'all'], dir);
    assert.equal(run.exit, 0);
    assert.match(run.stdout, /istio: 9 files in manifests\/istio \(0 written or removed\)/);
    assert.equal(fs.statSync(file).mtime.getTime(), past.getTime());
    assert.equal(fs.statSync(index).mtime.getTime(), past.getTime());
  });

  it('GIVEN a lock held by a live process THEN PC5010 and exit 2; GIVEN a dead holder’s lock, leftover temporary files and an old staging folder THEN the build takes over and cleans up', () => {
    const { dir, out, good } = builtShop();
    const sleeper = spawn('sleep', ['30']);
    try {
      fs.writeFileSync(path.join(out, 'istio', LOCK_FILE), `${sleeper.pid}\n`);
      const locked = runCli(BUILD, dir);
      assert.equal(locked.exit, 2);
      assert.deepEqual(codes(locked), ['PC5010']);
      assert.match(locked.stdout, new RegExp(`pid ${sleeper.pid}`));
    } finally {
      sleeper.kill('SIGKILL');
    }
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    fs.writeFileSync(path.join(out, 'istio', LOCK_FILE), `${gone}\n`);
    fs.writeFileSync(path.join(out, 'istio', 'shop', `.checkout.yaml.policyc-tmp-${gone}`), 'half a fi');
    fs.writeFileSync(path.join(out, 'linkerd', `${LOCK_FILE}.${gone}`), `${gone}\n`);
    fs.mkdirSync(path.join(out, `.istio.staging-${gone}`, 'shop'), { recursive: true }); // what policyc before the index left
    fs.writeFileSync(path.join(out, `.istio.staging-${gone}`, 'shop', 'a.yaml'), 'half');
    const run = runCli(BUILD, dir);
    assert.equal(run.exit, 0, run.stdout);
    assert.deepEqual(readTree(out), good);
  });

  it('GIVEN an unsafe --out (a filesystem root, the home folder, a repository root, the policy’s own folder or a parent) THEN PC5007 and exit 2, writing nothing', () => {
    const dir = tempProject({ 'policy/policy.ts': SHOP_SOURCES['policy.ts'] ?? '', 'repo/.git/HEAD': 'ref: refs/heads/main\n' });
    for (const name of ['namespaces.ts', 'shop.ts', 'data.ts', 'monitoring.ts']) fs.writeFileSync(path.join(dir, 'policy', name), SHOP_SOURCES[name] ?? '');
    for (const out of [path.parse(dir).root, os.homedir(), 'repo', 'policy', '.', 'policy/.']) {
      const before = readTree(dir);
      const run = runCli([...BUILD, 'policy/policy.ts', '--out', out], dir);
      assert.equal(run.exit, 2, out);
      assert.deepEqual(codes(run), ['PC5007'], out);
      assert.deepEqual(readTree(dir), before);
    }
    const home = path.join(dir, 'home');
    assert.match(unsafeOutputFolder(home, path.join(dir, 'policy', 'policy.ts'), 'home', home)?.message ?? '', /your home folder/);
    assert.equal(runCli([...BUILD, 'policy/policy.ts', '--out', 'repo/manifests'], dir).exit, 0);
  });
});

describe('entry file names cannot inject YAML', () => {
  it('GIVEN an entry named with a newline, `---`, `#` and control characters WHEN built THEN every file holds the clean build’s documents and its only comment is the escaped header', () => {
    const name = 'evil\n---\nkind: Secret\n# x\u0007\u0085\u2028 #y: z.ts';
    const dir = tempProject({ [name]: fs.readFileSync(path.join(EXAMPLES, 'simple', 'policy.ts'), 'utf8') });
    const run = runCli(['build', name, '--target', 'all'], dir);
    assert.equal(run.exit, 0, run.stderr);
    const clean = tempProject({ 'policy.ts': fs.readFileSync(path.join(EXAMPLES, 'simple', 'policy.ts'), 'utf8') });
    assert.equal(runCli(['build', '--target', 'all'], clean).exit, 0);
    const expected = readTree(path.join(clean, 'manifests'));
    const files = [...readTree(path.join(dir, 'manifests'))].filter(([f]) => f.endsWith('.yaml'));
    assert.ok(files.length > 5);
    for (const [file, text] of files) {
      const lines = text.split('\n');
      assert.equal(
        lines[0],
        `${HEADER_PREFIX}"evil\\u000a---\\u000akind: Secret\\u000a# x\\u0007\\u0085\\u2028 #y: z.ts". Do not edit: change the policy and run \`policyc build\`.`,
      );
      assert.ok(!/[\u0000-\u0009\u000b-\u001f\u0085\u2028\u2029]/.test(text), `${file} holds a raw control or line-break character`);
      // As many documents as the same file of the clean build (a service's file holds several), each the same object.
      const clean = parseAllDocuments(expected.get(file) ?? '').map((d) => JSON.stringify(d.toJS()));
      assert.ok(clean.length >= 1, file);
      for (const version of ['1.1', '1.2'] as const) {
        const parsed = parseAllDocuments(text, { version });
        assert.equal(parsed.length, clean.length, `${file} (YAML ${version})`);
        // The name reaches the objects only as the escaped text of the source annotation.
        const named = parsed.map((d) =>
          JSON.stringify(d.toJS())
            .split(JSON.stringify(printableName(name)).slice(1, -1))
            .join('policy.ts'),
        );
        assert.deepEqual(named, clean, `${file} (YAML ${version})`);
      }
    }
  });
});

/** The shop, or a generated policy, rendered for Istio. */
function render(entry: string): RenderedFiles {
  const istio = targets.get('istio');
  assert.ok(istio !== undefined);
  const result = compile({ entry, targets: [istio] });
  const files = result.outputs.get('istio');
  assert.ok(files !== undefined, result.diagnostics.map((d) => d.message).join('\n'));
  return files;
}

/** The manifests of a folder: not policyc's bookkeeping, not a killed build's temporary files (which kubectl and kustomize ignore). */
function manifestFiles(dir: string): Map<string, string> {
  return new Map([...readTree(dir)].filter(([f]) => !path.basename(f).startsWith('.') && !/\.policyc-tmp-\d+$/.test(f)));
}

function runChild(out: string, outputs: string, pauseAt: number | undefined, killAfterMs: number | undefined): Promise<'killed' | 'finished'> {
  const child = spawn(
    process.execPath,
    [path.join(REPO, 'dist', 'test', 'output-writer-child.js'), out, outputs, ...(pauseAt === undefined ? [] : [String(pauseAt)])],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    let printed = '';
    child.stdout.on('data', (chunk: Buffer) => {
      printed += chunk.toString('utf8');
      if (pauseAt !== undefined && printed.includes('paused\n')) child.kill('SIGKILL');
      if (killAfterMs !== undefined && printed.startsWith('start\n') && !printed.includes('timer')) {
        printed += 'timer';
        setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      signal === 'SIGKILL' ? resolve('killed') : code === 0 ? resolve('finished') : reject(new Error(`writer exited ${code}`)),
    );
  });
}

describe('a build killed while it writes', () => {
  it('GIVEN 2,000 services WHEN the writer is SIGKILLed at 24 points THEN each file holds its old or new content, --check fails, and the next build repairs the folder', async () => {
    // GIVEN a 2,000-service policy rendered once (the writer is what is killed, not the compiler), and a next
    // version of its output: every 12th file changed, every 20th removed, some added. About 35 s of CPU in
    // all; the generous timeout is for a machine shared by many test runs.
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'policyc-kill-'));
    const repo = generate(2000, path.join(root, 'policy'), 1);
    const built = spawnSync(process.execPath, [path.join(REPO, 'dist', 'cli', 'main.js'), 'build', repo.entry, '--out', path.join(root, 'built')], {
      encoding: 'utf8',
    });
    assert.equal(built.status, 0, built.stderr);
    const rendered: RenderedFiles = manifestFiles(path.join(root, 'built', 'istio'));
    const nextFiles = new Map<string, string>();
    [...rendered].forEach(([file, text], i) => {
      if (i % 20 === 19) return;
      nextFiles.set(file, i % 12 === 0 ? `${text}# changed\n` : text);
      if (i % 40 === 1) nextFiles.set(file.replace(/\.yaml$/, '-added.yaml'), text);
    });
    const versions = [rendered, nextFiles].map((files, i) => {
      const json = path.join(root, `outputs-${i}.json`);
      fs.writeFileSync(json, JSON.stringify({ istio: Object.fromEntries(files) }));
      return { files: files as RenderedFiles, json };
    });
    const [old, next] = versions as [(typeof versions)[0], (typeof versions)[0]];
    const changed = [...next.files].filter(([f, t]) => old.files.get(f) !== t).length;
    const removed = [...old.files.keys()].filter((f) => !next.files.has(f)).length;
    assert.ok(changed > 150 && removed > 90, `${changed} written, ${removed} removed`);
    const out = path.join(root, 'manifests');
    writeOutputs(out, new Map([['istio', old.files]]));

    // Every manifest on disk is whole: the old or the new version of its path, never a part, never a stranger.
    const assertWhole = (label: string): void => {
      for (const [file, text] of manifestFiles(path.join(out, 'istio'))) {
        assert.ok(
          text === old.files.get(file) || text === next.files.get(file),
          `${label}: ${file} is neither its old nor its new content (${text.length} bytes)`,
        );
      }
    };
    const checkFails = (): void => {
      assert.throws(
        () => staleOutputs(out, new Map([['istio', next.files]])),
        (e: unknown) => e instanceof OutputFolderError && e.diagnostics.some((d) => d.code === 'PC5011'),
      );
    };

    // WHEN killed after chosen steps (from just after the marker to just before its removal), alternating the
    // direction so that later builds start from folders that mix both versions
    const points = [...Array.from({ length: 20 }, (_, i) => i / 20), -1];
    let kills = 0;
    for (const [i, point] of points.entries()) {
      const toward = i % 2 === 0 ? next : old;
      assert.equal(await runChild(out, toward.json, point, undefined), 'killed');
      kills++;
      assertWhole(`paused at step ${point}`);
      assert.ok(fs.existsSync(path.join(out, 'istio', INCOMPLETE_MARKER)), `marker after a kill at step ${point}`);
      if (i % 5 === 0) checkFails();
    }
    // AND at random moments, mid-file included
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 400;
    for (let i = 0; i < 3; i++) {
      const outcome = await runChild(out, (i % 2 === 0 ? next : old).json, undefined, random());
      if (outcome === 'killed') kills++;
      assertWhole(`killed at a random moment (${i})`);
    }
    assert.ok(kills >= 20, `${kills} kills`);
    // THEN the next build repairs the folder completely, and reports that it did
    const interrupted = fs.existsSync(path.join(out, 'istio', INCOMPLETE_MARKER));
    const repaired = writeOutputs(out, new Map([['istio', next.files]]));
    assert.deepEqual(
      repaired.diagnostics.map((d) => d.code),
      interrupted ? ['PC5012'] : [],
    );
    assert.deepEqual(manifestFiles(path.join(out, 'istio')), new Map(next.files));
    assert.deepEqual(
      [...readTree(path.join(out, 'istio')).keys()].filter((f) => path.basename(f).startsWith('.')),
      [INDEX_FILE],
    );
    assert.deepEqual(staleOutputs(out, new Map([['istio', next.files]])), []);
    fs.rmSync(root, { recursive: true, force: true });
  }, 420_000);

  it('GIVEN the shop’s folder interrupted by a SIGKILL WHEN `build --check` runs THEN PC5011 and exit 1; `build` repairs it (PC5012) and --check passes', async () => {
    const dir = tempProject(SHOP_SOURCES);
    const files = render(path.join(dir, 'policy.ts'));
    const out = path.join(dir, 'manifests');
    const json = path.join(dir, 'outputs.json');
    fs.writeFileSync(json, JSON.stringify({ istio: Object.fromEntries(files) }));
    assert.equal(await runChild(out, json, 0.5, undefined), 'killed');
    const check = runCli(['build', '--check', '--format', 'json'], dir);
    assert.equal(check.exit, 1);
    assert.deepEqual(codes(check), ['PC5011']);
    assert.match(check.stdout, /manifests\/istio holds a build that was interrupted/);
    const build = runCli(['build', '--format', 'json'], dir);
    assert.equal(build.exit, 0);
    assert.deepEqual(codes(build), ['PC5012']);
    assert.equal(runCli(['build', '--check'], dir).exit, 0);
  });
});
