// Differential fuzz of the server's read side: fuzzed request frames
// (testing/_wire_fuzz.ts, with a REQUEST to /echo appended to each body so
// that most of them reach a handler), sent to Server.serve over a
// MemoryStream in random reads and byte by byte. Every frame `specFrames`
// accepts (wasm/codec_fuzz_test.ts holds it to protobuf-es) is answered
// once, in order, with its id, and an /echo request with its data, decoded
// by protobuf-es; a stream the spec refuses is closed after those answers.
// FUZZ_SEED and FUZZ_CASES override the seed and the number of streams.

import assert from "node:assert/strict";
import { NanoRPCResponseSchema } from "../proto/gen/nanorpc_pb.ts";
import { concat, decodeFrames, MemoryStream, waitFor } from "../testing/mod.ts";
import {
  FUZZ_SEED,
  fuzzBody,
  fuzzCases,
  randomCuts,
  Rng,
  type SpecFields,
  specFrames,
} from "../testing/_wire_fuzz.ts";
import { fnv1a, ResponseType, Status } from "../wasm/wire.ts";
import { PATH_HASH, PATH_STRING } from "../wasm/codec.ts";
import { Server } from "./server.ts";

const CASES = fuzzCases(150);
const ECHO = new TextEncoder().encode("/echo");

/** Field 2 = REQUEST, then path "/echo" or its path_hash. */
function toEcho(rng: Rng): Uint8Array {
  if (rng.chance(0.5)) return new Uint8Array([0x10, 2, 0x22, 5, ...ECHO]);
  let h = fnv1a("/echo");
  const hash: number[] = [];
  for (; h >= 0x80; h >>>= 7) hash.push((h & 0x7f) | 0x80);
  return new Uint8Array([0x10, 2, 0x18, ...hash, h]);
}

function stream(rng: Rng): Uint8Array {
  const frames: Uint8Array[] = [];
  for (let i = rng.range(1, 6); i > 0; i--) {
    const body = concat(fuzzBody(rng, { damage: 0.2 }).body, toEcho(rng));
    const prefix: number[] = [];
    let n = body.length;
    for (; n >= 0x80; n >>>= 7) prefix.push((n & 0x7f) | 0x80);
    frames.push(new Uint8Array([...prefix, n]), body);
  }
  const input = concat(...frames);
  return rng.chance(0.2) ? input.subarray(0, rng.int(input.length + 1)) : input;
}

function isEcho(f: SpecFields): boolean {
  return f.type === 2 &&
    (f.kind === PATH_HASH
      ? f.hash === fnv1a("/echo")
      : f.kind === PATH_STRING && f.path.join() === ECHO.join());
}

async function serve(server: Server, input: Uint8Array, cuts: number[]) {
  const s = new MemoryStream();
  const serving = server.serve(s);
  let at = 0;
  for (const end of [...cuts, input.length]) {
    s.send(input.subarray(at, end));
    at = end;
  }
  s.end();
  await serving;
  // A malformed frame closes the session after its answers are flushed.
  await waitFor(() => s.closed, { message: "the stream to close" });
  return s;
}

/** Serves `input` in reads ending at `cuts`; returns the /echo answers. */
async function check(
  server: Server,
  input: Uint8Array,
  cuts: number[],
): Promise<number> {
  let echoes = 0;
  const spec = specFrames(input, 1 << 20);
  const s = await serve(server, input, cuts);
  const why = `${cuts.length} reads of ${
    Array.from(input, (b) => b.toString(16).padStart(2, "0")).join("")
  }`;
  const answers = decodeFrames(NanoRPCResponseSchema, s.written);
  assert.equal(answers.length, spec.frames.length, why);
  spec.frames.forEach(({ fields }, i) => {
    const a = answers[i];
    assert.equal(a.requestId, fields.id, why);
    if (!isEcho(fields)) return;
    echoes++;
    assert.deepEqual(
      [a.responseType, a.responseStatus, a.data],
      [ResponseType.RESPONSE, Status.OK, fields.data],
      why,
    );
  });
  if (spec.error !== 0) {
    assert.match(
      s.closeReason ?? "",
      /malformed/,
      `${why} ${spec.error} ${s.closeReason}`,
    );
  }
  return echoes;
}

Deno.test(`Server answers ${CASES} fuzzed request streams read in random pieces as the spec decodes them`, async () => {
  const rng = new Rng(FUZZ_SEED + 8);
  const server = new Server({ logLevel: "error" }).handle(
    "/echo",
    (c) => c.data,
  );
  let echoes = 0;
  for (let n = 0; n < CASES; n++) {
    const input = stream(rng);
    echoes += await check(server, input, randomCuts(rng, input.length, 6));
  }
  await server.shutdown();
  assert.ok(echoes > CASES, `only ${echoes} answers from /echo`);
});

Deno.test("Server answers fuzzed request streams sent one byte per read as the spec decodes them", async () => {
  const rng = new Rng(FUZZ_SEED + 9);
  const server = new Server({ logLevel: "error" }).handle(
    "/echo",
    (c) => c.data,
  );
  let echoes = 0;
  for (let done = 0; done < 16;) {
    const input = stream(rng);
    if (input.length > 500) continue;
    done++;
    echoes += await check(server, input, Array.from(input, (_, i) => i));
  }
  await server.shutdown();
  assert.ok(echoes >= 16, `only ${echoes} answers from /echo`);
});
