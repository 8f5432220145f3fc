//! Tests for the SSML parser: happy paths per tag, nesting, entities, every refusal (with
//! the tag or attribute named in the message) and a no-panic loop over mangled inputs.

use super::*;

fn text(t: &str) -> Segment {
    Segment::Text {
        text: t.into(),
        rate: 1.0,
        emphasis: Emphasis::None,
    }
}

fn styled(t: &str, rate: f32, emphasis: Emphasis) -> Segment {
    Segment::Text {
        text: t.into(),
        rate,
        emphasis,
    }
}

fn pause(seconds: f32) -> Segment {
    Segment::Break { seconds }
}

fn segments(input: &str) -> Vec<Segment> {
    match parse(input) {
        Ok(doc) => doc.segments,
        Err(e) => panic!("{input:?} failed: {e}"),
    }
}

pub(super) fn speak(body: &str) -> String {
    format!("<speak>{body}</speak>")
}

#[test]
fn is_ssml_detects_speak() {
    let cases = [
        ("<speak>hi</speak>", true),
        ("  \n<speak version=\"1.1\">hi</speak>", true),
        ("<speak/>", true),
        ("<?xml version=\"1.0\"?>\n<speak>x</speak>", true),
        ("<Speak>hi</Speak>", false),
        ("<speaker>hi", false),
        ("hello <speak>", false),
        ("", false),
        ("<?xml version=\"1.0\"", false),
    ];
    for (input, expected) in cases {
        assert_eq!(is_ssml(input), expected, "{input:?}");
    }
}

