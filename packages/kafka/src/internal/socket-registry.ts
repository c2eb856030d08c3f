import net from 'node:net';
import tls from 'node:tls';
import type { ISocketFactory } from 'kafkajs';

/** The TCP keep-alive kafkajs' own socket factory sets. */
const KEEP_ALIVE_DELAY_MS = 60_000;

/** Text of the error a socket is destroyed with; the log creator sends kafkajs' report of it to debug. */
export const SOCKET_CLOSED_BY_MSGPORT = 'socket closed by msgport: its Kafka client was disconnected';

/**
 * Opens the sockets of kafkajs clients (their `socketFactory`) and keeps track of them, so that
 * closing the clients really closes every connection.
 *
 * kafkajs reconnects lazily: a request sent to a broker whose connection dropped opens a new
 * socket, even while the client is disconnecting (a consumer's LeaveGroup or heartbeat right after
 * a broker restart), and even when that broker is no longer in the pool that `disconnect()` closes.
 * Such a socket outlives `disconnect()` and keeps the process alive. With SASL it is not even
 * authenticated (only `Broker.connect` authenticates), so the broker never answers on it.
 * `close()` destroys what is left once the client is disconnected, and any socket opened later.
 */
export class SocketRegistry {
  readonly #open = new Set<net.Socket>();
  #closed = false;

  /** The `socketFactory` to give kafkajs: the same sockets as kafkajs' default one. */
  readonly factory: ISocketFactory = this.wrap(({ host, port, ssl, onConnect }) => {
    const socket = ssl
      ? tls.connect(
          { host, port, ...(net.isIP(host) === 0 ? { servername: host } : {}), ...(typeof ssl === 'object' ? ssl : {}) },
          onConnect,
        )
      : net.connect({ host, port }, onConnect);
    socket.setKeepAlive(true, KEEP_ALIVE_DELAY_MS);
    return socket;
  });

  /**
   * A `socketFactory` that opens sockets with `factory` (another registry's, for instance) and
   * tracks them here too: {@link close} then closes them, and refuses those opened later.
   */
  wrap(factory: ISocketFactory): ISocketFactory {
    return (options) => {
      const socket = factory(options);
      if (this.#closed) {
        // kafkajs attaches its listeners after this returns; the error is emitted on a later tick.
        socket.destroy(new Error(SOCKET_CLOSED_BY_MSGPORT));
        return socket;
      }
      this.#open.add(socket);
      socket.once('close', () => this.#open.delete(socket));
      return socket;
    };
  }

  /** Sockets open right now. */
  get openCount(): number {
    return this.#open.size;
  }

  /**
   * Destroys every socket still open, and from now on every socket as soon as it is opened (kafkajs
   * sees a connection error). Call it once the clients using {@link factory} are disconnected.
   *
   * @returns how many sockets kafkajs had left open (not counting those it was already closing:
   * ended by kafkajs, waiting for the broker's side of the close).
   */
  close(): number {
    this.#closed = true;
    const open = [...this.#open];
    this.#open.clear();
    let leftOpen = 0;
    for (const socket of open) {
      if (!socket.writableEnded) leftOpen++;
      socket.destroy(new Error(SOCKET_CLOSED_BY_MSGPORT));
    }
    return leftOpen;
  }
}
