// Session resumption over real sockets, spoken by hand through protobuf-es:
// tokens, lingering, the takeover, buffered updates, token reuse.

import assert from "node:assert/strict";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { ChatJoinSchema, ChatMessageSchema } from "../proto/gen/chat_pb.ts";
import { Status } from "../wasm/wire.ts";
import {
  FakeTime,
  nextEvent,
  parsePrometheus,
  PING,
  type RawClient,
  REQUEST,
  RESPONSE,
  startServer,
  SUBSCRIBE,
  UPDATE,
  waitFor,
} from "../testing/mod.ts";
import { registerDemo } from "./demo.ts";
import type { SessionEvent } from "./options.ts";
import type { Server } from "./server.ts";

const encoder = new TextEncoder();

async function request(
  raw: RawClient,
  id: number,
  path: string,
  data: Uint8Array = new Uint8Array(),
) {
  const response = await raw.call({
    requestId: id,
    requestType: REQUEST,
    pathOneof: { case: "path", value: path },
    data,
  });
  assert.equal(response.requestId, id);
  return response;
}

async function token(
  raw: RawClient,
  id = 100,
): Promise<Uint8Array<ArrayBuffer>> {
  const answer = await request(raw, id, "/_nanorpc/session");
  assert.equal(answer.responseStatus, Status.OK);
  return answer.data.slice();
}

/** Reads a resume answer: `ResumeAnswer { uint64 lost = 1; bytes token = 2; }`. */
function resumeAnswer(
  data: Uint8Array,
): { lost: number; token: Uint8Array<ArrayBuffer> } {
  let lost = 0;
  let i = 0;
  if (data[i] === 0x08) {
    i++;
    for (let shift = 1;; shift *= 128) {
      const b = data[i++];
      lost += (b & 0x7f) * shift;
      if (b < 0x80) break;
    }
  }
  assert.equal(data[i++], 0x12);
  const len = data[i++];
  return { lost, token: data.slice(i, i + len) };
}

async function subscribe(raw: RawClient, id: number, path: string) {
  const ack = await raw.call({
    requestId: id,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: path },
  });
  assert.equal(ack.responseStatus, Status.OK);
}

async function lingering(server: Server, n = 1) {
  await waitFor(() => server.stats().lingeringSessions === n, {
    message: `${n} lingering session(s)`,
  });
}

Deno.test("Server issues resume tokens of 128 random bits at /_nanorpc/session", async () => {
  await using t = await startServer();
  const a = await t.connectRaw();
  const b = await t.connectRaw();
  const first = await token(a);
  const second = await token(a, 101);
  const other = await token(b);
  for (const tok of [first, second, other]) {
    const text = new TextDecoder().decode(tok);
    assert.match(text, /^[A-Za-z0-9_-]{22}$/);
    const bytes = Uint8Array.from(
      atob(text.replaceAll("-", "+").replaceAll("_", "/") + "=="),
      (c) => c.charCodeAt(0),
    );
    assert.equal(bytes.length, 16);
  }
  assert.notDeepEqual(first, second);
  assert.notDeepEqual(first, other);
  // The second token replaced the first.
  a.close();
  await lingering(t.server);
  const c = await t.connectRaw();
  const stale = await request(c, 1, "/_nanorpc/resume", first);
  assert.equal(stale.responseStatus, Status.NOT_FOUND);
  const ok = await request(c, 2, "/_nanorpc/resume", second);
  assert.equal(ok.responseStatus, Status.OK);
});

