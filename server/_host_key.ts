// Which bucket of the connection limiter a peer's address falls in: a
// host, as the network hands them out. An IPv4 address is one host; an
// IPv6 host usually holds a whole /64 (SLAAC, privacy addresses), so the
// /64 is the host; an IPv4 peer seen through IPv6 (a dual-stack listener's
// ::ffff:a.b.c.d, NAT64's 64:ff9b::a.b.c.d) is its IPv4 address; a
// link-local peer (fe80::/10, every device of the link in one /64) is its
// own address on its interface.

/**
 * The limiter's key for `hostname`: itself for an IPv4 address or a
 * name, the IPv4 address of an IPv4-mapped or NAT64 IPv6 one, the whole
 * address (with its zone) of a link-local one, else its /64
 * (`2001:db8:0:1::/64`). Text that is not an IPv6 address is kept whole.
 */
export function hostKey(hostname: string): string {
  if (!hostname.includes(":")) return hostname;
  const groups = ipv6Groups(hostname);
  if (groups === undefined) return hostname;
  const [a, b, c, d, e, f, hi, lo] = groups;
  const mapped = a === 0 && b === 0 && c === 0 && d === 0 && e === 0 &&
    f === 0xffff;
  const nat64 = a === 0x64 && b === 0xff9b && c === 0 && d === 0 && e === 0 &&
    f === 0;
  if (mapped || nat64) {
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  const hex = (g: number) => g.toString(16);
  if ((a & 0xffc0) === 0xfe80) {
    const zone = hostname.indexOf("%");
    const at = zone < 0 ? "" : hostname.slice(zone).replace(/]$/, "");
    return `${groups.map(hex).join(":")}${at}`;
  }
  return `${groups.slice(0, 4).map(hex).join(":")}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, or undefined. */
function ipv6Groups(text: string): number[] | undefined {
  let address = text.startsWith("[") && text.endsWith("]")
    ? text.slice(1, -1)
    : text;
  const zone = address.indexOf("%");
  if (zone >= 0) address = address.slice(0, zone);
  // A dotted IPv4 tail takes the last two groups.
  const tail: number[] = [];
  const colon = address.lastIndexOf(":");
  const last = address.slice(colon + 1);
  if (last.includes(".")) {
    const octets = last.split(".");
    if (
      octets.length !== 4 ||
      !octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255)
    ) return undefined;
    const [a, b, c, d] = octets.map(Number);
    tail.push(a << 8 | b, c << 8 | d);
    address = address.slice(0, colon + 1);
    if (!address.endsWith("::")) address = address.slice(0, -1);
  }
  const want = 8 - tail.length;
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string) => part === "" ? [] : part.split(":");
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const missing = want - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const words = [...head, ...Array(missing).fill("0"), ...rest];
  if (!words.every((w) => /^[0-9a-fA-F]{1,4}$/.test(w))) return undefined;
  return [...words.map((w) => parseInt(w, 16)), ...tail];
}
