//! Table-driven tests of [`normalize`], one table per category, each expected string exact
//! (generated inputs are in `tests_generated.rs`).

use super::{NormalizeOptions, normalize};

/// Normalises every input with the default options and reports all mismatches at once.
fn check(cases: &[(&str, &str)]) {
    let options = NormalizeOptions::default();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(input, expected)| {
            let got = normalize(input, &options);
            (got != *expected)
                .then(|| format!("{input:?}\n  expected {expected:?}\n  got      {got:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn cardinals() {
    check(&[
        ("0", "zero"),
        ("7", "seven"),
        ("13", "thirteen"),
        ("42", "forty-two"),
        ("100", "one hundred"),
        ("101", "one hundred one"),
        ("999", "nine hundred ninety-nine"),
        ("1,000", "one thousand"),
        ("1234", "one thousand two hundred thirty-four"),
        ("12345", "twelve thousand three hundred forty-five"),
        (
            "1,234,567",
            "one million two hundred thirty-four thousand five hundred sixty-seven",
        ),
        ("1000000", "one million"),
        ("2,000,000,000", "two billion"),
        ("3,000,000,000,001", "three trillion one"),
        (
            "999999999999999",
            "nine hundred ninety-nine trillion nine hundred ninety-nine billion nine hundred \
             ninety-nine million nine hundred ninety-nine thousand nine hundred ninety-nine",
        ),
        (
            "1234567890123456",
            "one two three four five six seven eight nine zero one two three four five six",
        ),
        ("007", "zero zero seven"),
        ("-5", "minus five"),
        ("−12", "minus twelve"),
        ("I have 3 cats.", "I have three cats."),
        (
            "1999 people",
            "one thousand nine hundred ninety-nine people",
        ),
    ]);
}

#[test]
fn decimals() {
    check(&[
        ("3.14", "three point one four"),
        ("0.5", "zero point five"),
        (".5", "point five"),
        ("-0.25", "minus zero point two five"),
        ("1,234.5", "one thousand two hundred thirty-four point five"),
        (
            "Pi is 3.14159.",
            "Pi is three point one four one five nine.",
        ),
    ]);
}

#[test]
fn ordinals() {
    check(&[
        ("1st", "first"),
        ("2nd", "second"),
        ("3rd", "third"),
        ("4th", "fourth"),
        ("11th", "eleventh"),
        ("12th", "twelfth"),
        ("20th", "twentieth"),
        ("22nd", "twenty-second"),
        ("100th", "one hundredth"),
        ("103rd", "one hundred third"),
        ("1,000th", "one thousandth"),
        ("1ST", "first"),
        ("the 21st century", "the twenty-first century"),
    ]);
}

#[test]
fn years() {
    check(&[
        ("in 1999", "in nineteen ninety-nine"),
        ("in 2005", "in two thousand five"),
        ("since 2010", "since twenty ten"),
        ("by 2024.", "by twenty twenty-four."),
        ("in 1905", "in nineteen oh five"),
        ("in 1900", "in nineteen hundred"),
        ("in 2000", "in two thousand"),
        ("In 1100", "In eleven hundred"),
        ("in 1066", "in one thousand sixty-six"),
        ("in 2,024", "in two thousand twenty-four"),
        ("in 12345", "in twelve thousand three hundred forty-five"),
        ("1492 AD", "fourteen ninety-two AD"),
        ("Smith (1999) showed", "Smith (nineteen ninety-nine) showed"),
        ("© 2024 Acme", "© twenty twenty-four Acme"),
        ("copyright 2024", "copyright twenty twenty-four"),
        (
            "from 1990 to 1995",
            "from nineteen ninety to nineteen ninety-five",
        ),
        ("1990-1995", "nineteen ninety to nineteen ninety-five"),
        ("the 1990s", "the nineteen nineties"),
        ("the 80s", "the eighties"),
        ("the 2000s", "the two thousands"),
    ]);
}

#[test]
fn dates() {
    check(&[
        ("2024-03-05", "March fifth, twenty twenty-four"),
        ("03/05/2024", "March fifth, twenty twenty-four"),
        ("3/5/2024", "March fifth, twenty twenty-four"),
        ("12/25/2024", "December twenty-fifth, twenty twenty-four"),
        ("2024/12/25", "December twenty-fifth, twenty twenty-four"),
        ("5 March 2024", "the fifth of March twenty twenty-four"),
        ("March 5th, 2024", "March fifth, twenty twenty-four"),
        ("March 5, 2024.", "March fifth, twenty twenty-four."),
        ("on March 5", "on March fifth"),
        ("Jan. 1, 2000", "January first, two thousand"),
        ("5 Dec", "the fifth of December"),
        ("March 2024", "March twenty twenty-four"),
        ("May 5", "May fifth"),
        ("may 5", "may five"),
        ("the 4th of July", "the fourth of July"),
    ]);
}

#[test]
fn times() {
    check(&[
        ("3:30pm", "three thirty pee em"),
        ("3:30 pm", "three thirty pee em"),
        ("15:45", "fifteen forty-five"),
        ("7 a.m.", "seven ay em."),
        ("at 7 a.m. tomorrow", "at seven ay em tomorrow"),
        ("7am", "seven ay em"),
        ("12:00", "twelve o'clock"),
        ("15:00", "fifteen hundred"),
        ("3:05 PM", "three oh five pee em"),
        ("3:00pm", "three pee em"),
        ("10:30:15", "ten thirty and fifteen seconds"),
        ("at 11 PM.", "at eleven pee em."),
        ("16:9", "sixteen to nine"),
    ]);
}

#[test]
fn currencies() {
    check(&[
        ("$3.50", "three dollars and fifty cents"),
        ("$3.5M", "three point five million dollars"),
        ("$1", "one dollar"),
        ("$0.99", "ninety-nine cents"),
        ("$0.01", "one cent"),
        ("$1.01", "one dollar and one cent"),
        ("$3.00", "three dollars"),
        ("$1,000", "one thousand dollars"),
        ("€20", "twenty euros"),
        ("€1", "one euro"),
        ("£1.99", "one pound and ninety-nine pence"),
        ("£0.50", "fifty pence"),
        ("¥500", "five hundred yen"),
        ("₹100", "one hundred rupees"),
        ("$2B", "two billion dollars"),
        ("$10k", "ten thousand dollars"),
        ("$3.5 million", "three point five million dollars"),
        ("-$5", "minus five dollars"),
        ("$10-20", "ten to twenty dollars"),
        ("$10-$20", "ten to twenty dollars"),
        ("20€", "twenty euros"),
        ("50¢", "fifty cents"),
        ("$2.345", "two point three four five dollars"),
        ("It costs $5.", "It costs five dollars."),
    ]);
}

#[test]
fn percentages() {
    check(&[
        ("45%", "forty-five percent"),
        ("3.5%", "three point five percent"),
        ("-2%", "minus two percent"),
        ("100 %", "one hundred percent"),
        ("10-20%", "ten to twenty percent"),
    ]);
}

#[test]
fn units() {
    check(&[
        ("5km", "five kilometers"),
        ("1 km", "one kilometer"),
        ("10 kg", "ten kilograms"),
        ("3.2 GB", "three point two gigabytes"),
        ("500MB", "five hundred megabytes"),
        ("1 GiB", "one gibibyte"),
        ("60 mph", "sixty miles per hour"),
        ("5km/h", "five kilometers per hour"),
        ("25°C", "twenty-five degrees Celsius"),
        ("-5°F", "minus five degrees Fahrenheit"),
        ("90°", "ninety degrees"),
        ("-1°C", "minus one degree Celsius"),
        ("1.0 km", "one point zero kilometers"),
        ("100 ms", "one hundred milliseconds"),
        ("2 h", "two hours"),
        ("1h", "one hour"),
        ("20 min", "twenty minutes"),
        ("12in", "twelve inches"),
        ("12 in", "twelve in"),
        ("3 lbs", "three pounds"),
        ("1 L", "one liter"),
        ("40 Hz", "forty hertz"),
        ("2x", "two times"),
        (
            "1920x1080",
            "one thousand nine hundred twenty by one thousand eighty",
        ),
        ("5-10km", "five to ten kilometers"),
    ]);
}

#[test]
fn abbreviations() {
    check(&[
        ("Dr. Smith", "Doctor Smith"),
        ("Mr. Jones and Mrs. Jones", "Mister Jones and Missus Jones"),
        ("Ms. Lee", "Miz Lee"),
        ("Prof. Xavier", "Professor Xavier"),
        ("Mt. Everest", "Mount Everest"),
        ("St. John", "Saint John"),
        ("Main St.", "Main Street."),
        ("Elm Dr. is closed", "Elm Drive is closed"),
        ("John Smith Jr.", "John Smith Junior."),
        ("e.g. apples", "for example apples"),
        ("E.g. apples", "For example apples"),
        ("i.e., the rest", "that is, the rest"),
        ("apples, pears, etc.", "apples, pears, et cetera."),
        ("etc. and more", "et cetera and more"),
        ("cats vs. dogs", "cats versus dogs"),
        ("approx. 5 km", "approximately five kilometers"),
        ("No. 5", "Number five"),
        ("no. 7", "number seven"),
        ("No. I won't", "No. I won't"),
        ("Tom & Jerry", "Tom and Jerry"),
        ("R&D", "R&D"),
        ("#1", "number one"),
    ]);
}

#[test]
fn web_addresses() {
    check(&[
        ("https://example.com/a-b", "example dot com slash a b"),
        ("www.example.org", "example dot org"),
        ("example.com", "example dot com"),
        (
            "Visit https://www.rust-lang.org/learn.",
            "Visit rust dash lang dot org slash learn.",
        ),
        (
            "https://example.com/search?q=rust",
            "example dot com slash search",
        ),
        (
            "https://docs.rs/tokio/1.0/",
            "docs dot rs slash tokio slash one dot zero",
        ),
        (
            "http://api.example.com:8080/v1",
            "api dot example dot com colon eight zero eight zero slash v one",
        ),
        ("file.txt", "file.txt"),
        (
            "192.168.0.1",
            "one nine two dot one six eight dot zero dot one",
        ),
        ("jane.doe@example.org", "jane dot doe at example dot org"),
        (
            "Write to support+tts@my-site.io.",
            "Write to support plus tts at my dash site dot io.",
        ),
        (
            "john_99@mail.com",
            "john underscore nine nine at mail dot com",
        ),
    ]);
}

#[test]
fn ranges_fractions_and_phones() {
    check(&[
        ("10-20", "ten to twenty"),
        ("pages 5–7", "pages five to seven"),
        ("1.5-2.5", "one point five to two point five"),
        ("1/2", "one half"),
        ("1/4", "one quarter"),
        ("3/4", "three quarters"),
        ("1/3", "one third"),
        ("2/3", "two thirds"),
        ("5/8", "five eighths"),
        ("7/50", "seven over fifty"),
        ("1 1/2", "one and one half"),
        ("½", "one half"),
        ("2½", "two and one half"),
        ("24/7", "twenty-four seven"),
        ("555-1234", "five five five, one two three four"),
        (
            "555-123-4567",
            "five five five, one two three, four five six seven",
        ),
        (
            "+1-555-123-4567",
            "plus one, five five five, one two three, four five six seven",
        ),
        (
            "(555) 123-4567",
            "(five five five) one two three, four five six seven",
        ),
    ]);
}

#[test]
fn other_words_with_digits() {
    check(&[
        ("COVID-19", "COVID-nineteen"),
        ("mp3", "mp three"),
        ("3D", "three D"),
        ("B2B", "B two B"),
        ("v1.2.3", "v one point two point three"),
    ]);
}

#[test]
fn markdown() {
    check(&[
        ("# Title", "Title."),
        ("## Hello world ##", "Hello world."),
        ("**bold** text", "bold text"),
        ("__bold__ text", "bold text"),
        ("_it_ works", "it works"),
        ("*it* works", "it works"),
        ("use `cargo test` now", "use cargo test now"),
        ("[the docs](https://example.com) say", "the docs say"),
        ("![a cat](cat.png) sleeps", "a cat sleeps"),
        ("- first item\n- second item", "first item.\nsecond item."),
        ("* star bullet", "star bullet."),
        ("- [x] done task", "done task."),
        ("> quoted text", "quoted text"),
        (
            "| Name | Age |\n|---|---|\n| Ann | 30 |",
            "Name, Age.\nAnn, thirty.",
        ),
        ("snake_case stays", "snake_case stays"),
        ("a*b stays", "a*b stays"),
        ("~~old~~ new", "old new"),
        ("Intro\n\n---\n\nBody", "Intro\n\nBody"),
        ("1. First step", "one. First step"),
        ("See <https://example.com>.", "See example dot com."),
        ("```\ncode\n```", "code"),
        ("#hashtag", "#hashtag"),
    ]);
}

#[test]
fn emoji() {
    check(&[
        ("Great job 🎉!", "Great job!"),
        ("I love 🍕 and 🍺.", "I love and."),
        ("👍🏽 ok", "ok"),
        ("Family: 👨‍👩‍👧 fun", "Family: fun"),
        ("☀️ sunny", "sunny"),
        ("🇫🇷 France", "France"),
        ("keycap 1️⃣ one", "keycap one one"),
    ]);
}

#[test]
fn whitespace_and_sentences() {
    check(&[
        ("a   b\t c", "a b c"),
        ("para one\n\n\n\npara two", "para one\n\npara two"),
        ("  padded  ", "padded"),
        (
            "On 2024-03-05 at 3:30pm, Dr. Smith paid $3.50 for 2 coffees (45% off).",
            "On March fifth, twenty twenty-four at three thirty pee em, Doctor Smith paid three \
             dollars and fifty cents for two coffees (forty-five percent off).",
        ),
        (
            "The 3rd runner ran 5km in 20 min.",
            "The third runner ran five kilometers in twenty minutes.",
        ),
        ("Plain text stays.", "Plain text stays."),
    ]);
}

#[test]
fn options_switch_passes_off() {
    let off = NormalizeOptions {
        enabled: false,
        ..NormalizeOptions::default()
    };
    assert_eq!(normalize("  **$5** 🎉 ", &off), "  **$5** 🎉 ");
    let keep_markdown = NormalizeOptions {
        strip_markdown: false,
        ..NormalizeOptions::default()
    };
    assert_eq!(normalize("**bold** 5", &keep_markdown), "**bold** five");
    let keep_emoji = NormalizeOptions {
        strip_emoji: false,
        ..NormalizeOptions::default()
    };
    assert_eq!(normalize("hi 🎉", &keep_emoji), "hi 🎉");
}
