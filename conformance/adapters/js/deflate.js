"use strict";
// zlib.compress(data) as stock zlib 1.2.x does it at the default level (6, windowBits 15,
// memLevel 8, default strategy), byte for byte. Node bundles Chromium's zlib fork, whose
// deflate finds other matches (its output is valid but differs), and the frame vectors compare
// the reference's exact bytes, so the encoder needs the canonical algorithm: lazy LZ77
// matching (deflate_slow) and zlib's Huffman tree construction (trees.c), followed closely.

const W = 32768; // window size
const WMASK = W - 1;
const MIN_MATCH = 3;
const MAX_MATCH = 258;
const MIN_LOOKAHEAD = MAX_MATCH + MIN_MATCH + 1;
const MAX_DIST = W - MIN_LOOKAHEAD;
const HASH_MASK = (1 << 15) - 1; // memLevel 8: 15 hash bits, shift 5
const [GOOD, LAZY, NICE, CHAIN] = [8, 16, 128, 128]; // configuration_table[6]
const TOO_FAR = 4096;
const MAX_SYMBOLS = (1 << 14) - 1; // lit_bufsize - 1 symbols per block
const L_CODES = 286, D_CODES = 30, BL_CODES = 19, END_BLOCK = 256;
const EXTRA_L = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const EXTRA_D = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const EXTRA_BL = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7];
const BL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

// tr_static_init
const LENGTH_CODE = new Uint8Array(256), BASE_LENGTH = new Uint16Array(29);
const DIST_CODE = new Uint8Array(512), BASE_DIST = new Uint16Array(30);
(() => {
  let length = 0, code = 0;
  for (; code < 28; code++) {
    BASE_LENGTH[code] = length;
    for (let n = 0; n < 1 << EXTRA_L[code]; n++) LENGTH_CODE[length++] = code;
  }
  LENGTH_CODE[length - 1] = code;
  let dist = 0;
  for (code = 0; code < 16; code++) {
    BASE_DIST[code] = dist;
    for (let n = 0; n < 1 << EXTRA_D[code]; n++) DIST_CODE[dist++] = code;
  }
  dist >>= 7;
  for (; code < D_CODES; code++) {
    BASE_DIST[code] = dist << 7;
    for (let n = 0; n < 1 << (EXTRA_D[code] - 7); n++) DIST_CODE[256 + dist++] = code;
  }
})();
const dCode = (dist) => (dist < 256 ? DIST_CODE[dist] : DIST_CODE[256 + (dist >> 7)]);

function reverse(code, len) {
  let res = 0;
  for (let i = 0; i < len; i++, code >>= 1) res = (res << 1) | (code & 1);
  return res;
}

function genCodes(len, maxCode, blCount) {
  const next = new Uint16Array(16), codes = new Uint16Array(len.length);
  for (let bits = 1, code = 0; bits <= 15; bits++) next[bits] = code = (code + blCount[bits - 1]) << 1;
  for (let n = 0; n <= maxCode; n++) if (len[n]) codes[n] = reverse(next[len[n]]++, len[n]);
  return codes;
}

const STATIC_L = (() => {
  const len = new Uint8Array(288), count = new Uint16Array(16);
  for (let n = 0; n < 288; n++) count[(len[n] = n < 144 ? 8 : n < 256 ? 9 : n < 280 ? 7 : 8)]++;
  return { len, code: genCodes(len, 287, count) };
})();
const STATIC_D = { len: new Uint8Array(30).fill(5), code: Uint16Array.from({ length: 30 }, (_, n) => reverse(n, 5)) };

/** LSB-first bit output. */
class Bits {
  constructor() { this.bytes = []; this.buf = 0; this.n = 0; }
  send(value, length) {
    this.buf |= value << this.n;
    this.n += length;
    while (this.n >= 8) { this.bytes.push(this.buf & 0xff); this.buf >>>= 8; this.n -= 8; }
  }
  windup() { if (this.n > 0) this.bytes.push(this.buf & 0xff); this.buf = 0; this.n = 0; }
}