#[test]
fn happy_paths() {
    let m = Emphasis::Moderate;
    let cases: Vec<(&str, Vec<Segment>)> = vec![
        ("Hello   world", vec![text("Hello world")]),
        ("  Hello\n\t world  ", vec![text("Hello world")]),
        ("", vec![]),
        ("a<break/>b", vec![text("a"), pause(0.4), text("b")]),
        (
            "a<break time=\"500ms\"/>b",
            vec![text("a"), pause(0.5), text("b")],
        ),
        (
            "a<break time='1.5s'/>b",
            vec![text("a"), pause(1.5), text("b")],
        ),
        (
            "a<break time=\"10s\"/>b",
            vec![text("a"), pause(10.0), text("b")],
        ),
        (
            "a<break strength=\"none\"/>b",
            vec![text("a"), pause(0.0), text("b")],
        ),
        (
            "a<break strength=\"x-weak\"/>b",
            vec![text("a"), pause(0.1), text("b")],
        ),
        (
            "a<break strength=\"weak\"/>b",
            vec![text("a"), pause(0.25), text("b")],
        ),
        (
            "a<break strength=\"strong\"/>b",
            vec![text("a"), pause(0.75), text("b")],
        ),
        (
            "a<break strength=\"x-strong\"></break>b",
            vec![text("a"), pause(1.25), text("b")],
        ),
        (
            "a<break time=\"2s\" strength=\"weak\"/>b",
            vec![text("a"), pause(2.0), text("b")],
        ),
        (
            "<p>One.</p><p>Two.</p>",
            vec![text("One."), pause(0.75), text("Two.")],
        ),
        (
            "<s>One</s><s>Two!</s>",
            vec![text("One."), pause(0.3), text("Two!")],
        ),
        (
            "<p><s>One</s><s>Two</s></p>after",
            vec![
                text("One."),
                pause(0.3),
                text("Two."),
                pause(0.75),
                text("after"),
            ],
        ),
        (
            "<s>He said \"hi.\"</s>x",
            vec![text("He said \"hi.\""), pause(0.3), text("x")],
        ),
        (
            "<p>a</p><break time=\"2s\"/><p>b</p>",
            vec![text("a"), pause(2.0), text("b")],
        ),
        ("<p>a</p><break time=\"1s\"/>", vec![text("a"), pause(1.0)]),
        ("a<break/><break/>", vec![text("a"), pause(0.4), pause(0.4)]),
        (
            "<sub alias=\"World Wide Web\">WWW</sub> rocks",
            vec![text("World Wide Web rocks")],
        ),
        (
            "<say-as interpret-as=\"characters\">abc</say-as>",
            vec![text("A B C")],
        ),
        (
            "<say-as interpret-as=\"spell-out\">IBM 1</say-as>",
            vec![text("I B M 1")],
        ),
        (
            "<say-as interpret-as=\"cardinal\">1,234</say-as>",
            vec![text("1234")],
        ),
        (
            "<say-as interpret-as=\"number\">-3.5</say-as>",
            vec![text("-3.5")],
        ),
        (
            "<say-as interpret-as=\"ordinal\">3</say-as>",
            vec![text("3rd")],
        ),
        (
            "<say-as interpret-as=\"ordinal\">1</say-as> <say-as interpret-as=\"ordinal\">22</say-as>",
            vec![text("1st 22nd")],
        ),
        (
            "<say-as interpret-as=\"ordinal\">11</say-as> <say-as interpret-as=\"ordinal\">113</say-as>",
            vec![text("11th 113th")],
        ),
        (
            "<say-as interpret-as=\"ordinal\">2nd</say-as>",
            vec![text("2nd")],
        ),
        (
            "<say-as interpret-as=\"date\">2024-03-05</say-as>",
            vec![text("2024-03-05")],
        ),
        (
            "<say-as interpret-as=\"date\" format=\"mdy\">3/5/2024</say-as>",
            vec![text("2024-03-05")],
        ),
        (
            "<say-as interpret-as=\"date\" format=\"dmy\">05.03.2024</say-as>",
            vec![text("2024-03-05")],
        ),
        (
            "<say-as interpret-as=\"date\" format=\"ymd\">2024/3/5</say-as>",
            vec![text("2024-03-05")],
        ),
        (
            "<say-as interpret-as=\"telephone\">+1 (555) 010-0100</say-as>",
            vec![text("plus 1, 5 5 5, 0 1 0, 0 1 0 0")],
        ),
        (
            "<prosody rate=\"slow\">a</prosody>",
            vec![styled("a", 0.75, Emphasis::None)],
        ),
        (
            "<prosody rate=\"x-fast\">a</prosody>",
            vec![styled("a", 1.5, Emphasis::None)],
        ),
        (
            "<prosody rate=\"80%\">a</prosody>",
            vec![styled("a", 0.8, Emphasis::None)],
        ),
        (
            "<prosody rate=\"+20%\">a</prosody>",
            vec![styled("a", 1.2, Emphasis::None)],
        ),
        (
            "<prosody rate=\"1.2\">a</prosody>",
            vec![styled("a", 1.2, Emphasis::None)],
        ),
        (
            "<prosody rate=\"5\">a</prosody>",
            vec![styled("a", 2.0, Emphasis::None)],
        ),
        (
            "<prosody rate=\"10%\">a</prosody>",
            vec![styled("a", 0.5, Emphasis::None)],
        ),
        ("<emphasis>a</emphasis>", vec![styled("a", 1.0, m)]),
        (
            "<emphasis level=\"strong\">a</emphasis>",
            vec![styled("a", 1.0, Emphasis::Strong)],
        ),
        (
            "<emphasis level=\"reduced\">a</emphasis>",
            vec![styled("a", 1.0, Emphasis::Reduced)],
        ),
        (
            "x <emphasis level=\"none\">a</emphasis> y",
            vec![text("x a y")],
        ),
        (
            "say <emphasis>this</emphasis> now",
            vec![text("say"), styled("this", 1.0, m), text("now")],
        ),
        (
            "<phoneme alphabet=\"ipa\" ph=\"təˈmeɪtoʊ\"> to\nmato </phoneme>",
            vec![Segment::Phonemes {
                ipa: "təˈmeɪtoʊ".into(),
                fallback: "to mato".into(),
                rate: 1.0,
            }],
        ),
        (
            "<phoneme ph=\"a\">b</phoneme>",
            vec![Segment::Phonemes {
                ipa: "a".into(),
                fallback: "b".into(),
                rate: 1.0,
            }],
        ),
        (
            "&amp; &lt;b&gt; &quot;q&quot; &apos;s&apos; &#65;&#x42;&#X43;",
            vec![text("& <b> \"q\" 's' ABC")],
        ),
        (
            "<sub alias=\"Tom &amp; Jerry\">T&amp;J</sub>",
            vec![text("Tom & Jerry")],
        ),
        ("a<!-- a comment <p> -->b", vec![text("ab")]),
    ];
    for (body, expected) in cases {
        assert_eq!(segments(&speak(body)), expected, "{body:?}");
    }
}