Deno.test("Server resumes the chat session: the missed message on the old id, the name kept, the token single-use", async () => {
  await using t = await startServer((server) => {
    registerDemo(server);
  });
  const ada = await t.connectRaw();
  await request(
    ada,
    1,
    "/room/join",
    toBinary(ChatJoinSchema, {
      $typeName: "nanorpc_demo.ChatJoin",
      name: "ada",
    }),
  );
  await subscribe(ada, 7, "/room/messages");
  const tok = await token(ada, 2);
  const opens: SessionEvent[] = [];
  const closes: SessionEvent[] = [];
  t.server.addEventListener(
    "sessionopen",
    (e) => opens.push(e),
  );
  t.server.addEventListener(
    "sessionclose",
    (e) => closes.push(e),
  );
  ada.close();
  await lingering(t.server);
  assert.equal(closes.length, 0, "no sessionclose at the drop");

  const bob = await t.connectRaw();
  const send = (raw: RawClient, id: number, text: string) =>
    request(
      raw,
      id,
      "/room/send",
      toBinary(ChatMessageSchema, {
        $typeName: "nanorpc_demo.ChatMessage",
        from: "",
        text,
      }),
    );
  await send(bob, 1, "you missed this");

  const back = await t.connectRaw();
  const answer = await request(back, 1, "/_nanorpc/resume", tok);
  assert.equal(answer.responseStatus, Status.OK);
  const { lost, token: next } = resumeAnswer(answer.data);
  assert.equal(lost, 0);
  assert.notDeepEqual(next, tok);
  const missed = await back.read();
  assert.equal(missed.responseType, UPDATE);
  assert.equal(missed.requestId, 7);
  assert.equal(
    fromBinary(ChatMessageSchema, missed.data).text,
    "you missed this",
  );
  // The next message goes out under the name the session joined with.
  await back.send({
    requestId: 2,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/room/send" },
    data: toBinary(ChatMessageSchema, {
      $typeName: "nanorpc_demo.ChatMessage",
      from: "",
      text: "I am back",
    }),
  });
  const live = await back.read();
  assert.equal(live.requestId, 7);
  assert.equal(live.responseType, UPDATE);
  const message = fromBinary(ChatMessageSchema, live.data);
  assert.deepEqual([message.from, message.text], ["ada", "I am back"]);
  assert.equal((await back.read()).requestId, 2);
  assert.equal(t.server.stats().resumes, 1);
  assert.equal(t.server.stats().lingeringSessions, 0);
  // The connection's own session opened and ended; the resumed one did not.
  assert.equal(closes.length, 1);
  assert.equal(closes[0].session, opens.at(-1)!.session);
  assert.match(closes[0].reason, /resumed session/);

  // The same token does not resume twice; the connection goes on as new.
  const again = await t.connectRaw();
  const refused = await request(again, 1, "/_nanorpc/resume", tok);
  assert.equal(refused.responseStatus, Status.NOT_FOUND);
  assert.match(refused.responseMessage, /token/);
  const pong = await again.call({ requestId: 2, requestType: PING });
  assert.equal(pong.requestId, 2);
  const m = parsePrometheus(t.server.metrics());
  assert.equal(m.value("nanorpc_resumes_total"), 1);
  assert.equal(m.value("nanorpc_resumes_refused_total"), 1);
});

Deno.test("Server fires sessionclose when the resume grace ends, not at the drop", async () => {
  await using t = await startServer((server) => {
    server.topic("/news");
  }, { resumeGrace: 1000 });
  const raw = await t.connectRaw();
  await subscribe(raw, 3, "/news");
  await token(raw);
  using time = new FakeTime();
  const closed = nextEvent(t.server, "sessionclose", { timeout: 10_000 });
  raw.close();
  await lingering(t.server);
  await time.tickAsync(999);
  assert.equal(t.server.stats().sessions, 1);
  assert.equal(t.server.stats().subscriptions, 1);
  await time.tickAsync(1);
  const event = (await closed) as SessionEvent;
  assert.match(event.reason, /not resumed within 1000 ms/);
  assert.deepEqual(
    [t.server.stats().sessions, t.server.stats().subscriptions],
    [0, 0],
  );
  assert.equal(t.server.stats().resumesExpired, 1);
  assert.equal(t.server.stats().lingeringSessions, 0);
});

Deno.test("Server keeps the newest updates of a lingering session within its buffer and says how many were lost", async () => {
  await using t = await startServer((server) => {
    server.topic("/news");
  }, { resumeBuffer: { maxUpdates: 3, maxBytes: 1000 } });
  const raw = await t.connectRaw();
  await subscribe(raw, 5, "/news");
  const tok = await token(raw);
  raw.close();
  await lingering(t.server);
  for (let i = 1; i <= 5; i++) {
    t.server.publish("/news", encoder.encode(`u${i}`));
  }
  // 400 bytes each: only two fit 1000 bytes.
  const back = await t.connectRaw();
  const answer = await request(back, 1, "/_nanorpc/resume", tok);
  assert.equal(resumeAnswer(answer.data).lost, 2);
  const texts: string[] = [];
  for (let i = 0; i < 3; i++) {
    const update = await back.read();
    assert.equal(update.requestId, 5);
    texts.push(new TextDecoder().decode(update.data));
  }
  assert.deepEqual(texts, ["u3", "u4", "u5"]);
  assert.equal(t.server.stats().droppedUpdates, 2);

  // By bytes: the next drop keeps what fits 1000 bytes.
  const tok2 = resumeAnswer(answer.data).token;
  back.close();
  await lingering(t.server);
  for (let i = 1; i <= 3; i++) {
    t.server.publish("/news", new Uint8Array(400).fill(i));
  }
  const third = await t.connectRaw();
  const again = await request(third, 1, "/_nanorpc/resume", tok2);
  assert.equal(resumeAnswer(again.data).lost, 1);
  assert.equal((await third.read()).data[0], 2);
  assert.equal((await third.read()).data[0], 3);
});

