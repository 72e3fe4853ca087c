//! Streaming dot-stuffing of message bodies (RFC 5321 section 4.5.2, RFC 1939 section 3).
//!
//! A body travels as CRLF lines ended by a line holding a single `.`; a line that begins with
//! `.` gets one more `.` in front. [`DotEncoder`] stuffs a body given in chunks of any size,
//! [`DotDecoder`] unstuffs one arriving in chunks of any size and finds its end.
//!
//! The end of a body is exactly CRLF `.` CRLF (or `.` CRLF as the very first line). A bare LF
//! or bare CR never ends a body and never starts a line: that is what SMTP smuggling (2023)
//! exploits when two programs disagree on where a message ends.

use alloc::vec::Vec;
use bytes::{BufMut, Bytes, BytesMut};

/// What the decoder does with a bare LF (not after CR) or bare CR (not before LF) in a body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BareLineEnding {
    /// The body is flagged with [`BodyError::BareLf`] / [`BodyError::BareCr`]: no more data is
    /// delivered, and the rest is drained to the real end so the session can answer and go on
    /// (SMTP: 550 5.6.11, as the 2023 smuggling advisories recommend).
    #[default]
    Reject,
    /// The bare LF or CR is delivered as CRLF. The line after it still does not count as a new
    /// line: it is neither unstuffed nor able to end the body.
    Normalize,
}

/// Why a body was refused. Once the decoder has one, it delivers no more data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum BodyError {
    /// The body, unstuffed, is larger than the limit (SMTP 552 5.3.4, RFC 1870 section 6.3).
    #[error("message larger than {limit} octets")]
    TooLarge {
        /// The limit in force, in octets.
        limit: u64,
    },
    /// A line of the body ends in LF without CR.
    #[error("bare LF in message content")]
    BareLf,
    /// The body holds a CR not followed by LF.
    #[error("bare CR in message content")]
    BareCr,
}

/// How a body ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BodySummary {
    /// Octets of the unstuffed body, counted to its end, including what was drained after an
    /// error. The terminating `.` line is not counted; the CRLF before it is (RFC 5321
    /// section 4.1.1.4: it ends the last line of the body).
    pub size: u64,
    /// Why the body was refused, if it was. The data delivered before is incomplete.
    pub error: Option<BodyError>,
}

/// One step of decoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DotEvent {
    /// The next piece of the unstuffed body, in order.
    Data(Bytes),
    /// The terminating line was consumed; the bytes after it belong to the next command.
    End(BodySummary),
}

/// A region of the body without stuffed dots at least this long is handed out as a slice of
/// the input; shorter pieces are gathered into one copy, since a slice costs more than copying
/// a few hundred octets.
const ZERO_COPY_MIN: usize = 1024;

/// Unstuffs a body arriving in pieces and finds its end.
///
/// ```
/// use bytes::BytesMut;
/// use mail_wire::dot::{DotDecoder, DotEvent};
///
/// let mut decoder = DotDecoder::new();
/// let mut buf = BytesMut::from(&b"Subject: hi\r\n\r\n..a line that began with a dot\r\n.\r\nQUIT\r\n"[..]);
/// let mut body = Vec::new();
/// let summary = loop {
///     match decoder.decode(&mut buf).expect("the whole body is in buf") {
///         DotEvent::Data(chunk) => body.extend_from_slice(&chunk),
///         DotEvent::End(summary) => break summary,
///     }
/// };
/// assert_eq!(body, b"Subject: hi\r\n\r\n.a line that began with a dot\r\n");
/// assert_eq!(summary.size, body.len() as u64);
/// assert_eq!(summary.error, None);
/// assert_eq!(&buf[..], b"QUIT\r\n");
/// ```
#[derive(Clone, Debug)]
pub struct DotDecoder {
    at_line_start: bool,
    phase: Phase,
    size: u64,
    limit: u64,
    bare: BareLineEnding,
    error: Option<BodyError>,
}

