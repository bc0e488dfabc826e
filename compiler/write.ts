/**
 * Write a build's output folders, touching only policyc's own files.
 *
 * Each target folder `<out>/<target>/` is policyc's: `.policyc-index` lists every file policyc wrote there
 * (path and content hash). A folder without an index (written before policyc kept one) is recognised by
 * the header of its files. Anything else in the folder (a user's file, a symbolic link anywhere, the
 * target folder itself a link) stops the build with an error that names it: policyc never deletes,
 * overwrites or writes through what it did not write, unless `adopt` takes the folder over explicitly.
 *
 * A build holds `.policyc-lock` (its pid; a dead holder's lock is taken over) in every target folder it
 * writes, so two builds never interleave. When anything is to change it writes `.policyc-incomplete`
 * first (the paths that may exist while it runs) and removes it last: a build killed in between is
 * detected, `build --check` fails on it and the next build repairs it. Every file is written to a
 * temporary name beside its place, flushed, and renamed over it, so each path holds its old or its new
 * content, never a part. Files whose bytes did not change are not rewritten (their timestamps stay).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic';
import { HEADER_PREFIX, type RenderedFiles } from './render';

/** policyc's bookkeeping files in a target folder; never rendered output. */
export const INDEX_FILE = '.policyc-index';
export const INCOMPLETE_MARKER = '.policyc-incomplete';
export const LOCK_FILE = '.policyc-lock';
/** `<name>.policyc-tmp-<pid>`: a file being written; left over only by a killed build. */
const TEMP_SUFFIX = /\.policyc-tmp-\d+$/;
/** `.policyc-lock.<pid>`: a lock being taken. */
const LOCK_CANDIDATE = /^\.policyc-lock\.(\d+)(?:\.stale)?$/;
const INDEX_HEAD = '# policyc output index: the files policyc wrote in this folder (sha256 prefix, path). Do not edit.\n';

/** A refusal to touch an output folder, as the diagnostic the CLI prints. */
export class OutputFolderError extends Error {
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    super(diagnostics.map((d) => d.message).join('\n'));
  }
}

export interface WriteOptions {
  /** Take over target folders that hold files policyc did not write (symbolic links are still refused). */
  readonly adopt?: boolean;
  /** Called after every change on disk, with how many of the planned changes are done (progress; tests stop a build here). */
  readonly onStep?: (done: number, total: number) => void;
  /** What this process last wrote (watch mode): trusted instead of reading every file back. */
  readonly previous?: ReadonlyMap<string, WrittenTarget>;
  /** Paths in messages are shown relative to this folder (the working directory). */
  readonly cwd?: string;
}

/** What a target folder holds after a write. */
export interface WrittenTarget {
  readonly files: RenderedFiles;
  readonly hashes: ReadonlyMap<string, string>;
}

export interface WriteResult {
  /** Per target, the relative paths written or removed. */
  readonly touched: ReadonlyMap<string, readonly string[]>;
  readonly written: ReadonlyMap<string, WrittenTarget>;
  /** Warnings: target folders whose interrupted build this write repaired. */
  readonly diagnostics: readonly Diagnostic[];
}

function shownPath(file: string, cwd: string | undefined): string {
  return cwd === undefined ? file : path.relative(cwd, file).split(path.sep).join('/') || '.';
}

function contentHash(content: string): string {
  return createHash('sha256').update(content).digest('hex').slice(0, 16);
}

function indexText(hashes: ReadonlyMap<string, string>): string {
  return INDEX_HEAD + [...hashes].map(([file, hash]) => `${hash} ${file}\n`).join('');
}

/** The paths an index or marker lists; undefined when the file is absent. */
function readPathList(file: string): Map<string, string> | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const listed = new Map<string, string>();
  for (const line of text.split('\n')) {
    const space = line.indexOf(' ');
    if (line.startsWith('#') || space === -1) continue;
    const file = line.slice(space + 1);
    if (isSafeRelativePath(file)) listed.set(file, line.slice(0, space));
  }
  return listed;
}

/**
 * A rendered path policyc may write: `/`-separated segments of letters, digits, `.`, `_` and `-`, none
 * starting with a dot (so no `..`, no hidden files that could be mistaken for policyc's bookkeeping), ending
 * in `.yaml`. Names come from the validated model; this is the last guard before the file system.
 */
