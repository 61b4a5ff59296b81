/**
 * InnoDB breaks a lock conflict by rolling back one side: a deadlock (errno 1213, the whole
 * transaction) or a lock wait timeout (1205). Both Db adapters report these errnos (the Data API
 * adapter recognizes the messages, see data-api.ts). The caller decides whether re-running is safe:
 * a recompute statement, or a transaction that was rolled back whole.
 */
const DEADLOCK_ERRNOS = new Set([1213 /* ER_LOCK_DEADLOCK */, 1205 /* ER_LOCK_WAIT_TIMEOUT */]);

export function isDeadlock(e: unknown): boolean {
  const errno = (e as { options?: { errno?: number } } | undefined)?.options?.errno;
  return errno !== undefined && DEADLOCK_ERRNOS.has(errno);
}

export interface DeadlockRetry {
  /** Runs in all, the first included. */
  attempts: number;
  /**
   * Before retry i, a random pause of up to `pauseMs × i` ms (0: none). Two statements retried at
   * once tend to deadlock with each other again.
   */
  pauseMs?: number;
}

/** Runs `run`, and again while it fails with a deadlock or lock wait timeout, up to `attempts` times. */
export async function retryOnDeadlock<T>(run: () => Promise<T>, { attempts, pauseMs = 0 }: DeadlockRetry): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (e) {
      if (i >= attempts || !isDeadlock(e)) throw e;
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * pauseMs * i));
    }
  }
}