impl Default for DotDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl DotDecoder {
    /// A decoder at the first line of a body, with no size limit, rejecting bare CR and LF.
    pub const fn new() -> Self {
        Self {
            at_line_start: true,
            phase: Phase::Body,
            size: 0,
            limit: u64::MAX,
            bare: BareLineEnding::Reject,
            error: None,
        }
    }

    /// The same decoder with a limit on the unstuffed size.
    pub const fn with_size_limit(mut self, limit: u64) -> Self {
        self.limit = limit;
        self
    }

    /// The same decoder with another policy for bare CR and LF.
    pub const fn with_bare_line_ending(mut self, policy: BareLineEnding) -> Self {
        self.bare = policy;
        self
    }

    /// Unstuffed octets counted so far.
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// The error that refused the body, as soon as it is known (before the end).
    pub const fn error(&self) -> Option<BodyError> {
        self.error
    }

    /// True once the terminating line was consumed.
    pub const fn is_ended(&self) -> bool {
        !matches!(self.phase, Phase::Body)
    }

    /// Decodes from the front of `buf`, consuming what it uses. `None` means more input is
    /// needed (everything usable was consumed). After [`DotEvent::End`] the decoder is done:
    /// it returns `None` and leaves `buf` alone.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Option<DotEvent> {
        self.decode_from(buf)
    }

    /// [`decode`](Self::decode) on a `Bytes` input.
    pub fn decode_bytes(&mut self, buf: &mut Bytes) -> Option<DotEvent> {
        self.decode_from(buf)
    }

    fn decode_from<I: Input>(&mut self, buf: &mut I) -> Option<DotEvent> {
        while self.phase == Phase::Body {
            let mut out = Output::Nothing;
            let consumed = self.run(buf.bytes(), &mut out);
            if consumed == 0 {
                return None;
            }
            let taken = buf.take_front(consumed);
            let data = match out {
                Output::Nothing => continue,
                Output::Slice(start, end) => taken.slice(start..end),
                Output::Owned(copy) => copy.freeze(),
            };
            return Some(DotEvent::Data(data));
        }
        if self.phase != Phase::Ending {
            return None;
        }
        self.phase = Phase::Done;
        Some(DotEvent::End(BodySummary {
            size: self.size,
            error: self.error,
        }))
    }

    /// Scans `data` from its start, pushing body bytes into `out`; returns how many bytes of
    /// `data` are used up. Never stops between a CR and the byte after it, nor inside a line
    /// start that could still be the terminator.
    fn run(&mut self, data: &[u8], out: &mut Output) -> usize {
        let line_breaks = LineBreaks::new();
        let mut pos = 0;
        let mut seg = 0;
        loop {
            if self.at_line_start {
                pos = match self.line_start(data, pos, &mut seg, out) {
                    Ok(next) => next,
                    Err(stop) => return stop,
                };
            }
            pos = match self.unstuff_blocks(data, pos, &mut seg, out) {
                Ok(next) => next,
                Err(stop) => return stop,
            };
            let Some(found) = line_breaks.find(&data[pos..]) else {
                pos = data.len();
                break;
            };
            let at = pos + found;
            let bare = if data[at] == b'\r' {
                match data.get(at + 1) {
                    None => {
                        pos = at;
                        break;
                    }
                    Some(b'\n') => {
                        pos = at + 2;
                        self.at_line_start = true;
                        continue;
                    }
                    Some(_) => BodyError::BareCr,
                }
            } else if at > 0 && data[at - 1] == b'\r' {
                // Only reachable when a block walk ended between CR and LF.
                pos = at + 1;
                self.at_line_start = true;
                continue;
            } else {
                BodyError::BareLf
            };
            self.emit(data, seg, at, out);
            match self.bare {
                BareLineEnding::Normalize => self.emit_crlf(data, out),
                BareLineEnding::Reject => self.refuse(bare, out),
            }
            pos = at + 1;
            seg = pos;
        }
        self.emit(data, seg, pos, out);
        pos
    }

    /// The line starting at `pos`: drops a stuffed dot, or ends the body at the terminator.
    /// `Ok` is where the line goes on; `Err` is where this run stops, all due output emitted.
    #[inline(always)]
    fn line_start(
        &mut self,
        data: &[u8],
        pos: usize,
        seg: &mut usize,
        out: &mut Output,
    ) -> Result<usize, usize> {
        if data.get(pos) == Some(&b'.') {
            match (data.get(pos + 1), data.get(pos + 2)) {
                (Some(b'\r'), Some(b'\n')) => {
                    self.emit(data, *seg, pos, out);
                    self.phase = Phase::Ending;
                    return Err(pos + 3);
                }
                (None, _) | (Some(b'\r'), None) => {
                    self.emit(data, *seg, pos, out);
                    return Err(pos);
                }
                _ => {
                    // A stuffed dot: dropped. A long clean slice goes out first.
                    self.emit(data, *seg, pos, out);
                    if out.slice_len() >= ZERO_COPY_MIN {
                        return Err(pos);
                    }
                    *seg = pos + 1;
                    self.at_line_start = false;
                    return Ok(pos + 1);
                }
            }
        }
        if pos == data.len() {
            self.emit(data, *seg, pos, out);
            return Err(pos);
        }
        self.at_line_start = false;
        Ok(pos)
    }

    /// Walks whole blocks from `pos` (not a line start), dropping the stuffed dots they hold,
    /// and returns where a byte-wise look must go on: a bare CR or LF, or too little input
    /// left for a block. Each pair of bytes is checked once, with no search call per line:
    /// what makes bodies with many stuffed lines fast. `Err` as for
    /// [`line_start`](Self::line_start).
    ///
    /// The dirty pairs of a batch of blocks are found first and dealt with after, so that the
    /// search has no branch on the data for the CPU to mispredict.
    #[inline(always)]
    fn unstuff_blocks(
        &mut self,
        data: &[u8],
        mut pos: usize,
        seg: &mut usize,
        out: &mut Output,
    ) -> Result<usize, usize> {
        // The first byte's own predecessor is in no window: an LF there needs the slow path.
        // Later blocks overlap the one before by a byte, so every pair from `pos` on is seen.
        if data.get(pos) == Some(&b'\n') {
            return Ok(pos);
        }
        while data.len() > pos + BLOCK {
            let start = pos;
            // Offsets from `start`: at most one per block, but for the block that ends a batch.
            let mut found = [0u16; BATCH / BLOCK + BLOCK];
            let mut n = 0;
            // Until the output is a copy, the first stuffed dot may end the run (a long slice
            // goes out): then one block at a time, not to look ahead in vain.
            let batch = match out {
                Output::Owned(_) => BATCH / BLOCK,
                _ => 1,
            };
            let firsts = data[start..].chunks_exact(BLOCK);
            let seconds = data[start + 1..].chunks_exact(BLOCK);
            for (first, second) in firsts.zip(seconds).take(batch) {
                let matrix = dirty_pairs(first, second);
                let base = (pos - start) as u16;
                pos += BLOCK;
                if matrix & matrix.wrapping_sub(1) == 0 {
                    // None or one, without a branch: the slot is overwritten when none.
                    let bit = matrix.trailing_zeros() as u16;
                    found[n] = base + (bit & 7) * 8 + (bit >> 3);
                    n += usize::from(matrix != 0);
                } else {
                    let mut dirty = transpose_8x8(matrix);
                    while dirty != 0 {
                        found[n] = base + dirty.trailing_zeros() as u16;
                        n += 1;
                        dirty &= dirty - 1;
                    }
                    break;
                }
            }
            if n == 0 {
                // A clean stretch: the plain check is the cheaper one.
                pos = skip_clean_windows(data, pos);
                continue;
            }
            let mut found = &found[..n];
            // The common case first: the body gathered into a copy, dot after stuffed dot. The
            // size is counted and checked once for the lot: a refusal drops this run's output
            // whole, so checking later refuses the same.
            if let (Output::Owned(copy), None) = (&mut *out, self.error) {
                let (before, mut from) = (copy.len(), *seg);
                while let Some((&offset, rest)) = found.split_first() {
                    let at = start + usize::from(offset);
                    let dot = at + 1;
                    match data.get(at..=dot + 1) {
                        Some(&[b'\n', b'.', next]) if next != b'\r' => {
                            copy.extend_from_slice(&data[from..dot]);
                            from = dot + 1;
                            found = rest;
                        }
                        _ => break,
                    }
                }
                *seg = from;
                self.size = self.size.saturating_add((copy.len() - before) as u64);
                self.check_size(out);
            }
            for &offset in found {
                let at = start + usize::from(offset);
                let dot = at + 1;
                match data.get(at..=dot + 1) {
                    Some(&[b'\n', b'.', next]) if next != b'\r' => {
                        // Stuffed, as `line_start` would find. A long clean slice goes out first.
                        self.emit(data, *seg, dot, out);
                        if out.slice_len() >= ZERO_COPY_MIN {
                            self.at_line_start = true;
                            return Err(dot);
                        }
                        *seg = dot + 1;
                    }
                    _ if data[at] == b'\n' && data[dot] == b'.' => {
                        // The terminator, or a line start the input may still cut short.
                        self.at_line_start = true;
                        self.line_start(data, dot, seg, out)?;
                    }
                    // A bare CR or LF: the slow path reports it; the dots before it are done.
                    _ => return Ok(at.max(*seg)),
                }
            }
        }
        // A dot dropped at the very end of the last block lies past `pos`.
        Ok(pos.max(*seg))
    }

    /// Counts `data[from..to]` into the body and delivers it, unless the body is refused.
    #[inline]
    fn emit(&mut self, data: &[u8], from: usize, to: usize, out: &mut Output) {
        self.size = self.size.saturating_add((to - from) as u64);
        if self.error.is_none() {
            out.push(data, from, to);
            self.check_size(out);
        }
    }

    /// A normalised bare line ending.
    fn emit_crlf(&mut self, data: &[u8], out: &mut Output) {
        self.size = self.size.saturating_add(2);
        if self.error.is_none() {
            out.push_static(data, b"\r\n");
            self.check_size(out);
        }
    }

    fn check_size(&mut self, out: &mut Output) {
        if self.size > self.limit {
            self.refuse(BodyError::TooLarge { limit: self.limit }, out);
        }
    }

    /// Refuses the body (the first reason counts): what this run gathered is dropped and
    /// nothing more is delivered.
    fn refuse(&mut self, error: BodyError, out: &mut Output) {
        if self.error.is_none() {
            self.error = Some(error);
        }
        *out = Output::Nothing;
    }
}

