/**
 * The logging port. In Lambda it is a Powertools Logger (structured JSON); locally a small JSON
 * or quiet logger. Never pass secrets, webhook URLs or personal data in `extra`.
 */
export interface Logger {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** One JSON object per line on stderr, at or above `level`. */
export function jsonLogger(
  level: 'debug' | 'info' | 'warn' | 'error' = 'info',
  stream: NodeJS.WritableStream = process.stderr,
): Logger {
  const order = { debug: 10, info: 20, warn: 30, error: 40 } as const;
  const emit = (lvl: keyof typeof order) => (message: string, extra?: Record<string, unknown>) => {
    if (order[lvl] < order[level]) return;
    stream.write(`${JSON.stringify({ level: lvl, time: new Date().toISOString(), message, ...extra })}\n`);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}
