/**
 * A construct was given props it cannot build (validated before any resource is created). Every
 * problem is listed at once, each naming the prop, so one synth shows everything to fix.
 */
export class ConstructPropsError extends Error {
  constructor(
    readonly construct: string,
    readonly id: string,
    readonly problems: readonly string[],
  ) {
    super(`${construct} "${id}": ${problems.join('; ')}`);
    this.name = 'ConstructPropsError';
  }
}

/** Throws a ConstructPropsError when `problems` is not empty. */
export function assertNoProblems(construct: string, id: string, problems: readonly string[]): void {
  if (problems.length) throw new ConstructPropsError(construct, id, problems);
}