/// Where the decoder is in the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Body,
    /// The terminating line is consumed; `End` is not reported yet.
    Ending,
    Done,
}

/// What one run of the decoder produced.
enum Output {
    Nothing,
    /// One contiguous region of the input: handed out without a copy.
    Slice(usize, usize),
    /// Several regions, gathered.
    Owned(BytesMut),
}

impl Output {
    #[inline(always)]
    fn push(&mut self, data: &[u8], from: usize, to: usize) {
        if from == to {
            return;
        }
        match self {
            Output::Nothing => *self = Output::Slice(from, to),
            Output::Slice(start, end) if *end == from => *end = to,
            Output::Slice(start, end) => {
                let mut copy = BytesMut::with_capacity(data.len() - *start);
                copy.extend_from_slice(&data[*start..*end]);
                copy.extend_from_slice(&data[from..to]);
                *self = Output::Owned(copy);
            }
            Output::Owned(copy) => copy.extend_from_slice(&data[from..to]),
        }
    }

    fn push_static(&mut self, data: &[u8], bytes: &'static [u8]) {
        let mut copy = match core::mem::replace(self, Output::Nothing) {
            Output::Nothing => BytesMut::with_capacity(data.len() + bytes.len()),
            Output::Slice(start, end) => {
                let mut copy = BytesMut::with_capacity(data.len() - start + bytes.len());
                copy.extend_from_slice(&data[start..end]);
                copy
            }
            Output::Owned(copy) => copy,
        };
        copy.extend_from_slice(bytes);
        *self = Output::Owned(copy);
    }