Deno.test("Server closes a session without a token at the drop, and one the server closes on purpose", async () => {
  await using t = await startServer((server) => {
    server.handle("/bind", (ctx) => ctx.session.bind("u1"));
  });
  const plain = await t.connectRaw();
  plain.close();
  await waitFor(() => t.server.stats().sessions === 0);
  assert.equal(t.server.stats().lingeringSessions, 0);

  const kicked = await t.connectRaw();
  await request(kicked, 1, "/bind");
  await token(kicked);
  t.server.kick("u1", "bye");
  assert.equal(await kicked.closedByServer(), true);
  await waitFor(() => t.server.stats().sessions === 0);
  assert.equal(t.server.stats().lingeringSessions, 0);
});

Deno.test("Server resume serves requests pipelined after it on the resumed session, over another transport", async () => {
  await using t = await startServer((server) => {
    server.handle("/set", (ctx) => ctx.session.set("v", ctx.copyData()));
    server.handle("/get", (ctx) => ctx.session.get<Uint8Array>("v"));
  }, { transports: ["tcp", "unix"] });
  const raw = await t.connectRaw("tcp");
  await request(raw, 1, "/set", encoder.encode("kept"));
  const tok = await token(raw);
  raw.close();
  await lingering(t.server);
  const back = await t.connectRaw("unix");
  await back.send({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/_nanorpc/resume" },
    data: tok,
  });
  await back.send({
    requestId: 2,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/get" },
  });
  const answers = [await back.read(), await back.read()];
  assert.deepEqual(answers.map((a) => a.requestId), [1, 2]);
  assert.equal(answers[1].responseType, RESPONSE);
  assert.equal(new TextDecoder().decode(answers[1].data), "kept");
  const [session] = t.server.sessions.values();
  assert.equal(session.transport, "unix");
});

Deno.test("Server resume takes a session over from a connection it still thinks is open", async () => {
  await using t = await startServer((server) => {
    server.topic("/news");
  });
  const old = await t.connectRaw();
  await subscribe(old, 9, "/news");
  const tok = await token(old);
  const back = await t.connectRaw();
  const answer = await request(back, 1, "/_nanorpc/resume", tok);
  assert.equal(answer.responseStatus, Status.OK);
  assert.equal(await old.closedByServer(), true);
  await waitFor(() => t.server.stats().sessions === 1);
  t.server.publish("/news", encoder.encode("live"));
  const update = await back.read();
  assert.deepEqual([update.requestId, update.responseType], [9, UPDATE]);
  assert.equal(t.server.stats().subscriptions, 1);
  assert.equal(t.server.stats().lingeringSessions, 0);
});

Deno.test("Server with resumeGrace 0 answers the session paths NOT_FOUND", async () => {
  await using t = await startServer(undefined, { resumeGrace: 0 });
  const raw = await t.connectRaw();
  for (
    const [id, path] of [[1, "/_nanorpc/session"], [
      2,
      "/_nanorpc/resume",
    ]] as const
  ) {
    const answer = await request(raw, id, path);
    assert.equal(answer.responseStatus, Status.NOT_FOUND);
    assert.match(answer.responseMessage, /resumeGrace/);
  }
});

Deno.test("Server shutdown ends lingering sessions", async () => {
  const t = await startServer((server) => {
    server.topic("/news");
  });
  const raw = await t.connectRaw();
  await subscribe(raw, 1, "/news");
  await token(raw);
  raw.close();
  await lingering(t.server);
  const closed = nextEvent(t.server, "sessionclose");
  await t[Symbol.asyncDispose]();
  assert.match(((await closed) as SessionEvent).reason, /shutting down/);
  assert.equal(t.server.stats().sessions, 0);
});
