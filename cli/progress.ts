/**
 * A one-line progress bar on a TTY (redrawn in place), or a plain line every few seconds
 * elsewhere (CI logs, pipes). Writes to stderr so `--json` output on stdout stays clean.
 */
export class ProgressBar {
  private lastPlain = 0;
  private drawn = false;
  constructor(
    private readonly stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    private readonly label: string,
  ) {}

  update(done: number, total: number, detail = ''): void {
    const pct = total > 0 ? Math.min(1, done / total) : 0;
    if (this.stream.isTTY) {
      const width = Math.max(10, Math.min(30, (this.stream.columns ?? 80) - 60));
      const filled = Math.round(pct * width);
      const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
      this.stream.write(
        `\r\x1b[2K${this.label} ${bar} ${String(Math.round(pct * 100)).padStart(3)}% ${done}/${total} ${detail}`,
      );
      this.drawn = true;
    } else {
      const now = Date.now();
      if (now - this.lastPlain < 2000 && done < total) return;
      this.lastPlain = now;
      this.stream.write(`${this.label} ${done}/${total} ${detail}\n`);
    }
  }

  done(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}

/** 1234567 → "1,234,567" */
export const fmt = (n: number) => n.toLocaleString('en-US');
