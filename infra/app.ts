#!/usr/bin/env node
import { App, Annotations, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadAppConfig } from './config.js';
import { DualtrackStack } from './dualtrack-stack.js';

/**
 * `cdk synth|diff|deploy` entry (cdk.json: `npx tsx infra/app.ts`).
 * Context: `config` (config file path; else DUALTRACK_CONFIG, else ./dualtrack.config.json, else
 * the committed example), `stackName` (default `Dualtrack`), `nag` (`false` skips cdk-nag; it is
 * on by default and its findings fail synth).
 */
const app = new App();
const { config, path, isExample } = loadAppConfig(app.node.tryGetContext('config'));
const stack = new DualtrackStack(app, app.node.tryGetContext('stackName') ?? 'Dualtrack', {
  config,
  description: 'dualtrack: platform-migration monitoring for an affiliate network (ingestion, canonical MySQL, alerts)',
});
if (isExample) Annotations.of(stack).addInfo(`no config named and ./dualtrack.config.json absent: synthesized from ${path}`);
if (app.node.tryGetContext('nag') !== 'false' && app.node.tryGetContext('nag') !== false) {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
}
app.synth();
