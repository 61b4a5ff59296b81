import type { CliCommand } from '../context.js';
import { command as db } from './db.js';

/** Every CLI command, in the order `dualtrack --help` lists them. */
export const COMMANDS: CliCommand[] = [db];
