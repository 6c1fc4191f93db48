#!/usr/bin/env node
// Copies schemas/precision-plan.schema.json into package.json `contributes.configurationDefaults["json.schemas"]`.
// Why: plans written by `precision-lens plan` carry "$schema": "https://precision-lens.dev/…", and VS Code's JSON
// support then fetches that URL (refused offline / untrusted) instead of using the `jsonValidation` file. A
// `json.schemas` entry with the same url and an inline schema makes the language server use the inline copy.
// test/unit/hostManifest.test.ts fails when the two drift. Usage: node scripts/syncPlanSchema.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkgPath = path.join(repo, 'package.json');
const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
const schema = JSON.parse(readFileSync(path.join(repo, 'schemas/precision-plan.schema.json'), 'utf8'));
pkg.contributes.configurationDefaults = { ...pkg.contributes.configurationDefaults, 'json.schemas': [{ url: schema.$id, fileMatch: ['*.precision.json'], schema }] };
writeFileSync(pkgPath, `${JSON.stringify(pkg, null, 2)}\n`);
console.log(`synced ${schema.$id} into package.json`);
