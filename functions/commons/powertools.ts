import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Logger as LoggerPort } from '#shared/util/logger.js';

/**
 * Powertools singletons, one per Lambda container (docs/style.md: `functions/commons/powertools`).
 * The service name comes from POWERTOOLS_SERVICE_NAME and the metrics namespace from
 * POWERTOOLS_METRICS_NAMESPACE, both set by `DualtrackFunction`; the defaults here only matter
 * when a handler runs outside Lambda (tests). Never log API keys, webhook URLs or personal data.
 */
export const logger = /* @__PURE__ */ new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'dualtrack' });

export const metrics = /* @__PURE__ */ new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'dualtrack',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'dualtrack',
});

/**
 * The Powertools logger behind shared/util/logger's port, for domain code (`{ logger }`
 * collaborators). A thin wrapper because Powertools' variadic signature does not accept an
 * explicit `undefined` extra.
 */
export const domainLogger: LoggerPort = {
  debug: (message, extra) => (extra ? logger.debug(message, extra) : logger.debug(message)),
  info: (message, extra) => (extra ? logger.info(message, extra) : logger.info(message)),
  warn: (message, extra) => (extra ? logger.warn(message, extra) : logger.warn(message)),
  error: (message, extra) => (extra ? logger.error(message, extra) : logger.error(message)),
};
