/*
 * nanopb peer: the protocol's embedded side, talking to a NanoRPC server.
 *
 * Usage: peer tcp HOST PORT | peer unix PATH
 *
 * Every frame is encoded and decoded by nanopb (no malloc) with its
 * delimited helpers, i.e. a varint length prefix and one message. The
 * envelope's C layout comes from the nanopb options in proto/nanorpc.proto,
 * the same ones the Go reference's file carries: short names
 * (NanoRPCRequest_TYPE_PING), `path` as a static char[50], and `data` (plus
 * the unbounded `response_message`) through callbacks into fixed buffers
 * here. Paths go out as FNV-1a hashes computed here, as a microcontroller
 * would, and as strings within the 50-byte bound.
 * Prints "CASE: ok" or "CASE: FAIL why" per case; exits 1 if any failed.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "chat.pb.h"
#include "nanorpc.pb.h"

typedef NanoRPCRequest Request;

#define PING NanoRPCRequest_TYPE_PING
#define REQUEST NanoRPCRequest_TYPE_REQUEST
#define SUBSCRIBE NanoRPCRequest_TYPE_SUBSCRIBE
#define PONG NanoRPCResponse_TYPE_PONG
#define RESPONSE NanoRPCResponse_TYPE_RESPONSE
#define UPDATE NanoRPCResponse_TYPE_UPDATE
#define OK NanoRPCResponse_STATUS_OK
#define NOT_FOUND NanoRPCResponse_STATUS_NOT_FOUND

/* The options of proto/nanorpc.proto are in effect, or this does not build. */
_Static_assert(sizeof ((Request *)0)->path_oneof.path == 50,
               "NanoRPCRequest.path must be char[50] ((nanopb).max_size = 50)");

/* Largest data this peer sends or keeps, and the frame buffer around it. */
#define DATA_MAX 4096
#define FRAME_MAX (DATA_MAX + 128)
#define MESSAGE_MAX 256

/* Where a callback field's bytes land: up to cap bytes are kept, the rest
 * are read and dropped; len is what the field carried. */
typedef struct {
  pb_byte_t *buf;
  size_t cap;
  size_t len;
} Sink;

/* A decoded response with the buffers its callback fields fill. */
typedef struct {
  NanoRPCResponse msg;
  pb_byte_t data[DATA_MAX];
  Sink data_sink;
  char message[MESSAGE_MAX];
  Sink message_sink;
} Reply;

/* What an outgoing request's data callback writes. */
typedef struct {
  const pb_byte_t *buf;
  size_t len;
} Source;

static const char *g_kind;
static const char *g_target;
static const char *g_port;
static char g_why[512];

/* Records why the current case failed; always returns false. */
static bool fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_why, sizeof g_why, fmt, ap);
  va_end(ap);
  return false;
}

uint32_t fnv1a(const char *text) {
  uint32_t h = 0x811c9dc5u;
  for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
    h = (h ^ *p) * 0x01000193u;
  }
  return h;
}

static int dial(void) {
  int fd;
  if (strcmp(g_kind, "unix") == 0) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strncpy(sa.sun_path, g_target, sizeof sa.sun_path - 1);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
      close(fd);
      fd = -1;
    }
  } else {
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_port = htons((uint16_t)atoi(g_port));
    inet_pton(AF_INET, g_target, &sa.sin_addr);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
      close(fd);
      fd = -1;
    }
  }
  if (fd >= 0) {
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  return fd;
}

/* nanopb input stream over a socket: blocks until count bytes arrived. */
static bool socket_read(pb_istream_t *stream, pb_byte_t *buf, size_t count) {
  int fd = (int)(intptr_t)stream->state;
  while (count > 0) {
    ssize_t n = recv(fd, buf, count, 0);
    if (n <= 0) {
      stream->bytes_left = 0;
      PB_RETURN_ERROR(stream, n == 0 ? "server closed the connection" : "recv timed out");
    }
    buf += n;
    count -= (size_t)n;
  }
  return true;
}

static bool read_into_sink(pb_istream_t *stream, const pb_field_t *field, void **arg) {
  (void)field;
  Sink *sink = *arg;
  size_t total = stream->bytes_left;
  size_t keep = total < sink->cap ? total : sink->cap;
  if (!pb_read(stream, sink->buf, keep) || !pb_read(stream, NULL, total - keep)) return false;
  sink->len = total;
  return true;
}

static bool write_source(pb_ostream_t *stream, const pb_field_t *field, void *const *arg) {
  const Source *src = *arg;
  if (src->len == 0) return true; /* proto3: empty bytes are not written */
  return pb_encode_tag_for_field(stream, field) && pb_encode_string(stream, src->buf, src->len);
}

static bool send_request(int fd, const Request *req) {
  static pb_byte_t buf[FRAME_MAX];
  pb_ostream_t out = pb_ostream_from_buffer(buf, sizeof buf);
  if (!pb_encode_ex(&out, NanoRPCRequest_fields, req, PB_ENCODE_DELIMITED)) {
    return fail("nanopb encode: %s", PB_GET_ERROR(&out));
  }
  size_t done = 0;
  while (done < out.bytes_written) {
    ssize_t n = send(fd, buf + done, out.bytes_written - done, MSG_NOSIGNAL);
    if (n <= 0) return fail("send failed");
    done += (size_t)n;
  }
  return true;
}