export function isSafeRelativePath(file: string): boolean {
  return /^(?:[A-Za-z0-9_][A-Za-z0-9._-]*\/)*[A-Za-z0-9_][A-Za-z0-9._-]*\.yaml$/.test(file) && file.length < 1024;
}

function exists(file: string): boolean {
  try {
    fs.lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/** A path with symbolic links resolved as far as it exists. */
function realPath(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    const parent = path.dirname(file);
    return parent === file ? file : path.join(realPath(parent), path.basename(file));
  }
}

function inside(folder: string, file: string): boolean {
  const relative = path.relative(folder, file);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/**
 * Why `outDir` must not be an output folder, or undefined: a filesystem root, the user's home, a repository
 * root (a folder holding `.git`), or a folder that holds the policy's own folder.
 */
export function unsafeOutputFolder(outDir: string, entry: string, shown: string, home = os.homedir()): Diagnostic | undefined {
  const out = realPath(path.resolve(outDir));
  const refuse = (why: string): Diagnostic =>
    diagnostic('unsafe-output-folder', `--out ${shown} is ${why}; policyc owns its output folder, so pass a folder of its own, e.g. --out manifests.`);
  if (path.parse(out).root === out) return refuse('a filesystem root');
  if (out === realPath(home)) return refuse('your home folder');
  if (exists(path.join(out, '.git'))) return refuse('the root of a git repository');
  if (inside(out, realPath(path.dirname(path.resolve(entry))))) return refuse(`a folder that holds the policy (${path.basename(entry)})`);
  return undefined;
}

interface Inspection {
  readonly dir: string;
  /** Files policyc may replace or remove, with their content (read lazily where `previous` is trusted). */
  readonly owned: ReadonlyMap<string, string>;
  /** Leftovers of killed builds: temporary files, abandoned lock candidates. */
  readonly leftovers: readonly string[];
  readonly interrupted: boolean;
  /** The index file's text on disk. */
  readonly indexOnDisk: string | undefined;
}

function lockHolder(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The target folder, refused when it (or its parent chain inside `<out>`) is a symbolic link or not a folder. */
function checkTargetFolder(outDir: string, dir: string, shown: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(dir);
  } catch {
    return;
  }
  if (stat.isSymbolicLink())
    throw new OutputFolderError([
      diagnostic('output-symlink', `${shown} is a symbolic link; policyc never writes through one. Replace it with a real folder, or pick another --out.`),
    ]);
  if (!stat.isDirectory()) throw new Error(`${shown} exists and is not a folder`);
  if (!inside(outDir, dir)) throw new Error(`${shown} is outside ${outDir}`);
}

/**
 * Reads a target folder: what policyc owns there, what it left over, whether a build was interrupted; throws
 * an OutputFolderError naming every symbolic link and every file policyc did not write (unless `adopt`).
 */
function inspect(dir: string, shown: string, adopt: boolean, trusted: WrittenTarget | undefined): Inspection {
  const pending = readPathList(path.join(dir, INCOMPLETE_MARKER));
  // Watch mode: what this process wrote last is what the folder holds, unless a build was interrupted since.
  if (trusted !== undefined && pending === undefined)
    return { dir, owned: trusted.files, leftovers: [], interrupted: false, indexOnDisk: indexText(trusted.hashes) };
  const index = readPathList(path.join(dir, INDEX_FILE));
  const indexOnDisk = index === undefined ? undefined : fs.readFileSync(path.join(dir, INDEX_FILE), 'utf8');
  const listed = new Set([...(index?.keys() ?? []), ...(pending?.keys() ?? [])]);
  const byHeader = index === undefined && pending === undefined;
  const owned = new Map<string, string>();
  const leftovers: string[] = [];
  const symlinks: string[] = [];
  const foreign: string[] = [];
  const walk = (current: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(current, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      const full = path.join(current, entry.name);
      const relative = path.relative(dir, full).split(path.sep).join('/');
      if (entry.isSymbolicLink()) symlinks.push(relative);
      else if (entry.isDirectory()) walk(full);
      else if (current === dir && (entry.name === INDEX_FILE || entry.name === INCOMPLETE_MARKER || entry.name === LOCK_FILE)) continue;
      else if (TEMP_SUFFIX.test(entry.name)) leftovers.push(full);
      else if (current === dir && LOCK_CANDIDATE.test(entry.name)) {
        if (!alive(Number(LOCK_CANDIDATE.exec(entry.name)?.[1]))) leftovers.push(full);
      } else if (!entry.isFile()) foreign.push(relative);
      else {
        const content = fs.readFileSync(full, 'utf8');
        if (listed.has(relative) || (byHeader && content.startsWith(HEADER_PREFIX)) || adopt) owned.set(relative, content);
        else foreign.push(relative);
      }
    }
  };
  walk(dir);
  const problems: Diagnostic[] = [];
  const named = (files: string[]) =>
    `${files
      .sort()
      .slice(0, 10)
      .map((f) => `${shown}/${f}`)
      .join(', ')}${files.length > 10 ? ` and ${files.length - 10} more` : ''}`;
  if (symlinks.length > 0)
    problems.push(
      diagnostic(
        'output-symlink',
        `${shown} holds symbolic links, which policyc never writes through or deletes: ${named(symlinks)}. Remove them, or pick another --out.`,
      ),
    );
  if (foreign.length > 0)
    problems.push(
      diagnostic(
        'foreign-output-files',
        `${shown} holds files policyc did not write: ${named(foreign)}. policyc owns this folder and would replace or delete them: move them out, pick another --out, or pass --adopt to let policyc take the folder over.`,
      ),
    );
  if (problems.length > 0) throw new OutputFolderError(problems);
  return { dir, owned, leftovers, interrupted: pending !== undefined, indexOnDisk };
}

/** Takes `<dir>/.policyc-lock` for this process, taking over the lock of a process that is gone. */
function lock(dir: string, shown: string): () => void {
  const file = path.join(dir, LOCK_FILE);
  const candidate = path.join(dir, `${LOCK_FILE}.${process.pid}`);
  fs.writeFileSync(candidate, `${process.pid}\n`);
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        // link() fails when the lock exists, so exactly one process wins, and the lock is never seen half written.
        fs.linkSync(candidate, file);
        return () => fs.rmSync(file, { force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = lockHolder(file);
      if (holder !== undefined && alive(holder))
        throw new OutputFolderError([
          diagnostic(
            'output-locked',
            `${shown} is being written by another policyc build (pid ${holder}). Wait for it to finish; if no policyc is running, delete ${shown}/${LOCK_FILE}.`,
          ),
        ]);
      // The holder is gone: move its lock aside (one process succeeds) and try again.
      const stale = `${candidate}.stale`;
      try {
        fs.renameSync(file, stale);
      } catch {
        continue;
      }
      const moved = lockHolder(stale);
      if (moved !== holder && moved !== undefined && alive(moved)) {
        // A live process took the lock between our read and the rename: give it back.
        try {
          fs.linkSync(stale, file);
        } catch {
          // It is not ours to fix further; the next attempt reports the live holder.
        }
      }
      fs.rmSync(stale, { force: true });
    }
    throw new OutputFolderError([diagnostic('output-locked', `Could not take the lock ${shown}/${LOCK_FILE}: other builds keep taking it.`)]);
  } finally {
    fs.rmSync(candidate, { force: true });
  }
}

function temporaryName(file: string): string {
  return `${file}.policyc-tmp-${process.pid}`;
}

/** Writes the content under the file's temporary name; renamed over the file once flushed. */
function writeTemporary(file: string, content: string): string {
  const temporary = temporaryName(file);
  fs.writeFileSync(temporary, content);
  return temporary;
}

/** Up to this many files are flushed one by one (3 ms each on an ext4 disk); more are flushed with one `syncfs`. */
const FLUSH_ONE_BY_ONE = 64;

/**
 * Makes these files (or folders) under `dir` durable before the next step relies on them. A large build is
 * flushed with one `syncfs` (`sync -f`, Linux): an fsync per file would take 90 s for 30,000 files.
 */
function flushToDisk(dir: string, files: readonly string[]): void {
  if (files.length > FLUSH_ONE_BY_ONE && process.platform === 'linux' && spawnSync('sync', ['-f', dir], { stdio: 'ignore' }).status === 0) return;
  for (const file of files) {
    let fd: number | undefined;
    try {
      fd = fs.openSync(file, 'r');
      fs.fsyncSync(fd);
    } catch {
      // Folders cannot be flushed on every platform (Windows); the marker still tells an unfinished build.
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
}

/** Replaces one small bookkeeping file atomically and durably. */
function replaceFile(file: string, content: string): void {
  const temporary = temporaryName(file);
  const fd = fs.openSync(temporary, 'w');
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temporary, file);
}

interface Plan {
  readonly target: string;
  readonly inspection: Inspection;
  readonly files: RenderedFiles;
  readonly writes: readonly string[];
  readonly removals: readonly string[];
  readonly hashes: ReadonlyMap<string, string>;
  readonly index: string;
}

function plan(target: string, inspection: Inspection, files: RenderedFiles, trusted: WrittenTarget | undefined): Plan {
  const writes: string[] = [];
  const hashes = new Map<string, string>();
  for (const [relative, content] of files) {
    if (!isSafeRelativePath(relative)) throw new Error(`refusing to write the rendered path '${relative}' (a policyc bug: please report it)`);
    const same = inspection.owned.get(relative) === content;
    if (!same) writes.push(relative);
    const known = same ? trusted?.hashes.get(relative) : undefined;
    hashes.set(relative, known ?? contentHash(content));
  }
  const removals = [...inspection.owned.keys()].filter((relative) => !files.has(relative));
  return { target, inspection, files, writes, removals, hashes, index: indexText(hashes) };
}

/** Brings every target folder to its rendered files; throws OutputFolderError when a folder is not policyc's to write. */
export function writeOutputs(outDir: string, outputs: ReadonlyMap<string, RenderedFiles>, options: WriteOptions = {}): WriteResult {
  const shownOf = (target: string) => shownPath(path.join(outDir, target), options.cwd);
  fs.mkdirSync(outDir, { recursive: true });
  const unlocks: (() => void)[] = [];
  try {
    removeOldStagingFolders(outDir, [...outputs.keys()]);
    const plans: Plan[] = [];
    // Every target folder is checked before any is written, and every refusal is reported at once.
    const refusals: Diagnostic[] = [];
    for (const [target, files] of [...outputs].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const dir = path.join(outDir, target);
      try {
        checkTargetFolder(outDir, dir, shownOf(target));
        fs.mkdirSync(dir, { recursive: true });
        unlocks.push(lock(dir, shownOf(target)));
        const trusted = options.previous?.get(target);
        plans.push(plan(target, inspect(dir, shownOf(target), options.adopt === true, trusted), files, trusted));
      } catch (error) {
        if (!(error instanceof OutputFolderError)) throw error;
        refusals.push(...error.diagnostics);
      }
    }
    if (refusals.length > 0) throw new OutputFolderError(refusals);
    const total = plans.reduce(
      (sum, p) => sum + 2 * p.writes.length + p.removals.length + (p.writes.length + p.removals.length > 0 || p.inspection.interrupted ? 3 : 0),
      0,
    );
    let done = 0;
    const step = () => options.onStep?.(++done, total);
    const touched = new Map<string, readonly string[]>();
    const written = new Map<string, WrittenTarget>();
    const diagnostics: Diagnostic[] = [];
    for (const p of plans) {
      const { dir } = p.inspection;
      for (const leftover of p.inspection.leftovers) fs.rmSync(leftover, { force: true });
      const changes = p.writes.length + p.removals.length > 0 || p.inspection.interrupted;
      if (changes) {
        // First: every path that may exist while this build runs, so a killed build's files stay ours.
        const pending = new Map([...p.hashes, ...[...p.inspection.owned.keys()].map((f) => [f, '-'] as const)]);
        replaceFile(path.join(dir, INCOMPLETE_MARKER), indexText(pending));
        step();
      }
      // Every new content is written under a temporary name and flushed before any file is replaced, so a
      // crash or a kill at any point leaves each path with its old or its new bytes.
      const folders = new Set<string>([dir]);
      const temporaries: string[] = [];
      for (const relative of p.writes) {
        const file = path.join(dir, relative);
        const parent = path.dirname(file);
        if (!folders.has(parent)) {
          fs.mkdirSync(parent, { recursive: true });
          folders.add(parent);
        }
        temporaries.push(writeTemporary(file, p.files.get(relative) ?? ''));
        step();
      }
      flushToDisk(dir, temporaries);
      for (const relative of p.writes) {
        const file = path.join(dir, relative);
        fs.renameSync(temporaryName(file), file);
        step();
      }
      // Only a folder a file was removed from can have been emptied: the others are not tried (a failed rmdir per
      // folder of a fresh build cost more than the check).
      const emptied = new Set<string>();
      for (const relative of p.removals) {
        fs.rmSync(path.join(dir, relative), { force: true });
        folders.add(path.dirname(path.join(dir, relative)));
        emptied.add(path.dirname(path.join(dir, relative)));
        step();
      }
      for (const folder of [...emptied].sort((a, b) => b.length - a.length)) removeIfEmpty(folder, dir);
      if (changes || p.inspection.indexOnDisk !== p.index) replaceFile(path.join(dir, INDEX_FILE), p.index);
      if (changes) {
        step();
        flushToDisk(
          dir,
          [...folders].filter((folder) => fs.existsSync(folder)),
        );
        fs.rmSync(path.join(dir, INCOMPLETE_MARKER), { force: true });
        step();
      }
      if (p.inspection.interrupted)
        diagnostics.push(
          diagnostic('output-repaired', `The previous build into ${shownOf(p.target)} was interrupted before it finished; this build repaired the folder.`),
        );
      touched.set(p.target, [...p.writes, ...p.removals].sort());
      written.set(p.target, { files: p.files, hashes: p.hashes });
    }
    return { touched, written, diagnostics };
  } finally {
    for (const unlock of unlocks) unlock();
  }
}

/**
 * Earlier policyc versions wrote a new target folder as `<out>/.<target>.staging-<pid>` and renamed it in;
 * a build killed in between left it behind. Removed when its process is gone (never through a link).
 */
function removeOldStagingFolders(outDir: string, targetNames: readonly string[]): void {
  for (const entry of fs.readdirSync(outDir, { withFileTypes: true })) {
    const staging = /^\.(.+)\.staging-(\d+)$/.exec(entry.name);
    if (staging === null || !entry.isDirectory() || !targetNames.includes(staging[1] ?? '') || alive(Number(staging[2]))) continue;
    fs.rmSync(path.join(outDir, entry.name), { recursive: true, force: true });
  }
}

/** Removes a folder this write emptied, and its emptied parents up to (not including) the target folder. */
function removeIfEmpty(folder: string, root: string): void {
  for (let current = folder; current !== root && inside(root, current); current = path.dirname(current)) {
    try {
      fs.rmdirSync(current);
    } catch {
      return;
    }
  }
}

/** A file of an output folder that `build` would change, with its content on disk and the content wanted. */
export interface StaleFile {
  readonly file: string;
  readonly have: string;
  readonly want: string;
}

/**
 * What `build` would change, without writing (`build --check`): the rendered files and the index compared
 * with the disk. Throws OutputFolderError for a folder `build` would refuse, or one holding an interrupted build.
 */
export function staleOutputs(outDir: string, outputs: ReadonlyMap<string, RenderedFiles>, options: Pick<WriteOptions, 'adopt' | 'cwd'> = {}): StaleFile[] {
  const stale: StaleFile[] = [];
  const refusals: Diagnostic[] = [];
  for (const [target, files] of outputs) {
    try {
      stale.push(...staleTarget(outDir, target, files, options));
    } catch (error) {
      if (!(error instanceof OutputFolderError)) throw error;
      refusals.push(...error.diagnostics);
    }
  }
  if (refusals.length > 0) throw new OutputFolderError(refusals);
  return stale.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

function staleTarget(outDir: string, target: string, files: RenderedFiles, options: Pick<WriteOptions, 'adopt' | 'cwd'>): StaleFile[] {
  const stale: StaleFile[] = [];
  {
    const dir = path.join(outDir, target);
    const shown = shownPath(dir, options.cwd);
    checkTargetFolder(outDir, dir, shown);
    const inspection = inspect(dir, shown, options.adopt === true, undefined);
    const holder = lockHolder(path.join(dir, LOCK_FILE));
    if (holder !== undefined && alive(holder))
      throw new OutputFolderError([
        diagnostic('output-locked', `${shown} is being written by a policyc build (pid ${holder}); check again when it has finished.`),
      ]);
    if (inspection.interrupted)
      throw new OutputFolderError([
        diagnostic(
          'output-interrupted',
          `${shown} holds a build that was interrupted before it finished (${INCOMPLETE_MARKER} is still there), so its files may mix two builds. Run \`policyc build\` to repair it, then commit the result.`,
        ),
      ]);
    const p = plan(target, inspection, files, undefined);
    for (const relative of [...p.writes, ...p.removals])
      stale.push({ file: `${target}/${relative}`, have: inspection.owned.get(relative) ?? '', want: files.get(relative) ?? '' });
    if (inspection.indexOnDisk !== p.index) stale.push({ file: `${target}/${INDEX_FILE}`, have: inspection.indexOnDisk ?? '', want: p.index });
  }
  return stale;
}
