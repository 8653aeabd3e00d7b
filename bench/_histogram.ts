// The latency histogram every benchmark records into. Internal to bench/.

/**
 * A latency histogram over microseconds: exact below 2,048 µs, then 64
 * buckets per power of two (under 1.6 % error). Fixed size, no allocation
 * per sample.
 */
export class Histogram {
  #counts = new Float64Array(2048 + 64 * 32);
  #n = 0;

  /** Records one latency in milliseconds. */
  record(ms: number): void {
    const us = Math.max(0, Math.round(ms * 1000));
    let i: number;
    if (us < 2048) i = us;
    else {
      const exp = 31 - Math.clz32(us);
      i = 2048 + (exp - 11) * 64 + ((us >>> (exp - 6)) & 63);
    }
    this.#counts[Math.min(i, this.#counts.length - 1)]++;
    this.#n++;
  }

  /** Adds every sample of `other` (a histogram or its {@link counts}). */
  merge(other: Histogram | Float64Array): void {
    const counts = other instanceof Histogram ? other.#counts : other;
    for (let i = 0; i < this.#counts.length; i++) {
      this.#counts[i] += counts[i];
      this.#n += counts[i];
    }
  }

  /** A copy of the bucket counts, e.g. to post from a worker. */
  counts(): Float64Array {
    return this.#counts.slice();
  }

  /** Number of samples. */
  get count(): number {
    return this.#n;
  }

  /** The `q`-quantile (0–1) in milliseconds, NaN without samples. */
  quantile(q: number): number {
    if (this.#n === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.#n));
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i];
      if (seen >= rank) {
        if (i < 2048) return i / 1000;
        const exp = Math.floor((i - 2048) / 64) + 11;
        const low = 2 ** exp + ((i - 2048) % 64) * 2 ** (exp - 6);
        return (low + 2 ** (exp - 7)) / 1000;
      }
    }
    return NaN;
  }
}