    fn slice_len(&self) -> usize {
        match self {
            Output::Slice(start, end) => end - start,
            _ => 0,
        }
    }
}

/// The two buffer types the decoder reads from.
trait Input {
    fn bytes(&self) -> &[u8];
    fn take_front(&mut self, n: usize) -> Bytes;
}

impl Input for BytesMut {
    fn bytes(&self) -> &[u8] {
        self
    }
    fn take_front(&mut self, n: usize) -> Bytes {
        self.split_to(n).freeze()
    }
}

impl Input for Bytes {
    fn bytes(&self) -> &[u8] {
        self
    }
    fn take_front(&mut self, n: usize) -> Bytes {
        self.split_to(n)
    }
}

/// Finds the next CR or LF. Built once per decoding run: `memchr::memchr2` picks its
/// implementation on every call, which costs as much as the search on short lines.
struct LineBreaks {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    avx2: Option<memchr::arch::x86_64::avx2::memchr::Two>,
}

impl LineBreaks {
    #[inline]
    fn new() -> Self {
        Self {
            #[cfg(all(target_arch = "x86_64", feature = "std"))]
            avx2: memchr::arch::x86_64::avx2::memchr::Two::new(b'\r', b'\n'),
        }
    }

    #[inline]
    fn find(&self, haystack: &[u8]) -> Option<usize> {
        #[cfg(all(target_arch = "x86_64", feature = "std"))]
        if let Some(searcher) = &self.avx2 {
            return searcher.find(haystack);
        }
        memchr::memchr2(b'\r', b'\n', haystack)
    }
}