static bool read_response(int fd, Reply *r) {
  r->msg = (NanoRPCResponse)NanoRPCResponse_init_zero;
  r->data_sink = (Sink){r->data, sizeof r->data, 0};
  r->message_sink = (Sink){(pb_byte_t *)r->message, sizeof r->message - 1, 0};
  r->msg.data.funcs.decode = read_into_sink;
  r->msg.data.arg = &r->data_sink;
  r->msg.response_message.funcs.decode = read_into_sink;
  r->msg.response_message.arg = &r->message_sink;
  pb_istream_t in = {socket_read, (void *)(intptr_t)fd, SIZE_MAX, NULL};
  bool ok = pb_decode_ex(&in, NanoRPCResponse_fields, &r->msg, PB_DECODE_DELIMITED);
  size_t text = r->message_sink.len < r->message_sink.cap ? r->message_sink.len : r->message_sink.cap;
  r->message[text] = '\0';
  if (!ok) return fail("nanopb decode: %s", PB_GET_ERROR(&in));
  return true;
}

static bool expect(int fd, Reply *r, int32_t id, int type, int status) {
  if (!read_response(fd, r)) return false;
  if (r->msg.request_id != id || (int)r->msg.response_type != type ||
      (int)r->msg.response_status != status) {
    return fail("expected id=%d type=%d status=%d, got id=%d type=%d status=%d message=\"%s\"",
                id, type, status, r->msg.request_id, r->msg.response_type,
                r->msg.response_status, r->message);
  }
  return true;
}

/* A request with data (may be NULL) to a path: sent as its FNV-1a hash, or
 * as the string itself when by_name is set. A NULL path sends neither. */
static bool send_call(int fd, int32_t id, int type, const char *path, bool by_name,
                      const void *data, size_t len) {
  Request req = NanoRPCRequest_init_zero;
  req.request_id = id;
  req.request_type = type;
  if (path != NULL && by_name) {
    if (strlen(path) >= sizeof req.path_oneof.path) return fail("path over the 49-byte bound");
    req.which_path_oneof = NanoRPCRequest_path_tag;
    strcpy(req.path_oneof.path, path);
  } else if (path != NULL) {
    req.which_path_oneof = NanoRPCRequest_path_hash_tag;
    req.path_oneof.path_hash = fnv1a(path);
  }
  if (len > DATA_MAX) return fail("payload too large for the peer");
  Source src = {data, len};
  req.data.funcs.encode = write_source;
  req.data.arg = &src;
  return send_request(fd, &req);
}

/* A request by path hash; data may be NULL. */
static bool call(int fd, int32_t id, int type, const char *path, const void *data, size_t len) {
  return send_call(fd, id, type, path, false, data, len);
}

/* Encodes a chat payload with nanopb, then calls path with it. */
static bool call_msg(int fd, int32_t id, int type, const char *path,
                     const pb_msgdesc_t *fields, const void *msg) {
  pb_byte_t buf[512];
  pb_ostream_t out = pb_ostream_from_buffer(buf, sizeof buf);
  if (!pb_encode(&out, fields, msg)) return fail("encode payload: %s", PB_GET_ERROR(&out));
  return call(fd, id, type, path, buf, out.bytes_written);
}

static bool case_ping(int fd) {
  const int32_t ids[] = {7, 0, -1, -123456789, INT32_MIN, INT32_MAX};
  Reply resp;
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    if (!call(fd, ids[i], PING, NULL, NULL, 0)) return false;
    if (!expect(fd, &resp, ids[i], PONG, OK)) return false;
  }
  return true;
}

/* /echo with 0, 1 and 3000 bytes; the reply's data arrives through the
 * data callback into Reply.data. */