#[test]
fn nesting_innermost_wins() {
    let input = speak(
        "<p><prosody rate=\"slow\">slow <emphasis level=\"strong\">loud \
         <prosody rate=\"fast\">quick</prosody></emphasis> \
         <phoneme ph=\"x\">y</phoneme></prosody></p>tail",
    );
    let s = Emphasis::Strong;
    assert_eq!(
        segments(&input),
        vec![
            styled("slow", 0.75, Emphasis::None),
            styled("loud", 0.75, s),
            styled("quick", 1.25, s),
            Segment::Phonemes {
                ipa: "x".into(),
                fallback: "y".into(),
                rate: 0.75
            },
            pause(0.75),
            text("tail"),
        ]
    );
}

#[test]
fn prologue_attributes_and_warnings() {
    let input = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c -->\n\
        <speak version=\"1.1\" xmlns=\"http://www.w3.org/2001/10/synthesis\" \
        xmlns:xsi=\"x\" xml:lang=\"en-US\"><prosody pitch=\"high\" volume=\"loud\">hi</prosody>\
        <say-as interpret-as=\"cardinal\" format=\"mdy\">2</say-as></speak>\n<!-- end -->\n";
    let doc = parse(input).unwrap_or_default();
    assert_eq!(doc.segments, vec![text("hi2")]);
    assert_eq!(doc.warnings.len(), 3, "{:?}", doc.warnings);
    assert!(doc.warnings[0].contains("pitch"));
    assert!(doc.warnings[1].contains("volume"));
    assert_eq!(segments("<speak/>"), vec![]);
    let clamped = parse(&speak("<prosody rate=\"3\">a</prosody>")).unwrap_or_default();
    assert!(clamped.warnings[0].contains("clamped"));
}

#[test]
fn deep_but_allowed_nesting() {
    let body = format!("{}x{}", "<p>".repeat(31), "</p>".repeat(31));
    assert_eq!(segments(&speak(&body)), vec![text("x")]);
}

/// A tiny xorshift generator so the fuzz loop is reproducible without a dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn mangled_inputs_never_panic() {
    let sample = "<?xml version=\"1.0\"?><speak xml:lang='en'><p><s>Hi &amp; <emphasis>you</emphasis>\
        </s><prosody rate=\"80%\">on <say-as interpret-as=\"date\">2024-03-05</say-as></prosody>\
        <break time=\"300ms\"/><sub alias=\"x\">y</sub><phoneme ph=\"tə\">to</phoneme>\
        <!-- c --><say-as interpret-as=\"telephone\">555 0100</say-as>é😀</p></speak>";
    // Every prefix (truncation) on a char boundary.
    for (i, _) in sample.char_indices() {
        let _ = parse(&sample[..i]);
        let _ = is_ssml(&sample[..i]);
    }
    assert!(parse(sample).is_ok());
    // Random splices of markup fragments and random bytes.
    let pieces = [
        "<",
        ">",
        "/",
        "</",
        "/>",
        "<speak>",
        "</speak>",
        "<p>",
        "</p>",
        "<s>",
        "&",
        "&amp;",
        "&#x",
        ";",
        "\"",
        "'",
        "=",
        " ",
        "<break time=\"",
        "ms",
        "<!--",
        "-->",
        "<?xml",
        "?>",
        "<say-as interpret-as=\"",
        "ordinal",
        "date\">",
        "</say-as>",
        "é",
        "1",
        "x",
    ];
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    for _ in 0..3000 {
        let len = (next(&mut state) % 24) as usize;
        let mut input = String::new();
        for _ in 0..len {
            let r = next(&mut state);
            if r.is_multiple_of(5) {
                input.push(char::from_u32((r >> 8) as u32 % 0x3000).unwrap_or('?'));
            } else {
                input.push_str(pieces[(r >> 8) as usize % pieces.len()]);
            }
        }
        let _ = parse(&input);
        let _ = parse(&speak(&input));
    }
}

#[test]
fn large_input_is_linear_enough() {
    let body = "<s>word &amp; <emphasis>more</emphasis></s>".repeat(2000);
    let doc = parse(&speak(&body));
    assert!(doc.is_ok_and(|d| d.segments.len() > 2000));
}
