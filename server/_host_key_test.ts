// The connection limiter's host key: IPv4 as is, IPv4-mapped IPv6 as its
// IPv4 address, other IPv6 addresses by their /64.

import assert from "node:assert/strict";
import { hostKey } from "./_host_key.ts";

Deno.test("hostKey keeps an IPv4 address or a name whole", () => {
  assert.equal(hostKey("192.0.2.7"), "192.0.2.7");
  assert.equal(hostKey("localhost"), "localhost");
});

Deno.test("hostKey counts an IPv4-mapped IPv6 address as its IPv4 address", () => {
  assert.equal(hostKey("::ffff:192.0.2.7"), "192.0.2.7");
  assert.equal(hostKey("::FFFF:c000:207"), "192.0.2.7");
  assert.equal(hostKey("0:0:0:0:0:ffff:127.0.0.1"), "127.0.0.1");
  // NAT64: an IPv4 client behind the translator.
  assert.equal(hostKey("64:ff9b::192.0.2.7"), "192.0.2.7");
  assert.equal(hostKey("64:ff9b::c000:207"), "192.0.2.7");
});

Deno.test("hostKey counts a link-local peer by its own address on its interface", () => {
  assert.equal(hostKey("fe80::1%eth0"), "fe80:0:0:0:0:0:0:1%eth0");
  assert.equal(hostKey("[fe80::1%eth0]"), "fe80:0:0:0:0:0:0:1%eth0");
  assert.notEqual(hostKey("fe80::2%eth0"), hostKey("fe80::1%eth0"));
  assert.notEqual(hostKey("fe80::1%eth1"), hostKey("fe80::1%eth0"));
});

Deno.test("hostKey counts an IPv6 address by its /64, whatever its spelling", () => {
  const key = "2001:db8:0:1::/64";
  assert.equal(hostKey("2001:db8:0:1::a"), key);
  assert.equal(hostKey("2001:db8::1:1234:5678:9abc:def0"), key);
  assert.equal(hostKey("2001:0DB8:0000:0001:ffff:ffff:ffff:ffff"), key);
  assert.equal(hostKey("[2001:db8:0:1::2]"), key);
  assert.equal(hostKey("2001:db8:0:1::3%eth0"), key);
  assert.notEqual(hostKey("2001:db8:0:2::a"), key);
  assert.equal(hostKey("::1"), "0:0:0:0::/64");
  assert.equal(hostKey("::"), "0:0:0:0::/64");
});

Deno.test("hostKey keeps text that is not an IPv6 address whole", () => {
  for (
    const text of ["1:2", "1::2::3", "g::1", "::1.2.3.400", "1:2:3:4:5:6:7:8:9"]
  ) {
    assert.equal(hostKey(text), text);
  }
});
