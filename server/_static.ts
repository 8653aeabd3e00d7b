// The files built into the package that the HTTP face serves (see
// server/_http.ts): text imports, cached with the code, so nothing is
// fetched at run time. _http.ts imports this module at the first request
// for one of them: a server that never serves them does not hold their
// ~0.4 MB of strings (most of it the browser client) on its heap.

import indexHtml from "./static/index.html" with { type: "text" };
import chatCss from "./static/chat.css" with { type: "text" };
import chatJs from "./static/chat.js" with { type: "text" };
import chatProtoJs from "./static/chat_proto.js" with { type: "text" };
import client from "./static/nanorpc.generated.js" with { type: "text" };

/** Each built-in file's text by name. */
export const FILES = {
  client,
  indexHtml,
  chatCss,
  chatJs,
  chatProtoJs,
} as const;
