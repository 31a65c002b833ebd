/**
 * A loopback server the tests can take down (connections refused, open ones cut) and bring back on
 * the same port, for the push stores' "endpoint down, then up" tests.
 */
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface SwitchableServer {
  /** Listens on 127.0.0.1 (the same port as before, after a stop); resolves to the port. */
  start(): Promise<number>;
  stop(): Promise<void>;
  readonly running: boolean;
}

export function switchableServer(make: () => Server): SwitchableServer {
  let server: Server | undefined;
  let port = 0;
  const sockets = new Set<Socket>();
  return {
    get running() {
      return server !== undefined;
    },
    async start(): Promise<number> {
      const s = make();
      s.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, '127.0.0.1', () => resolve());
      });
      server = s;
      port = (s.address() as AddressInfo).port;
      return port;
    },
    async stop(): Promise<void> {
      const s = server;
      server = undefined;
      if (!s) return;
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      // HTTPS servers track their TLS sockets apart from the 'connection' ones.
      s.closeAllConnections();
      await closed;
    },
  };
}
