// UTF-8 validation and the FNV-1a path hash, over raw memory.

/** FNV-1a 32-bit offset basis. */
export const FNV_OFFSET: u32 = 0x811c9dc5;
/** FNV-1a 32-bit prime. */
export const FNV_PRIME: u32 = 0x01000193;

/** FNV-1a 32-bit over `len` bytes at `p` (no validation). */
export function fnv1a(p: usize, len: usize): u32 {
  let h = FNV_OFFSET;
  const end = p + len;
  for (let q = p; q < end; q++) h = (h ^ <u32> load<u8>(q)) * FNV_PRIME;
  return h;
}

/** Strict UTF-8 (Unicode table 3-7): no overlongs, surrogates or > U+10FFFF. */
export function validUtf8(p: usize, end: usize): bool {
  while (p < end) {
    const b = <u32> load<u8>(p);
    if (b < 0x80) {
      p++;
      continue;
    }
    let n: usize = 0;
    let lo: u32 = 0x80;
    let hi: u32 = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
      n = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
      n = 2;
      if (b == 0xe0) lo = 0xa0;
      else if (b == 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 3;
      if (b == 0xf0) lo = 0x90;
      else if (b == 0xf4) hi = 0x8f;
    } else {
      return false;
    }
    if (end - p <= n) return false;
    const b1 = <u32> load<u8>(p + 1);
    if (b1 < lo || b1 > hi) return false;
    for (let i: usize = 2; i <= n; i++) {
      const c = <u32> load<u8>(p + i);
      if ((c & 0xc0) != 0x80) return false;
    }
    p += n + 1;
  }
  return true;
}