static bool echo(int fd, bool by_name) {
  unsigned char data[3000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (unsigned char)(i * 31 + 7);
  Reply r;
  const size_t sizes[] = {0, 1, sizeof data};
  for (size_t i = 0; i < 3; i++) {
    int32_t id = 200 + (int32_t)i;
    if (!send_call(fd, id, REQUEST, "/echo", by_name, data, sizes[i])) return false;
    if (!expect(fd, &r, id, RESPONSE, OK)) return false;
    if (r.data_sink.len != sizes[i] || memcmp(r.data, data, sizes[i]) != 0) {
      return fail("echo of %zu bytes came back with %zu bytes", sizes[i], r.data_sink.len);
    }
  }
  return true;
}

static bool case_echo_by_hash(int fd) { return echo(fd, false); }

static bool case_echo_by_path(int fd) { return echo(fd, true); }

/* NOT_FOUND carries a message (read through its callback); the session goes on. */
static bool not_found(int fd, bool by_name) {
  Reply r;
  if (!send_call(fd, -300, REQUEST, "/nanopb/no/such/path", by_name, "x", 1)) return false;
  if (!expect(fd, &r, -300, RESPONSE, NOT_FOUND)) return false;
  if (r.message[0] == '\0') return fail("NOT_FOUND without a response_message");
  if (!call(fd, 301, PING, NULL, NULL, 0)) return false;
  return expect(fd, &r, 301, PONG, OK);
}

static bool case_not_found_by_hash(int fd) { return not_found(fd, false); }

static bool case_not_found_by_path(int fd) { return not_found(fd, true); }

static bool say(int fd, const char *name, const char *text) {
  Reply resp;
  nanorpc_demo_ChatJoin join = nanorpc_demo_ChatJoin_init_zero;
  snprintf(join.name, sizeof join.name, "%s", name);
  if (!call_msg(fd, 1, REQUEST, "/room/join", nanorpc_demo_ChatJoin_fields, &join)) return false;
  if (!expect(fd, &resp, 1, RESPONSE, OK)) return false;
  nanorpc_demo_ChatMessage msg = nanorpc_demo_ChatMessage_init_zero;
  snprintf(msg.text, sizeof msg.text, "%s", text);
  if (!call_msg(fd, 2, REQUEST, "/room/send", nanorpc_demo_ChatMessage_fields, &msg)) return false;
  return expect(fd, &resp, 2, RESPONSE, OK);
}

static bool expect_update(int fd, int32_t id, const char *from, const char *text) {
  Reply resp;
  if (!expect(fd, &resp, id, UPDATE, OK)) return false;
  if (resp.data_sink.len > sizeof resp.data) return fail("update over %d bytes", DATA_MAX);
  nanorpc_demo_ChatMessage msg = nanorpc_demo_ChatMessage_init_zero;
  pb_istream_t in = pb_istream_from_buffer(resp.data, resp.data_sink.len);
  if (!pb_decode(&in, nanorpc_demo_ChatMessage_fields, &msg)) {
    return fail("decode ChatMessage: %s", PB_GET_ERROR(&in));
  }
  if (strcmp(msg.from, from) != 0 || strcmp(msg.text, text) != 0) {
    return fail("update from=\"%s\" text=\"%s\", wanted from=\"%s\" text=\"%s\"",
                msg.from, msg.text, from, text);
  }
  return true;
}

/* Subscribes with a filter on a name unique to this run, publishes from a
 * second connection, receives the update, then unsubscribes. */
static bool case_subscribe(int fd) {
  char name[64], text[128];
  snprintf(name, sizeof name, "nanopb-%d-%s", (int)getpid(), g_kind);
  snprintf(text, sizeof text, "hello from %s", name);
  nanorpc_demo_ChatFilter filter = nanorpc_demo_ChatFilter_init_zero;
  snprintf(filter.from, sizeof filter.from, "%s", name);
  Reply resp;
  if (!call_msg(fd, -77, SUBSCRIBE, "/room/messages", nanorpc_demo_ChatFilter_fields, &filter)) return false;
  if (!expect(fd, &resp, -77, RESPONSE, OK)) return false;
  int pub = dial();
  if (pub < 0) return fail("second connection failed");
  bool ok = say(pub, name, text) && expect_update(fd, -77, name, text);
  if (ok) ok = call(fd, -77, REQUEST, "/room/messages", NULL, 0) && expect(fd, &resp, -77, RESPONSE, OK);
  if (ok) ok = say(pub, name, "after unsubscribe") && call(fd, 78, PING, NULL, NULL, 0);
  if (ok) ok = expect(fd, &resp, 78, PONG, OK);
  close(pub);
  return ok;
}

struct peer_case {
  const char *name;
  bool (*run)(int fd);
};

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "tcp") == 0) {
    g_port = argv[3];
  } else if (!(argc == 3 && strcmp(argv[1], "unix") == 0)) {
    fprintf(stderr, "usage: %s tcp HOST PORT | %s unix PATH\n", argv[0], argv[0]);
    return 2;
  }
  g_kind = argv[1];
  g_target = argv[2];
  if (fnv1a("") != 0x811c9dc5u || fnv1a("a") != 0xe40c292cu || fnv1a("foobar") != 0xbf9cf968u) {
    fprintf(stderr, "FNV-1a self-test failed\n");
    return 2;
  }
  const struct peer_case cases[] = {
      {"ping", case_ping},
      {"echo-by-hash", case_echo_by_hash},
      {"echo-by-path", case_echo_by_path},
      {"not-found-by-hash", case_not_found_by_hash},
      {"not-found-by-path", case_not_found_by_path},
      {"subscribe-update-unsubscribe", case_subscribe},
  };
  int failed = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    g_why[0] = '\0';
    int fd = dial();
    bool ok = fd >= 0 ? cases[i].run(fd) : fail("cannot connect");
    if (fd >= 0) close(fd);
    if (ok) {
      printf("%s: ok\n", cases[i].name);
    } else {
      printf("%s: FAIL %s\n", cases[i].name, g_why);
      failed++;
    }
    fflush(stdout);
  }
  return failed ? 1 : 0;
}
