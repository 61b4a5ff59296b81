#!/usr/bin/env node
import { App, Annotations, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError } from '#shared/config/load.js';
import { loadAppConfig, type AppConfig } from './config.js';
import { DualtrackStack } from './dualtrack-stack.js';

/**
 * `cdk synth|diff|deploy` entry (cdk.json: `npx tsx infra/app.ts`).
 * Context: `config` (config file path; else DUALTRACK_CONFIG, else ./dualtrack.config.json, else
 * the committed example), `stackName` (default `Dualtrack`), `nag` (`false` skips cdk-nag; it is
 * on by default and its findings fail synth).
 */
const app = new App();
let loaded: AppConfig;
try {
  loaded = loadAppConfig(app.node.tryGetContext('config'));
} catch (e) {
  // A config problem is the operator's to fix: print the list of problems, not a stack trace.
  if (!(e instanceof ConfigError)) throw e;
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
}
const { config, path, isExample } = loaded;
const stack = new DualtrackStack(app, app.node.tryGetContext('stackName') ?? 'Dualtrack', {
  config,
  description: 'dualtrack: platform-migration monitoring for an affiliate network (ingestion, canonical MySQL, alerts)',
});
if (isExample)
  Annotations.of(stack).addInfo(`no config named and ./dualtrack.config.json absent: synthesized from ${path}`);
if (app.node.tryGetContext('nag') !== 'false' && app.node.tryGetContext('nag') !== false) {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
}
app.synth();
