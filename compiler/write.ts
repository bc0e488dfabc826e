/**
 * Write a build's output folders. Nothing is written unless the whole build succeeded and every file is
 * rendered in memory. A new target folder is written beside its final place and renamed in; an existing
 * one is brought up to date file by file (only files whose bytes changed are written, files of objects
 * that left the model are removed), which at thousands of services is far cheaper than rewriting and
 * deleting every file, and leaves unchanged files untouched for tools that watch them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RenderedFiles } from './render';

/** Writes every target folder; returns, per target, how many files were written or removed. */
export function writeOutputs(outDir: string, outputs: ReadonlyMap<string, RenderedFiles>): Map<string, number> {
  const changed = new Map<string, number>();
  fs.mkdirSync(outDir, { recursive: true });
  for (const [target, files] of outputs) {
    const finalDir = path.join(outDir, target);
    if (fs.existsSync(finalDir)) {
      changed.set(target, syncOutputs(outDir, new Map([[target, files]])).length);
      continue;
    }
    changed.set(target, files.size);
    const staging = path.join(outDir, `.${target}.staging-${process.pid}`);
    fs.rmSync(staging, { recursive: true, force: true });
    try {
      writeFiles(staging, files);
      fs.renameSync(staging, finalDir);
    } finally {
      fs.rmSync(staging, { recursive: true, force: true });
    }
  }
  return changed;
}

function writeFiles(dir: string, files: RenderedFiles): void {
  const made = new Set<string>();
  for (const [relative, content] of files) {
    const file = path.join(dir, relative);
    const parent = path.dirname(file);
    if (!made.has(parent)) {
      fs.mkdirSync(parent, { recursive: true });
      made.add(parent);
    }
    fs.writeFileSync(file, content);
  }
}

/** The files of an existing output folder, as rendered files, for comparison (`build --check`). */
export function readOutput(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (current: string): void => {
    if (!fs.existsSync(current)) return;
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else files.set(path.relative(dir, full).split(path.sep).join('/'), fs.readFileSync(full, 'utf8'));
    }
  };
  walk(dir);
  return files;
}

/**
 * Brings an output folder to the rendered files by writing only what changed and removing what left
 * (watch mode: fast, and editors and file watchers downstream see only real changes). Returns the
 * relative paths touched. `previous` is what this process last wrote (watch mode), trusted instead of the disk.
 */
export function syncOutputs(outDir: string, outputs: ReadonlyMap<string, RenderedFiles>, previous?: ReadonlyMap<string, RenderedFiles>): string[] {
  const touched: string[] = [];
  for (const [target, files] of outputs) {
    const dir = path.join(outDir, target);
    // What this process last wrote there (watch mode) spares reading every file back.
    const existing = previous?.get(target) ?? readOutput(dir);
    for (const [relative, content] of files) {
      if (existing.get(relative) === content) continue;
      const file = path.join(dir, relative);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, content);
      touched.push(`${target}/${relative}`);
    }
    for (const relative of existing.keys()) {
      if (files.has(relative)) continue;
      fs.rmSync(path.join(dir, relative));
      touched.push(`${target}/${relative}`);
    }
    removeEmptyFolders(dir);
  }
  return touched.sort();
}

/** Namespace folders whose last object left the model go too. */
function removeEmptyFolders(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const child = path.join(dir, entry.name);
    removeEmptyFolders(child);
    if (fs.readdirSync(child).length === 0) fs.rmdirSync(child);
  }
}