const BLOCK: usize = 64;

/// How far [`DotDecoder::unstuff_blocks`] looks ahead before dealing with what it found.
const BATCH: usize = 16 * BLOCK;

/// Advances `pos` over whole blocks in which every line ending is CRLF and no line starts
/// with `.`: the common case, checked without branches so the compiler vectorises it.
#[inline]
fn skip_clean_blocks(data: &[u8], pos: usize) -> usize {
    // The first byte's own predecessor is not in the window: an LF there needs the slow path.
    if data.get(pos) == Some(&b'\n') {
        return pos;
    }
    skip_clean_windows(data, pos)
}

/// Whether the adjacent pair `(a, b)` needs a closer look: a CR must be followed by LF and an
/// LF preceded by CR (`a == CR` iff `b == LF`), and no LF is followed by `.`.
#[inline(always)]
fn dirty_pair(a: u8, b: u8) -> bool {
    ((a == b'\r') != (b == b'\n')) | ((a == b'\n') & (b == b'.'))
}

/// [`skip_clean_blocks`] without the check of the first byte. Each block's window overlaps
/// the next by one byte, so every pair from `pos` on is checked.
#[inline]
fn skip_clean_windows(data: &[u8], mut pos: usize) -> usize {
    while let Some(window) = data.get(pos..pos + BLOCK + 1) {
        let (first, second) = (&window[..BLOCK], &window[1..]);
        let mut dirty = false;
        for (&a, &b) in first.iter().zip(second) {
            dirty |= dirty_pair(a, b);
        }
        if dirty {
            break;
        }
        pos += BLOCK;
    }
    pos
}

/// The dirty pairs of a block, as an 8x8 bit matrix: bit `8 * (i % 8) + i / 8` set when the
/// pair `(first[i], second[i])` is dirty (see [`dirty_pair`]). Transposed, it has bit `i`
/// for pair `i`; a lone bit can just be moved.
///
/// Safe code has no movemask instruction, so the flags are packed in a way the compiler
/// vectorises: the flag of pair `i` is weighted by bit `i / 8`, and the eight-byte words ORed.
#[inline(always)]
fn dirty_pairs(first: &[u8], second: &[u8]) -> u64 {
    let mut flags = [0u8; BLOCK];
    for (i, ((flag, &a), &b)) in flags.iter_mut().zip(first).zip(second).enumerate() {
        *flag = u8::from(dirty_pair(a, b)) << (i / 8);
    }
    let mut mask = 0;
    for eight in flags.chunks_exact(8) {
        mask |= u64::from_le_bytes(eight.try_into().unwrap_or_default());
    }
    mask
}

