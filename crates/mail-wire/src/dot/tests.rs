use super::*;
use alloc::vec;
use proptest::prelude::*;

/// Feeds `input` to a decoder in the given pieces and collects what comes out: the body, the
/// summary (if the end was reached), and the bytes left after the end.
fn decode_in_pieces(
    mut decoder: DotDecoder,
    input: &[u8],
    cuts: &[usize],
) -> (Vec<u8>, Option<BodySummary>, Vec<u8>) {
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    let mut summary = None;
    let mut from = 0;
    let mut bounds: Vec<usize> = cuts.iter().copied().filter(|&c| c <= input.len()).collect();
    bounds.sort_unstable();
    bounds.push(input.len());
    for to in bounds {
        buf.extend_from_slice(&input[from..to.max(from)]);
        from = to.max(from);
        while let Some(event) = decoder.decode(&mut buf) {
            match event {
                DotEvent::Data(chunk) => {
                    assert!(summary.is_none(), "data after the end");
                    assert!(!chunk.is_empty(), "empty data event");
                    body.extend_from_slice(&chunk);
                }
                DotEvent::End(end) => {
                    assert!(summary.is_none(), "two ends");
                    summary = Some(end);
                }
            }
        }
    }
    (body, summary, buf.to_vec())
}

fn decode_whole(input: &[u8]) -> (Vec<u8>, Option<BodySummary>, Vec<u8>) {
    decode_in_pieces(DotDecoder::new(), input, &[])
}

fn assert_not_ended(input: &[u8]) {
    for policy in [BareLineEnding::Reject, BareLineEnding::Normalize] {
        let decoder = DotDecoder::new().with_bare_line_ending(policy);
        let (_, summary, _) = decode_in_pieces(decoder, input, &[]);
        assert_eq!(summary, None, "{policy:?} ended the body of {input:?}");
        for split in 0..=input.len() {
            let decoder = DotDecoder::new().with_bare_line_ending(policy);
            let (_, summary, _) = decode_in_pieces(decoder, input, &[split]);
            assert_eq!(summary, None, "{policy:?} split {split}: {input:?}");
        }
    }
}

#[test]
fn rfc5321_terminator_ends_the_body_and_keeps_the_final_crlf() {
    let (body, summary, rest) = decode_whole(b"line 1\r\nline 2\r\n.\r\nQUIT\r\n");
    assert_eq!(body, b"line 1\r\nline 2\r\n");
    assert_eq!(
        summary,
        Some(BodySummary {
            size: 16,
            error: None
        })
    );
    assert_eq!(rest, b"QUIT\r\n");
}

#[test]
fn terminator_as_the_very_first_line_is_an_empty_body() {
    let (body, summary, rest) = decode_whole(b".\r\nNOOP\r\n");
    assert!(body.is_empty());
    assert_eq!(
        summary,
        Some(BodySummary {
            size: 0,
            error: None
        })
    );
    assert_eq!(rest, b"NOOP\r\n");
}

#[test]
fn stuffed_dots_are_removed_only_at_line_start() {
    let (body, _, _) = decode_whole(b"..\r\n...x\r\na.b\r\n. x\r\n.\r\n");
    assert_eq!(body, b".\r\n..x\r\na.b\r\n x\r\n");
}

#[test]
fn stuffed_dot_on_the_very_first_line() {
    let (body, _, _) = decode_whole(b"..first\r\n.\r\n");
    assert_eq!(body, b".first\r\n");
}

#[test]
fn smuggling_variants_never_end_the_body() {
    // Each would end the message for a lax parser; followed by a smuggled command.
    for ending in [
        &b"\n.\n"[..],
        b"\n.\r\n",
        b"\r\n.\n",
        b"\r.\r",
        b"\r.\r\n",
        b"\r\n.\r",
        b"\r\n.\r\r\n",
        b"\r\n.\n\r\n",
        b"\n\r\n.\n",
        b"\r\r\n.\r\r\n",
    ] {
        let mut input = b"Subject: a\r\n\r\nbody".to_vec();
        input.extend_from_slice(ending);
        input.extend_from_slice(b"MAIL FROM:<evil@example.org>\r\n");
        assert_not_ended(&input);
    }
}

