// The part of protobuf-es the library calls at run time, which
// protocol/_protobuf.ts imports dynamically. A dynamic import keeps every
// export of its target, so it targets this short list rather than the
// package: bundlers (the browser bundle) then keep only these functions
// and what they need, not all of protobuf-es.

export { create, fromBinary, toBinary } from "@bufbuild/protobuf";