/// Bit `8 * r + c` goes to bit `8 * c + r` (Hacker's Delight, section 7-3).
#[inline(always)]
const fn transpose_8x8(mut x: u64) -> u64 {
    let t = (x ^ (x >> 7)) & 0x00AA_00AA_00AA_00AA;
    x ^= t ^ (t << 7);
    let t = (x ^ (x >> 14)) & 0x0000_CCCC_0000_CCCC;
    x ^= t ^ (t << 14);
    let t = (x ^ (x >> 28)) & 0x0000_0000_F0F0_F0F0;
    x ^ t ^ (t << 28)
}

/// Where a writer is in the body: what the next byte means depends on the last one.
#[derive(Clone, Copy, Debug)]
struct LineState {
    /// The next byte begins a line (body start, or right after a line ending).
    at_line_start: bool,
    /// The last piece ended in CR; whether it begins a CRLF shows with the next byte.
    pending_cr: bool,
}

impl LineState {
    const START: Self = Self {
        at_line_start: true,
        pending_cr: false,
    };

    /// Walks `chunk` and hands `emit` the output in order: slices of `chunk`, with every bare
    /// CR and bare LF written as CRLF and, when `stuff`, a `.` before every line that begins
    /// with `.`. The one loop behind both [`DotEncoder`] and [`CrlfNormalizer`].
    #[inline(always)]
    fn walk(&mut self, chunk: &[u8], stuff: bool, mut emit: impl FnMut(&[u8])) {
        let line_breaks = LineBreaks::new();
        let mut pos = 0;
        if self.pending_cr && !chunk.is_empty() {
            self.pending_cr = false;
            emit(b"\r\n");
            self.at_line_start = true;
            if chunk[0] == b'\n' {
                pos = 1;
            }
        }
        let mut seg = pos;
        loop {
            if self.at_line_start && pos < chunk.len() {
                if stuff && chunk[pos] == b'.' {
                    emit(&chunk[seg..pos]);
                    emit(b".");
                    seg = pos;
                }
                self.at_line_start = false;
            }
            pos = skip_clean_blocks(chunk, pos);
            let Some(found) = line_breaks.find(&chunk[pos..]) else {
                break;
            };
            let at = pos + found;
            if chunk[at] == b'\r' {
                match chunk.get(at + 1) {
                    None => {
                        emit(&chunk[seg..at]);
                        self.pending_cr = true;
                        return;
                    }
                    Some(b'\n') => {
                        pos = at + 2;
                        self.at_line_start = true;
                        continue;
                    }
                    Some(_) => {}
                }
            } else if at > 0 && chunk[at - 1] == b'\r' {
                pos = at + 1;
                self.at_line_start = true;
                continue;
            }
            // Bare CR or bare LF: written as CRLF.
            emit(&chunk[seg..at]);
            emit(b"\r\n");
            pos = at + 1;
            seg = pos;
            self.at_line_start = true;
        }
        emit(&chunk[seg..]);
    }

    /// The CRLF that ends a last line without one (nothing for an empty body).
    fn final_crlf(&self) -> &'static [u8] {
        if self.pending_cr || !self.at_line_start {
            b"\r\n"
        } else {
            b""
        }
    }
}

/// Dot-stuffs a body given in pieces of any size.
///
/// Bare CR and bare LF are written as CRLF (RFC 5321 section 2.3.8 allows no other line
/// ending), so the output can never carry a smuggled end of data; [`finish`](Self::finish)
/// guarantees the CRLF before the terminating `.` line.
///
/// ```
/// use bytes::BytesMut;
/// use mail_wire::dot::DotEncoder;
///
/// let mut encoder = DotEncoder::new();
/// let mut out = BytesMut::new();
/// encoder.encode(b".hidden\nline", &mut out);
/// encoder.finish(&mut out);
/// assert_eq!(&out[..], b"..hidden\r\nline\r\n.\r\n");
/// ```
#[derive(Clone, Debug)]
pub struct DotEncoder {
    state: LineState,
    written: u64,
}

impl Default for DotEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl DotEncoder {
    /// An encoder at the first line of a body.
    pub const fn new() -> Self {
        Self {
            state: LineState::START,
            written: 0,
        }
    }