#[test]
fn smuggled_message_is_rejected_and_the_real_end_found() {
    let input = b"a\r\n\n.\nMAIL FROM:<x@y>\r\n.\r\nQUIT\r\n";
    let (body, summary, rest) = decode_whole(input);
    assert!(
        body.is_empty(),
        "a refused body delivers nothing from the refusing run"
    );
    assert_eq!(summary.unwrap().error, Some(BodyError::BareLf));
    assert_eq!(rest, b"QUIT\r\n");
}

#[test]
fn normalize_policy_turns_bare_endings_into_crlf_without_ending_or_unstuffing() {
    let decoder = DotDecoder::new().with_bare_line_ending(BareLineEnding::Normalize);
    let (body, summary, rest) = decode_in_pieces(decoder, b"a\nb\rc\n..d\r\n.\r\nX", &[]);
    assert_eq!(body, b"a\r\nb\r\nc\r\n..d\r\n");
    assert_eq!(
        summary,
        Some(BodySummary {
            size: 14,
            error: None
        })
    );
    assert_eq!(rest, b"X");
}

#[test]
fn bare_cr_is_rejected_by_default() {
    let (_, summary, _) = decode_whole(b"a\rb\r\n.\r\n");
    assert_eq!(summary.unwrap().error, Some(BodyError::BareCr));
}

#[test]
fn size_limit_refuses_and_drains_to_the_end() {
    let decoder = DotDecoder::new().with_size_limit(10);
    let (body, summary, rest) =
        decode_in_pieces(decoder, b"0123456789\r\nmore\r\n.\r\nQUIT\r\n", &[4]);
    assert_eq!(
        summary.unwrap().error,
        Some(BodyError::TooLarge { limit: 10 })
    );
    assert_eq!(summary.unwrap().size, 18);
    assert!(body.len() <= 10);
    assert_eq!(rest, b"QUIT\r\n");
}

#[test]
fn size_limit_is_inclusive() {
    let decoder = DotDecoder::new().with_size_limit(5);
    let (body, summary, _) = decode_in_pieces(decoder, b"abc\r\n.\r\n", &[]);
    assert_eq!(body, b"abc\r\n");
    assert_eq!(summary.unwrap().error, None);
}

