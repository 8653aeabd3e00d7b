import { Server, serveSerial } from "../server/mod.ts";
import { openSerial } from "../transport/mod.ts";
import { requestFrame, REQUEST, waitFor } from "../testing/mod.ts";
const [a, b] = Deno.args;
const server = new Server({ logLevel: "error", shutdownTimeout: 500 } as any);
server.handle("/big", () => new Uint8Array(16));
serveSerial(server, a, { quietMs: 20 });
await waitFor(() => server.sessions.size === 1, { timeout: 5000, message: "session" });
const peer = await openSerial(b);
await peer.write(requestFrame({ requestId: 1, requestType: REQUEST, pathOneof: { case: "path", value: "/big" } }));
await new Promise((r) => setTimeout(r, 1000)); // server is now stuck writing 512 KiB into a line nobody reads
const [session] = server.sessions.values();
console.log("session bufferedAmount", session.bufferedAmount);
const t0 = performance.now();
const done = server.shutdown().then(() => "shutdown settled");
console.log(await Promise.race([done, new Promise((r) => setTimeout(() => r("shutdown STILL PENDING after 8s"), 8000))]), Math.round(performance.now() - t0), "ms");
peer.close();
