import type { CliCommand } from '../context.js';
import { command as db } from './db.js';
import { command as ingest } from './ingest.js';
import { command as backfill } from './backfill.js';
import { command as evaluate } from './evaluate.js';
import { command as alerts } from './alerts.js';
import { command as replayDlq } from './replay-dlq.js';
import { command as demo } from './demo.js';
import { command as mappings } from './mappings.js';
import { command as report } from './report.js';
import { command as fx } from './fx.js';
import { command as dashboard } from './dashboard.js';

/** Every CLI command, in the order `dualtrack --help` lists them. */
export const COMMANDS: CliCommand[] = [
  db,
  ingest,
  backfill,
  evaluate,
  alerts,
  replayDlq,
  demo,
  mappings,
  report,
  dashboard,
  fx,
];
