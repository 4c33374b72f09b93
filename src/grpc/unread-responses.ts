// Response bytes handed to HTTP/2 and not yet taken by it, per connection and in total: what
// clients that do not read make this process hold.

/** Each connection's count is kept on the connection (its HTTP/2 session) itself: no map to look up per call. */
const UNREAD = Symbol('unread response bytes');
type Counted = { [UNREAD]?: { bytes: number } };

export class UnreadResponses {
  private total = 0;

  constructor(
    private readonly perConnection: number,
    private readonly overall: number,
  ) {}

  /**
   * Why `bytes` more may not be queued on `connection`, if they may not. A connection with nothing
   * unread may always have one response, whatever its size.
   */
  overLimit(connection: object, bytes = 0): 'connection' | 'total' | undefined {
    const held = this.of(connection);
    if (held.bytes === 0) return undefined;
    if (held.bytes + bytes > this.perConnection) return 'connection';
    if (this.total + bytes > this.overall) return 'total';
    return undefined;
  }

  unreadOn(connection: object): number {
    return this.of(connection).bytes;
  }

  add(connection: object, bytes: number): void {
    this.of(connection).bytes += bytes;
    this.total += bytes;
  }

  remove(connection: object, bytes: number): void {
    this.of(connection).bytes -= bytes;
    this.total -= bytes;
  }

  private of(connection: object): { bytes: number } {
    return ((connection as Counted)[UNREAD] ??= { bytes: 0 });
  }
}