/** trees.c build_tree + gen_bitlen + gen_codes for one tree; returns {len, code, maxCode}. */
function buildTree(freq, elems, staticLen, extra, base, maxLength, cost) {
  const size = 2 * elems + 1;
  const f = new Uint32Array(size), len = new Uint8Array(size), dad = new Uint16Array(size);
  const depth = new Uint8Array(size), heap = new Int32Array(2 * L_CODES + 1);
  const HEAP_SIZE = 2 * L_CODES + 1;
  f.set(freq.subarray(0, elems));
  let heapLen = 0, heapMax = HEAP_SIZE, maxCode = -1;
  for (let n = 0; n < elems; n++) if (f[n]) heap[++heapLen] = maxCode = n;
  while (heapLen < 2) {
    const node = (heap[++heapLen] = maxCode < 2 ? ++maxCode : 0);
    f[node] = 1;
    depth[node] = 0;
    cost.opt--;
    if (staticLen) cost.stat -= staticLen[node];
  }
  const smaller = (n, m) => f[n] < f[m] || (f[n] === f[m] && depth[n] <= depth[m]);
  const down = (k) => {
    const v = heap[k];
    for (let j = k << 1; j <= heapLen; j <<= 1) {
      if (j < heapLen && smaller(heap[j + 1], heap[j])) j++;
      if (smaller(v, heap[j])) break;
      heap[k] = heap[j];
      k = j;
    }
    heap[k] = v;
  };
  for (let n = heapLen >> 1; n >= 1; n--) down(n);
  let node = elems;
  do {
    const n = heap[1];
    heap[1] = heap[heapLen--];
    down(1);
    const m = heap[1];
    heap[--heapMax] = n;
    heap[--heapMax] = m;
    f[node] = f[n] + f[m];
    depth[node] = Math.max(depth[n], depth[m]) + 1;
    dad[n] = dad[m] = node;
    heap[1] = node++;
    down(1);
  } while (heapLen >= 2);
  heap[--heapMax] = heap[1];
  // gen_bitlen
  const blCount = new Uint16Array(16);
  let overflow = 0, h;
  len[heap[heapMax]] = 0;
  for (h = heapMax + 1; h < HEAP_SIZE; h++) {
    const n = heap[h];
    let bits = len[dad[n]] + 1;
    if (bits > maxLength) { bits = maxLength; overflow++; }
    len[n] = bits;
    if (n > maxCode) continue;
    blCount[bits]++;
    const xbits = n >= base ? extra[n - base] : 0;
    cost.opt += f[n] * (bits + xbits);
    if (staticLen) cost.stat += f[n] * (staticLen[n] + xbits);
  }
  if (overflow) {
    do {
      let bits = maxLength - 1;
      while (blCount[bits] === 0) bits--;
      blCount[bits]--;
      blCount[bits + 1] += 2;
      blCount[maxLength]--;
      overflow -= 2;
    } while (overflow > 0);
    for (let bits = maxLength; bits !== 0; bits--) {
      for (let n = blCount[bits]; n !== 0;) {
        const m = heap[--h];
        if (m > maxCode) continue;
        if (len[m] !== bits) { cost.opt += (bits - len[m]) * f[m]; len[m] = bits; }
        n--;
      }
    }
  }
  return { len, code: genCodes(len, maxCode, blCount), maxCode };
}

/** scan_tree / send_tree: walks the run-length coding of a tree's code lengths. */
function walkLengths(len, maxCode, emit) {
  let prev = -1, next = len[0], count = 0, max = 7, min = 4;
  if (next === 0) { max = 138; min = 3; }
  for (let n = 0; n <= maxCode; n++) {
    const cur = next;
    next = n + 1 <= maxCode ? len[n + 1] : 0xffff;
    if (++count < max && cur === next) continue;
    if (count < min) emit(cur, count, "lits");
    else if (cur !== 0) emit(cur, count, cur !== prev ? "rep-new" : "rep");
    else emit(0, count, count <= 10 ? "z10" : "z138");
    count = 0;
    prev = cur;
    if (next === 0) { max = 138; min = 3; } else if (cur === next) { max = 6; min = 3; } else { max = 7; min = 4; }
  }
}

