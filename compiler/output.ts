/**
 * Write a build's output folders atomically: each target folder is written beside the old one and
 * swapped in with renames, so a failed build leaves the previous output untouched and objects that
 * left the model leave the folder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RenderedFiles } from './render';

export function writeOutputs(outDir: string, outputs: ReadonlyMap<string, RenderedFiles>): void {
  fs.mkdirSync(outDir, { recursive: true });
  for (const [target, files] of outputs) {
    const finalDir = path.join(outDir, target);
    const staging = path.join(outDir, `.${target}.staging-${process.pid}`);
    const retired = path.join(outDir, `.${target}.retired-${process.pid}`);
    fs.rmSync(staging, { recursive: true, force: true });
    try {
      for (const [relative, content] of files) {
        const file = path.join(staging, relative);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, content);
      }
      const hadPrevious = fs.existsSync(finalDir);
      if (hadPrevious) fs.renameSync(finalDir, retired);
      fs.renameSync(staging, finalDir);
      if (hadPrevious) fs.rmSync(retired, { recursive: true, force: true });
    } finally {
      fs.rmSync(staging, { recursive: true, force: true });
    }
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
 * relative paths touched.
 */
export function syncOutputs(outDir: string, outputs: ReadonlyMap<string, RenderedFiles>): string[] {
  const touched: string[] = [];
  for (const [target, files] of outputs) {
    const dir = path.join(outDir, target);
    const existing = readOutput(dir);
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
  }
  return touched.sort();
}
