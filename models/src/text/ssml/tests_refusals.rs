//! Tests for what the SSML parser refuses: every error names the tag or attribute (and,
//! where it matters, the byte offset) in its message.

use super::tests::speak;
use super::*;

#[test]
fn refusals_name_the_problem() {
    let cases: Vec<(String, &str)> = vec![
        (
            speak("<audio src=\"x.wav\"/>"),
            "unsupported SSML tag <audio>",
        ),
        (
            speak("<voice name=\"x\">a</voice>"),
            "unsupported SSML tag <voice>",
        ),
        (speak("a<mark name=\"m\"/>"), "unsupported SSML tag <mark>"),
        (speak("<Break/>"), "<Break>"),
        (speak("<break foo=\"1\"/>"), "attribute foo on <break>"),
        (speak("<break time=\"1s\" time=\"2s\"/>"), "given twice"),
        (speak("<p id=\"x\">a</p>"), "attribute id on <p>"),
        (speak("<break time=\"11s\"/>"), "at most 10s"),
        (speak("<break time=\"fast\"/>"), "time on <break>"),
        (speak("<break time=\"-1s\"/>"), "time on <break>"),
        (speak("<break strength=\"huge\"/>"), "strength on <break>"),
        (speak("<break>x</break>"), "<break> must be empty"),
        (speak("<break><p/></break>"), "<break> must be empty"),
        (speak("<sub>x</sub>"), "<sub> at byte 7 needs a alias"),
        (speak("<say-as>1</say-as>"), "needs a interpret-as"),
        (
            speak("<say-as interpret-as=\"currency\">1</say-as>"),
            "interpret-as on <say-as>",
        ),
        (
            speak("<say-as interpret-as=\"date\" format=\"md\">1</say-as>"),
            "format on <say-as>",
        ),
        (
            speak("<say-as interpret-as=\"date\">soon</say-as>"),
            "in <say-as>",
        ),
        (
            speak("<say-as interpret-as=\"date\">13/40/2024</say-as>"),
            "not a valid date",
        ),
        (
            speak("<say-as interpret-as=\"cardinal\">ten</say-as>"),
            "cardinal",
        ),
        (
            speak("<say-as interpret-as=\"ordinal\">x</say-as>"),
            "ordinal",
        ),
        (
            speak("<say-as interpret-as=\"telephone\">call me</say-as>"),
            "telephone",
        ),
        (
            speak("<say-as interpret-as=\"characters\"> </say-as>"),
            "characters",
        ),
        (
            speak("<sub alias=\"a\"><emphasis>b</emphasis></sub>"),
            "<sub> may contain only text, found <emphasis>",
        ),
        (
            speak("<phoneme alphabet=\"x-sampa\" ph=\"a\">b</phoneme>"),
            "alphabet on <phoneme>",
        ),
        (speak("<phoneme alphabet=\"ipa\">b</phoneme>"), "needs a ph"),
        (
            speak("<prosody rate=\"zippy\">a</prosody>"),
            "rate on <prosody>",
        ),
        (
            speak("<prosody rate=\"0\">a</prosody>"),
            "rate must be positive",
        ),
        (
            speak("<prosody duration=\"2s\">a</prosody>"),
            "attribute duration on <prosody>",
        ),
        (
            speak("<emphasis level=\"max\">a</emphasis>"),
            "level on <emphasis>",
        ),
        (
            "<speak><p>a</speak>".into(),
            "mismatched closing tag </speak> at byte 11: expected </p>",
        ),
        ("<speak><p>a".into(), "unclosed tag <p>"),
        ("<speak>a".into(), "unclosed tag <speak>"),
        ("<speak>a</speak></p>".into(), "unexpected closing tag </p>"),
        (
            "hello <speak>a</speak>".into(),
            "text outside <speak> at byte 0",
        ),
        ("<speak>a</speak> trailing".into(), "text outside <speak>"),
        (
            "<speak>a</speak><speak>b</speak>".into(),
            "text outside <speak>",
        ),
        ("<p>a</p>".into(), "root must be <speak>, found <p>"),
        (speak("<p><speak>a</speak></p>"), "nested in <p>"),
        ("just text".into(), "text outside <speak>"),
        ("   ".into(), "no <speak> element"),
        (speak(&"<p>".repeat(40)), "deeper than 32"),
        ("x".repeat(MAX_BYTES + 1), "over the limit"),
        (speak("a & b"), "bare '&'"),
        (speak("&nbsp;"), "unknown entity &nbsp;"),
        (speak("&#0;"), "unknown entity &#0;"),
        (speak("&#xD800;"), "unknown entity"),
        (speak("a < b"), "expected a tag name"),
        (speak("<break time=1s/>"), "must be quoted"),
        (speak("<break time=\"1s/>"), "unterminated value"),
        (speak("<!-- never closed"), "unterminated comment"),
        (speak("<![CDATA[x]]>"), "CDATA"),
        (speak("<?php echo 1 ?>"), "<?php?>"),
        (speak("<?xml version=\"1.0\"?>"), "only before <speak>"),
        ("<speak".into(), "unterminated tag <speak>"),
        (speak("<p"), "malformed tag <p>"),
    ];
    for (input, needle) in &cases {
        match parse(input) {
            Ok(doc) => panic!("{input:?} parsed: {doc:?}"),
            Err(e) => assert!(
                e.to_string().contains(needle),
                "{input:?}: {e} lacks {needle:?}"
            ),
        }
    }
    let err = parse(&speak("<audio/>"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains(SUPPORTED_TAGS), "{err}");
}