function flushBlock(out, syms, data, blockStart, storedLen, stored, last) {
  const lfreq = new Uint32Array(L_CODES), dfreq = new Uint32Array(D_CODES), blfreq = new Uint32Array(BL_CODES);
  lfreq[END_BLOCK] = 1;
  for (let i = 0; i < syms.length; i += 2) {
    const dist = syms[i], lc = syms[i + 1];
    if (dist === 0) lfreq[lc]++;
    else { lfreq[LENGTH_CODE[lc] + 257]++; dfreq[dCode(dist - 1)]++; }
  }
  const cost = { opt: 0, stat: 0 };
  const lt = buildTree(lfreq, L_CODES, STATIC_L.len, EXTRA_L, 257, 15, cost);
  const dt = buildTree(dfreq, D_CODES, STATIC_D.len, EXTRA_D, 0, 15, cost);
  const count = (cur, n, kind) => {
    if (kind === "lits") blfreq[cur] += n;
    else if (kind === "rep-new" || kind === "rep") { if (kind === "rep-new") blfreq[cur]++; blfreq[16]++; }
    else blfreq[kind === "z10" ? 17 : 18]++;
  };
  walkLengths(lt.len, lt.maxCode, count);
  walkLengths(dt.len, dt.maxCode, count);
  const bt = buildTree(blfreq, BL_CODES, null, EXTRA_BL, 0, 7, cost);
  let maxBl = BL_CODES - 1;
  while (maxBl >= 3 && bt.len[BL_ORDER[maxBl]] === 0) maxBl--;
  cost.opt += 3 * (maxBl + 1) + 14;
  let optLenb = (cost.opt + 3 + 7) >>> 3;
  const staticLenb = (cost.stat + 3 + 7) >>> 3;
  if (staticLenb <= optLenb) optLenb = staticLenb;
  if (storedLen + 4 <= optLenb && stored) {
    out.send(last, 3);
    out.windup();
    out.bytes.push(storedLen & 0xff, storedLen >> 8, ~storedLen & 0xff, (~storedLen >> 8) & 0xff);
    for (let i = 0; i < storedLen; i++) out.bytes.push(data[blockStart + i]);
    return;
  }
  let ltree = STATIC_L, dtree = STATIC_D;
  if (staticLenb === optLenb) out.send(2 + last, 3);
  else {
    out.send(4 + last, 3);
    const lcodes = lt.maxCode + 1, dcodes = dt.maxCode + 1;
    out.send(lcodes - 257, 5);
    out.send(dcodes - 1, 5);
    out.send(maxBl + 1 - 4, 4);
    for (let rank = 0; rank <= maxBl; rank++) out.send(bt.len[BL_ORDER[rank]], 3);
    const code = (c) => out.send(bt.code[c], bt.len[c]);
    const send = (cur, n, kind) => {
      if (kind === "lits") while (n--) code(cur);
      else if (kind === "rep-new" || kind === "rep") {
        if (kind === "rep-new") { code(cur); n--; }
        code(16);
        out.send(n - 3, 2);
      } else if (kind === "z10") { code(17); out.send(n - 3, 3); } else { code(18); out.send(n - 11, 7); }
    };
    walkLengths(lt.len, lt.maxCode, send);
    walkLengths(dt.len, dt.maxCode, send);
    ltree = lt;
    dtree = dt;
  }
  for (let i = 0; i < syms.length; i += 2) {
    let dist = syms[i], lc = syms[i + 1];
    if (dist === 0) { out.send(ltree.code[lc], ltree.len[lc]); continue; }
    let c = LENGTH_CODE[lc];
    out.send(ltree.code[c + 257], ltree.len[c + 257]);
    if (EXTRA_L[c]) out.send(lc - BASE_LENGTH[c], EXTRA_L[c]);
    dist--;
    c = dCode(dist);
    out.send(dtree.code[c], dtree.len[c]);
    if (EXTRA_D[c]) out.send(dist - BASE_DIST[c], EXTRA_D[c]);
  }
  out.send(ltree.code[END_BLOCK], ltree.len[END_BLOCK]);
}