#[test]
fn a_partial_terminator_waits() {
    let mut decoder = DotDecoder::new();
    let mut buf = BytesMut::from(&b"x\r\n.\r"[..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Some(DotEvent::Data(Bytes::from_static(b"x\r\n")))
    );
    assert_eq!(decoder.decode(&mut buf), None);
    assert_eq!(&buf[..], b".\r");
    buf.extend_from_slice(b"\n");
    assert!(matches!(decoder.decode(&mut buf), Some(DotEvent::End(_))));
    assert_eq!(
        decoder.decode(&mut buf),
        None,
        "a finished decoder stays silent"
    );
}

#[test]
fn long_clean_region_is_handed_out_without_a_copy() {
    let mut input = Vec::new();
    for _ in 0..100 {
        input.extend_from_slice(b"A plain line of a message body, long enough to matter.\r\n");
    }
    input.extend_from_slice(b"..stuffed\r\n.\r\n");
    let mut buf = BytesMut::from(&input[..]);
    let base = buf.as_ptr() as usize;
    let Some(DotEvent::Data(first)) = DotDecoder::new().decode(&mut buf) else {
        panic!("expected data");
    };
    assert_eq!(
        first.as_ptr() as usize,
        base,
        "the first chunk is a slice of the input"
    );
    assert_eq!(first.len(), input.len() - b"..stuffed\r\n.\r\n".len());
}

#[test]
fn decode_bytes_matches_decode() {
    let input = b"..a\r\nb\r\n.\r\nrest";
    let mut bytes = Bytes::from_static(input);
    let mut decoder = DotDecoder::new();
    let mut body = Vec::new();
    while let DotEvent::Data(d) = decoder.decode_bytes(&mut bytes).unwrap() {
        body.extend_from_slice(&d);
    }
    assert!(decoder.is_ended());
    assert_eq!(body, b".a\r\nb\r\n");
    assert_eq!(&bytes[..], b"rest");
}

#[test]
fn encoder_stuffs_normalises_and_terminates() {
    assert_eq!(encode_body(b""), b".\r\n");
    assert_eq!(encode_body(b"a"), b"a\r\n.\r\n");
    assert_eq!(encode_body(b"a\r\n"), b"a\r\n.\r\n");
    assert_eq!(encode_body(b".\r\n"), b"..\r\n.\r\n");
    assert_eq!(encode_body(b"a\n.\nb\r"), b"a\r\n..\r\nb\r\n.\r\n");
    assert_eq!(encode_body(b"x\r\r\n.y"), b"x\r\n\r\n..y\r\n.\r\n");
}

#[test]
fn encoder_holds_a_trailing_cr_across_chunks() {
    let mut encoder = DotEncoder::new();
    let mut out = BytesMut::new();
    encoder.encode(b"a\r", &mut out);
    encoder.encode(b"\n.b", &mut out);
    encoder.finish(&mut out);
    assert_eq!(&out[..], b"a\r\n..b\r\n.\r\n");
    assert_eq!(encoder.written(), out.len() as u64);
}

/// Decodes `input` in the pieces `cuts` makes, under both policies and the given limit, and
/// checks the outcome against the reference decoder.
fn assert_matches_reference(input: &[u8], cuts: &[usize], limit: u64) {
    for policy in [BareLineEnding::Reject, BareLineEnding::Normalize] {
        let decoder = DotDecoder::new()
            .with_bare_line_ending(policy)
            .with_size_limit(limit);
        let (body, summary, rest) = decode_in_pieces(decoder, input, cuts);
        let context = format!("{policy:?}, limit {limit}, cuts {cuts:?}");
        match reference::decode(input, policy, limit) {
            Some((expected, expected_summary, consumed)) => {
                assert_eq!(summary, Some(expected_summary), "{context}");
                if expected_summary.error.is_none() {
                    assert!(body == expected, "{context}: body differs");
                } else {
                    assert!(expected.starts_with(&body), "{context}: body differs");
                }
                assert_eq!(rest, &input[consumed..], "{context}");
            }
            None => {
                assert_eq!(summary, None, "{context}");
                assert!(rest.len() <= 2, "{context}: left {} bytes", rest.len());
            }
        }
    }
}

/// `lines` CRLF lines of `len` octets each, all stuffed (`..` then text), then the terminator
/// and a next command.
fn stuffed_lines(lines: usize, len: usize) -> Vec<u8> {
    let mut input = Vec::new();
    for i in 0..lines {
        input.extend_from_slice(b"..");
        input.extend((0..len.saturating_sub(2)).map(|j| b'a' + ((i + j) % 26) as u8));
        input.extend_from_slice(b"\r\n");
    }
    input.extend_from_slice(b".\r\nQUIT\r\n");
    input
}

#[test]
fn stuffed_dot_at_every_offset_of_a_block() {
    // A long clean line, then a stuffed one: its dot lands at every offset of the 64-octet
    // blocks the decoder checks (the line before it ends in the block before, or the same).
    for offset in 0..200 {
        let mut input = vec![b'x'; offset];
        input.extend_from_slice(b"\r\n..dot\r\n");
        input.extend_from_slice(&stuffed_lines(20, 70));
        let dot = offset + 2;
        assert_matches_reference(&input, &[], u64::MAX);
        // Pieces that end right before, on and right after the stuffed dot and its LF.
        for cut in [dot - 1, dot, dot + 1, dot + 2] {
            assert_matches_reference(&input, &[cut], u64::MAX);
        }
    }
}

#[test]
fn runs_of_stuffed_lines_of_every_length() {
    // Lines of 3 to 140 octets: several stuffed dots in one block, one in several blocks, a
    // line across a block boundary, and runs longer than the decoder's look-ahead.
    for len in 3..140 {
        let input = stuffed_lines(3000 / len + 2, len);
        assert_matches_reference(&input, &[], u64::MAX);
        assert_matches_reference(&input, &[len * 7 + 1, 1500], u64::MAX);
    }
}

#[test]
fn runs_of_stuffed_lines_keep_the_smuggling_checks() {
    // A bare CR or LF, or a dot line that is no terminator, at every place in a run of
    // stuffed lines: rejected or normalised as the reference does, the real end found.
    let clean = stuffed_lines(40, 60);
    for bad in [
        &b"\n"[..],
        b"\r",
        b"\n.\n",
        b"\r\n.\r",
        b".\r\r\n",
        b"\n..\r\n",
    ] {
        for at in (0..clean.len() - 20).step_by(7) {
            let mut input = clean[..at].to_vec();
            input.extend_from_slice(bad);
            input.extend_from_slice(&clean[at..]);
            assert_matches_reference(&input, &[], u64::MAX);
            assert_matches_reference(&input, &[at + 1], u64::MAX);
        }
    }
}

#[test]
fn size_limit_inside_a_run_of_stuffed_lines() {
    let input = stuffed_lines(60, 50);
    for limit in [0, 1, 48, 49, 50, 1000, 2939, 2940, 2941, 5000] {
        assert_matches_reference(&input, &[], limit);
        assert_matches_reference(&input, &[1100], limit);
    }
}

#[test]
fn terminator_right_after_a_run_of_stuffed_lines_at_every_offset() {
    for lines in 1..40 {
        for len in [3, 5, 63, 64, 65, 78] {
            let mut input = stuffed_lines(lines, len);
            // Cut off the terminator's CRLF, then give it back in a second piece.
            let end = input.len() - b"QUIT\r\n".len();
            assert_matches_reference(&input, &[end - 2, end - 1], u64::MAX);
            input.truncate(end - 1);
            assert_matches_reference(&input, &[], u64::MAX);
        }
    }
}

/// Bodies made of the lines that matter: dots, CR/LF mixtures, 8-bit, long lines.
fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b".".to_vec()),
        Just(b"..".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n.\r\n".to_vec()),
        Just(b"\n.\n".to_vec()),
        Just(vec![b'x'; 998]),
        Just("8-bit: \u{e9}t\u{e9}".as_bytes().to_vec()),
        proptest::collection::vec(any::<u8>(), 0..200),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// What the encoder must produce once decoded: bare CR/LF as CRLF, a final CRLF if missing.
fn normalised(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\r' if body.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
            }
            b'\r' | b'\n' => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// `input` decoded in pieces cut at `cuts` gives what the one-shot reference decoder gives:
/// the same summary, the same body (a prefix of it when refused), the same rest.
fn matches_the_reference(
    input: &[u8],
    cuts: &[usize],
    normalize: bool,
    limit: u64,
) -> Result<(), TestCaseError> {
    let policy = if normalize {
        BareLineEnding::Normalize
    } else {
        BareLineEnding::Reject
    };
    let decoder = DotDecoder::new()
        .with_bare_line_ending(policy)
        .with_size_limit(limit);
    let (body, summary, rest) = decode_in_pieces(decoder, input, cuts);
    match reference::decode(input, policy, limit) {
        Some((expected, expected_summary, consumed)) => {
            prop_assert_eq!(summary, Some(expected_summary));
            if expected_summary.error.is_none() {
                prop_assert_eq!(&body, &expected);
            } else {
                prop_assert!(expected.starts_with(&body));
            }
            prop_assert_eq!(&rest[..], &input[consumed..]);
        }
        None => {
            prop_assert_eq!(summary, None);
            prop_assert!(rest.len() <= 2, "left {} bytes unconsumed", rest.len());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_decode_is_the_identity_after_normalisation(
        body in body_strategy(),
        encode_cuts in proptest::collection::vec(0usize..4000, 0..8),
        decode_cuts in proptest::collection::vec(0usize..4000, 0..8),
    ) {
        let mut encoder = DotEncoder::new();
        let mut wire = BytesMut::new();
        let mut from = 0;
        let mut cuts = encode_cuts.clone();
        cuts.sort_unstable();
        for cut in cuts.into_iter().chain([body.len()]) {
            let cut = cut.min(body.len()).max(from);
            encoder.encode(&body[from..cut], &mut wire);
            from = cut;
        }
        encoder.finish(&mut wire);
        wire.extend_from_slice(b"NEXT");
        let (decoded, summary, rest) = decode_in_pieces(DotDecoder::new(), &wire, &decode_cuts);
        prop_assert_eq!(&decoded, &normalised(&body));
        prop_assert_eq!(summary, Some(BodySummary { size: decoded.len() as u64, error: None }));
        prop_assert_eq!(rest, b"NEXT".to_vec());
    }

    #[test]
    fn crlf_normalizer_matches_the_encoder_without_stuffing(
        body in body_strategy(),
        cuts in proptest::collection::vec(0usize..4000, 0..8),
    ) {
        let mut normalizer = CrlfNormalizer::new();
        let mut counter = CrlfNormalizer::new();
        let mut out = BytesMut::new();
        let mut counted = 0;
        let mut from = 0;
        let mut cuts = cuts.clone();
        cuts.sort_unstable();
        for cut in cuts.into_iter().chain([body.len()]) {
            let cut = cut.min(body.len()).max(from);
            normalizer.encode(&body[from..cut], &mut out);
            counted += counter.measure(&body[from..cut]);
            from = cut;
        }
        normalizer.finish(&mut out);
        counted += counter.finish_len();
        prop_assert_eq!(&out[..], &normalised(&body)[..]);
        prop_assert_eq!(counted, out.len() as u64);
    }

    #[test]
    fn any_split_matches_the_reference(
        input in proptest::collection::vec(prop_oneof![
            Just(b'.'), Just(b'\r'), Just(b'\n'), Just(b'a'), any::<u8>()
        ], 0..300),
        cuts in proptest::collection::vec(0usize..300, 0..6),
        normalize in any::<bool>(),
        limit in prop_oneof![Just(u64::MAX), 0u64..300],
    ) {
        matches_the_reference(&input, &cuts, normalize, limit)?;
    }

    #[test]
    fn line_structured_bodies_match_the_reference(
        lines in proptest::collection::vec(
            (0usize..3, 0usize..150, prop_oneof![
                8 => Just(&b"\r\n"[..]), 1 => Just(&b"\n"[..]), 1 => Just(&b"\r"[..])
            ]),
            0..80,
        ),
        cuts in proptest::collection::vec(0usize..8000, 0..6),
        normalize in any::<bool>(),
        limit in prop_oneof![Just(u64::MAX), 0u64..8000],
    ) {
        // Many lines that begin with dots, of any length, a few bare line endings: the input
        // the block walker sees.
        let mut input = Vec::new();
        for (dots, len, ending) in lines {
            input.extend(core::iter::repeat_n(b'.', dots));
            input.extend((0..len).map(|i| b'a' + (i % 26) as u8));
            input.extend_from_slice(ending);
        }
        input.extend_from_slice(b".\r\nNEXT");
        matches_the_reference(&input, &cuts, normalize, limit)?;
    }

    #[test]
    fn one_byte_at_a_time_matches_whole(input in body_strategy()) {
        let mut wire = input.clone();
        wire.extend_from_slice(b"\r\n.\r\n");
        let cuts: Vec<usize> = (0..wire.len()).collect();
        let whole = decode_in_pieces(DotDecoder::new(), &wire, &[]);
        let bytewise = decode_in_pieces(DotDecoder::new(), &wire, &cuts);
        prop_assert_eq!(whole.1, bytewise.1);
        if whole.1.unwrap().error.is_none() {
            prop_assert_eq!(whole.0, bytewise.0);
        }
    }
}
