// PeerJS server on a loopback port for load_tests/relay.py: `node serve.mjs [port]` (0 = free port).
// Same defaults as the `peerjs` command, minus its log line per connection, and the
// concurrent limit and liveness timeout raised so they never cut a benchmark short.
import { PeerServer } from "peer";

const port = Number(process.argv[2] ?? 0);
PeerServer(
  { host: "127.0.0.1", port, path: "/", key: "peerjs", concurrent_limit: 100000, alive_timeout: 600000 },
  (server) => console.log(`PeerJS serving on http://127.0.0.1:${server.address().port}`),
);
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
