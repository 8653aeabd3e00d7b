// Which bucket of the connection limiter a peer's address falls in: a
// host, as the network hands them out. An IPv4 address is one host; an
// IPv6 host usually holds a whole /64 (SLAAC, privacy addresses), so the
// /64 is the host; an IPv4-mapped IPv6 address (a dual-stack listener's
// view of an IPv4 peer) is its IPv4 address.

/**
 * The limiter's key for `hostname`: itself for an IPv4 address or a
 * name, the IPv4 address of an IPv4-mapped IPv6 one, else its /64
 * (`2001:db8:0:1::/64`). Text that is not an IPv6 address is kept whole.
 */
export function hostKey(hostname: string): string {
  if (!hostname.includes(":")) return hostname;
  const groups = ipv6Groups(hostname);
  if (groups === undefined) return hostname;
  if (
    groups[0] === 0 && groups[1] === 0 && groups[2] === 0 &&
    groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff
  ) {
    const [hi, lo] = [groups[6], groups[7]];
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
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