    /// Octets written to `out` so far.
    pub const fn written(&self) -> u64 {
        self.written
    }

    /// Stuffs `chunk` into `out`. A CR at the end of `chunk` is held until the next byte shows
    /// whether it begins a CRLF.
    pub fn encode(&mut self, chunk: &[u8], out: &mut BytesMut) {
        let before = out.len();
        out.reserve(chunk.len() + chunk.len() / 64 + 4);
        self.state.walk(chunk, true, |piece| out.put_slice(piece));
        self.written += (out.len() - before) as u64;
    }

    /// Ends the body: a CRLF if the last line lacks one, then the `.` line. The encoder is then
    /// ready for a new body.
    pub fn finish(&mut self, out: &mut BytesMut) {
        let before = out.len();
        out.put_slice(self.state.final_crlf());
        out.put_slice(b".\r\n");
        self.written += (out.len() - before) as u64;
        self.state = LineState::START;
    }
}

/// Normalises line endings of a body given in pieces of any size, without dot-stuffing: every
/// bare CR and bare LF becomes CRLF (RFC 5321 section 2.3.8), and a last line without a line
/// ending gets one. For content framed by length rather than by a `.` line (SMTP BDAT,
/// RFC 3030), and for counting the octets a body will take on the wire (POP3 sizes,
/// RFC 1939 section 11): the same rules as [`DotEncoder`], so the two always agree.
///
/// ```
/// use bytes::BytesMut;
/// use mail_wire::dot::CrlfNormalizer;
///
/// let mut normalizer = CrlfNormalizer::new();
/// let mut out = BytesMut::new();
/// normalizer.encode(b".a\nb\r", &mut out);
/// normalizer.encode(b"\nc", &mut out);
/// normalizer.finish(&mut out);
/// assert_eq!(&out[..], b".a\r\nb\r\nc\r\n");
///
/// // Counting gives the same length without writing.
/// let mut counter = CrlfNormalizer::new();
/// let len = counter.measure(b".a\nb\r") + counter.measure(b"\nc") + counter.finish_len();
/// assert_eq!(len, out.len() as u64);
/// ```
#[derive(Clone, Debug)]
pub struct CrlfNormalizer {
    state: LineState,
}

impl Default for CrlfNormalizer {
    fn default() -> Self {
        Self::new()
    }
}

impl CrlfNormalizer {
    /// A normaliser at the start of a body.
    pub const fn new() -> Self {
        Self {
            state: LineState::START,
        }
    }

    /// Appends `chunk` to `out` with its line endings normalised. A CR at the end of `chunk`
    /// is held until the next byte shows whether it begins a CRLF.
    pub fn encode(&mut self, chunk: &[u8], out: &mut BytesMut) {
        out.reserve(chunk.len() + chunk.len() / 64 + 2);
        self.state.walk(chunk, false, |piece| out.put_slice(piece));
    }

    /// How many octets [`encode`](Self::encode) would append for `chunk` (and advances the
    /// same way), without writing them.
    pub fn measure(&mut self, chunk: &[u8]) -> u64 {
        let mut len = 0u64;
        self.state
            .walk(chunk, false, |piece| len += piece.len() as u64);
        len
    }

    /// Ends the body: the held CR as CRLF, or a CRLF when the last line lacks one. Ready for
    /// a new body afterwards.
    pub fn finish(&mut self, out: &mut BytesMut) {
        out.put_slice(self.state.final_crlf());
        self.state = LineState::START;
    }

    /// How many octets [`finish`](Self::finish) would append (and resets the same way).
    pub fn finish_len(&mut self) -> u64 {
        let len = self.state.final_crlf().len() as u64;
        self.state = LineState::START;
        len
    }
}

/// Stuffs a whole body at once: `body` with CRLF line endings, dots doubled and the
/// terminating line appended. A convenience over [`DotEncoder`].
pub fn encode_body(body: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    let mut encoder = DotEncoder::new();
    encoder.encode(body, &mut out);
    encoder.finish(&mut out);
    out.to_vec()
}

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