function adler32(data) {
  let a = 1, b = 0;
  for (let i = 0; i < data.length;) {
    const stop = Math.min(data.length, i + 3800);
    for (; i < stop; i++) { a += data[i]; b += a; }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** zlib.compress(data) of stock zlib at level 6: header, deflate blocks, Adler-32. */
function compress(data) {
  const total = data.length, out = new Bits();
  out.bytes.push(0x78, 0x9c);
  const head = new Int32Array(HASH_MASK + 1).fill(-1), prev = new Int32Array(W).fill(-1);
  const hash = (p) => ((data[p] << 10) ^ (data[p + 1] << 5) ^ data[p + 2]) & HASH_MASK;
  const insert = (p) => { const h = hash(p), old = head[h]; prev[p & WMASK] = old; head[h] = p; return old; };
  // Positions are absolute; `offset` is where zlib's sliding window starts, because a slid
  // window forgets older entries (and its position 0 doubles as "no entry").
  let strstart = 0, end = 0, offset = 0, blockStart = 0;
  let matchLength = MIN_MATCH - 1, matchStart = 0, matchAvailable = false;
  let syms = [];
  const tally = (dist, lc) => { syms.push(dist, lc); return syms.length / 2 === MAX_SYMBOLS; };
  const flush = (last) => {
    flushBlock(out, syms, data, blockStart, strstart - blockStart, blockStart >= offset, last);
    syms = [];
    blockStart = strstart;
  };
  const fill = () => {
    do {
      let more = 2 * W - (end - offset);
      if (strstart - offset >= W + MAX_DIST) { offset += W; more += W; }
      if (end === total) break;
      end += Math.min(total - end, more);
    } while (end - strstart < MIN_LOOKAHEAD && end < total);
  };
  const longestMatch = (cur, prevLength) => {
    let chain = prevLength >= GOOD ? CHAIN >> 2 : CHAIN;
    const lookahead = end - strstart;
    const nice = Math.min(NICE, lookahead);
    const limit = strstart - offset > MAX_DIST ? strstart - MAX_DIST : offset;
    const maxLen = Math.min(MAX_MATCH, lookahead);
    let best = prevLength;
    do {
      let len = 0;
      while (len < maxLen && data[cur + len] === data[strstart + len]) len++;
      if (len > best && len >= 3) {
        matchStart = cur;
        best = len;
        if (len >= nice) break;
      }
    } while ((cur = prev[cur & WMASK]) > limit && --chain !== 0);
    return Math.min(best, lookahead);
  };
  for (;;) {
    if (end - strstart < MIN_LOOKAHEAD) {
      fill();
      if (end - strstart === 0) break;
    }
    const lookahead = end - strstart;
    const hashHead = lookahead >= MIN_MATCH ? insert(strstart) : -1;
    const prevLength = matchLength, prevMatch = matchStart;
    matchLength = MIN_MATCH - 1;
    if (hashHead > offset && prevLength < LAZY && strstart - hashHead <= MAX_DIST) {
      matchLength = longestMatch(hashHead, prevLength);
      if (matchLength === MIN_MATCH && strstart - matchStart > TOO_FAR) matchLength = MIN_MATCH - 1;
    }
    if (prevLength >= MIN_MATCH && matchLength <= prevLength) {
      const maxInsert = strstart + lookahead - MIN_MATCH;
      const full = tally(strstart - 1 - prevMatch, prevLength - MIN_MATCH);
      for (let k = prevLength - 2; k > 0; k--) if (++strstart <= maxInsert) insert(strstart);
      matchAvailable = false;
      matchLength = MIN_MATCH - 1;
      strstart++;
      if (full) flush(0);
    } else if (matchAvailable) {
      if (tally(0, data[strstart - 1])) flush(0);
      strstart++;
    } else {
      matchAvailable = true;
      strstart++;
    }
  }
  if (matchAvailable) tally(0, data[strstart - 1]);
  flush(1);
  out.windup();
  const sum = adler32(data);
  out.bytes.push(sum >>> 24, (sum >>> 16) & 0xff, (sum >>> 8) & 0xff, sum & 0xff);
  return Buffer.from(out.bytes);
}

module.exports = { compress };
