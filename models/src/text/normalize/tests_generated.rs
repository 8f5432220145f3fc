//! Generated inputs for [`normalize`]: random Unicode and pathological runs must never
//! panic and must finish (the passes are linear), and realistic sentences must normalise
//! idempotently once no digits are left.

use super::{NormalizeOptions, normalize};

/// A small deterministic generator, so that failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() as usize) % items.len()]
    }
}

#[test]
fn random_unicode_never_panics() {
    let alphabet: Vec<char> = "0123456789 .,:;-–/$€£¥%°#*_`[]()<>!|~@+x\n\tabcXYZé漢字🎉👍🏽\u{200D}\u{FE0F}\u{20E3}\u{0301}½¢"
        .chars()
        .collect();
    let mut rng = Lcg(7);
    for _ in 0..3000 {
        let len = (rng.next_u64() % 60) as usize;
        let text: String = (0..len).map(|_| *rng.pick(&alphabet)).collect();
        let _ = normalize(&text, &NormalizeOptions::default());
        let random_char = char::from_u32((rng.next_u64() % 0x11_0000) as u32).unwrap_or('?');
        let _ = normalize(
            &format!("{text}{random_char}{text}"),
            &NormalizeOptions::default(),
        );
    }
}

#[test]
fn long_and_pathological_inputs_finish() {
    let options = NormalizeOptions::default();
    let digits = "9".repeat(100_000);
    let spoken = normalize(&digits, &options);
    assert_eq!(spoken.split(' ').count(), 100_000);
    for unit in [
        "[", "](", "1,", "1.", "$", "-1", ":1", "*_", "a.", "1/", "@.", "🎉 ",
    ] {
        let text = unit.repeat(50_000);
        let _ = normalize(&text, &options);
    }
}

#[test]
fn generated_sentences_normalise_idempotently() {
    let words = [
        "in",
        "1999",
        "$3.50",
        "Dr.",
        "Smith",
        "45%",
        "5km",
        "March",
        "5th,",
        "2024",
        "3:30pm",
        "e.g.",
        "https://example.com/a-b",
        "jane@example.org",
        "10-20",
        "1/2",
        "**bold**",
        "🎉",
        "the",
        "cats",
        "Main",
        "St.",
        "etc.",
        "No.",
        "7",
        "-3.5",
        "1,234,567",
        "22nd",
        "24/7",
        "# Heading",
        "- item",
        "`code`",
        "[link](https://x.io)",
        "vs.",
        "2 h",
        "£1.99",
    ];
    let options = NormalizeOptions::default();
    let mut rng = Lcg(42);
    for _ in 0..2000 {
        let count = 1 + (rng.next_u64() % 8) as usize;
        let text: Vec<&str> = (0..count).map(|_| *rng.pick(&words)).collect();
        let once = normalize(&text.join(" "), &options);
        if once.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        let twice = normalize(&once, &options);
        assert_eq!(once, twice, "input {text:?}");
    }
}
