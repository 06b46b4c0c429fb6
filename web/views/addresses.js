// IP addresses and ranges as a person writes them in an allowlist: checked here so that a
// mistake is explained at once, and written back the way Keywarden shows them (a single
// address without /32 or /128, IPv6 in its short form).

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * `{ text }` for an address or range; `{ error: 'not-an-address' }`; or, for a range written
 * from an address inside it, `{ error: 'not-range-start', suggestion }` (e.g. 10.1.2.3/8 →
 * 10.0.0.0/8).
 */
export function parseAddress(input) {
  const [address, prefixText, extra] = input.trim().split('/');
  if (extra !== undefined || !address) return { error: 'not-an-address' };
  const v4 = parseV4(address);
  const bits = v4 ? v4 : parseV6(address);
  if (!bits) return { error: 'not-an-address' };
  const width = bits.length;
  let prefix = width;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText)) return { error: 'not-an-address' };
    prefix = Number(prefixText);
    if (prefix > width) return { error: 'not-an-address' };
  }
  const network = bits.map((bit, i) => (i < prefix ? bit : 0));
  const show = (b) => (v4 ? formatV4(b) : formatV6(b));
  if (network.some((bit, i) => bit !== bits[i])) {
    return { error: 'not-range-start', suggestion: `${show(network)}/${prefix}` };
  }
  return { text: prefix === width ? show(bits) : `${show(bits)}/${prefix}` };
}

/** 32 bits, or null. */
function parseV4(text) {
  const match = IPV4.exec(text);
  if (!match) return null;
  return match.slice(1).flatMap((octet) => toBits(Number(octet), 8));
}

/** 128 bits, or null. */
function parseV6(text) {
  if (!text.includes(':') || !/^[0-9a-fA-F:.]+$/.test(text)) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (part) => (part === '' ? [] : part.split(':'));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  // An IPv4 address may end the address (e.g. ::ffff:192.0.2.1): two groups' worth.
  const all = [...head, ...tail];
  let v4 = null;
  if (all.length && all[all.length - 1].includes('.')) {
    // It must be the very end: after "::" when there is one.
    if (halves.length === 2 && !tail.length) return null;
    v4 = parseV4(all[all.length - 1]);
    if (!v4) return null;
    (tail.length ? tail : head).pop();
  }
  const words = [...head, ...tail];
  if (!words.every((w) => /^[0-9a-fA-F]{1,4}$/.test(w))) return null;
  const count = words.length + (v4 ? 2 : 0);
  if (halves.length === 2 ? count > 7 : count !== 8) return null;
  const fill = Array(8 - count).fill('0');
  const hex = [...head, ...(halves.length === 2 ? fill : []), ...tail];
  const bits = hex.flatMap((w) => toBits(parseInt(w, 16), 16));
  return v4 ? [...bits, ...v4] : bits;
}

function toBits(value, width) {
  const bits = [];
  for (let i = width - 1; i >= 0; i -= 1) bits.push((value >> i) & 1);
  return bits;
}

function fromBits(bits) {
  return bits.reduce((n, bit) => n * 2 + bit, 0);
}

function formatV4(bits) {
  return [0, 8, 16, 24].map((i) => fromBits(bits.slice(i, i + 8))).join('.');
}

/** The short form: lower case, the longest run of two or more zero groups as "::". */
function formatV6(bits) {
  const words = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => fromBits(bits.slice(i * 16, i * 16 + 16)));
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${formatV4(bits.slice(96))}`;
  }
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j += 1;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j;
  }
  const hex = (list) => list.map((w) => w.toString(16)).join(':');
  if (best.length < 2) return hex(words);
  return `${hex(words.slice(0, best.start))}::${hex(words.slice(best.start + best.length))}`;
}
