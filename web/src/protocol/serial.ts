/**
 * Steps that run one at a time, in the order they were added. A step that fails is logged
 * and the next one runs; once `stopped()` says so, the steps still waiting are skipped.
 */
export class Serial {
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly name: string,
    private readonly stopped: () => boolean,
  ) {}

  add(step: () => Promise<void>): void {
    this.tail = this.tail.then(async () => {
      if (this.stopped()) return;
      try {
        await step();
      } catch (error) {
        console.warn(`${this.name} failed`, error);
      }
    });
  }
}
