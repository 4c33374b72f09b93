// At most `capacity` jobs run at once. The others wait in one queue per owner (a connection), and
// a freed place goes to the owners in turn, so a client that sends a thousand expensive calls at
// once delays another client's call by about one of its own, not by the thousand.
export interface Job {
  /** Called when the job gets its place; it must call `done()` when it gives the place back. */
  run(): void;
  /** Called instead of `run`, when the job is dropped to keep the queues within their bound. */
  drop(): void;
}

export class FairQueue<Owner> {
  private running = 0;
  private waiting = 0;
  /** Set while done() hands out places, so that a job giving its place back at once does not recurse. */
  private handingOut = false;
  /** Owners with waiting jobs; the first is next. Map order is insertion order. */
  private readonly queues = new Map<Owner, Job[]>();

  constructor(
    private readonly capacity: number,
    private readonly maxWaiting: number,
  ) {}

  /**
   * Runs `job` now if there is room and no one is waiting, else queues it. Over maxWaiting, the
   * newest job of the longest queue is dropped.
   */
  enqueue(owner: Owner, job: Job): void {
    if (this.running < this.capacity && this.waiting === 0) {
      this.running++;
      job.run();
      return;
    }
    let queue = this.queues.get(owner);
    if (!queue) this.queues.set(owner, (queue = []));
    queue.push(job);
    if (++this.waiting > this.maxWaiting) this.dropFromLongest();
  }

  /** Takes `job` out of its queue (it no longer needs to run); false if it was not waiting. */
  remove(owner: Owner, job: Job): boolean {
    const queue = this.queues.get(owner);
    const at = queue ? queue.indexOf(job) : -1;
    if (at < 0) return false;
    queue!.splice(at, 1);
    if (queue!.length === 0) this.queues.delete(owner);
    this.waiting--;
    return true;
  }

  /** A running job gave its place back: the next owner in turn gets it. */
  done(): void {
    this.running--;
    if (this.handingOut) return;
    this.handingOut = true;
    try {
      while (this.running < this.capacity && this.waiting > 0) {
        const [owner, queue] = this.queues.entries().next().value!;
        const job = queue.shift()!;
        this.queues.delete(owner);
        if (queue.length > 0) this.queues.set(owner, queue); // to the back of the turn
        this.waiting--;
        this.running++;
        job.run();
      }
    } finally {
      this.handingOut = false;
    }
  }

  private dropFromLongest(): void {
    let longest: Job[] | undefined;
    let owner: Owner | undefined;
    for (const [candidate, queue] of this.queues) {
      if (!longest || queue.length > longest.length) [owner, longest] = [candidate, queue];
    }
    const dropped = longest!.pop()!;
    if (longest!.length === 0) this.queues.delete(owner!);
    this.waiting--;
    dropped.drop();
  }
}
