//! Currencies, magnitudes ("3.5M"), and units of measure with their singular and plural
//! names, read after a number.

use super::numbers::{Number, cardinal};

/// A currency written as a symbol, with the names of its unit and subunit.
#[derive(Debug)]
pub(super) struct Currency {
    symbol: char,
    one: &'static str,
    many: &'static str,
    /// The hundredth (cents, pence); `None` where amounts are not read in subunits.
    sub: Option<(&'static str, &'static str)>,
}

const CURRENCIES: [Currency; 6] = [
    Currency {
        symbol: '$',
        one: "dollar",
        many: "dollars",
        sub: Some(("cent", "cents")),
    },
    Currency {
        symbol: '€',
        one: "euro",
        many: "euros",
        sub: Some(("cent", "cents")),
    },
    Currency {
        symbol: '£',
        one: "pound",
        many: "pounds",
        sub: Some(("penny", "pence")),
    },
    Currency {
        symbol: '¥',
        one: "yen",
        many: "yen",
        sub: None,
    },
    Currency {
        symbol: '₹',
        one: "rupee",
        many: "rupees",
        sub: Some(("paisa", "paise")),
    },
    Currency {
        symbol: '¢',
        one: "cent",
        many: "cents",
        sub: None,
    },
];

/// The currency written with this symbol.
pub(super) fn currency(symbol: char) -> Option<&'static Currency> {
    CURRENCIES.iter().find(|c| c.symbol == symbol)
}

/// Whether the symbol is written before the amount ("$5"); the cent sign is written after.
pub(super) fn is_prefix_currency(symbol: char) -> bool {
    symbol != '¢' && currency(symbol).is_some()
}

/// The magnitude a suffix or word stands for: "K" and "thousand", "M", "bn", "trillion".
pub(super) fn magnitude(word: &str) -> Option<&'static str> {
    match word {
        "K" | "k" | "thousand" => Some("thousand"),
        "M" | "m" | "mn" | "MM" | "million" => Some("million"),
        "B" | "b" | "bn" | "billion" => Some("billion"),
        "T" | "tn" | "trillion" => Some("trillion"),
        _ => None,
    }
}

/// An amount of money. Whole amounts take the singular for one ("one dollar"); one or two
/// decimals are read as subunits joined with "and" ("three dollars and fifty cents",
/// "fifty cents"); a magnitude is read with the decimal ("three point five million
/// dollars"); anything else is a decimal followed by the plural ("two point three four five
/// dollars").
pub(super) fn money_words(amount: &Number, magnitude: Option<&str>, cur: &Currency) -> String {
    if let Some(mag) = magnitude {
        return format!("{} {mag} {}", amount.words(), cur.many);
    }
    let Some(frac) = &amount.frac else {
        let name = if amount.is_one() { cur.one } else { cur.many };
        return format!("{} {name}", amount.words());
    };
    let (Some((sub_one, sub_many)), true) = (cur.sub, frac.len() <= 2) else {
        return format!("{} {}", amount.words(), cur.many);
    };
    let whole = if amount.int.is_empty() {
        Some(0)
    } else {
        amount.int_value()
    };
    let (Some(whole), Ok(mut cents)) = (whole, frac.parse::<u64>()) else {
        return format!("{} {}", amount.words(), cur.many);
    };
    if frac.len() == 1 {
        cents *= 10;
    }
    let sign = if amount.negative { "minus " } else { "" };
    let main = if whole == 1 { cur.one } else { cur.many };
    let sub = if cents == 1 { sub_one } else { sub_many };
    match (whole, cents) {
        (_, 0) => format!("{sign}{} {main}", cardinal(whole)),
        (0, _) => format!("{sign}{} {sub}", cardinal(cents)),
        _ => format!(
            "{sign}{} {main} and {} {sub}",
            cardinal(whole),
            cardinal(cents)
        ),
    }
}

/// A unit of measure as written after a number.
#[derive(Debug)]
pub(super) struct Unit {
    symbol: &'static str,
    one: &'static str,
    many: &'static str,
    /// Whether the symbol is also recognised as a separate word ("10 kg"). Off for symbols
    /// that are common words or letters ("in", "A", "t"), which only count when attached.
    spaced: bool,
}

const fn unit(symbol: &'static str, one: &'static str, many: &'static str, spaced: bool) -> Unit {
    Unit {
        symbol,
        one,
        many,
        spaced,
    }
}

/// Symbols are matched case-sensitively: "mb" is not "MB", "M" is not "m".
const UNITS: &[Unit] = &[
    // Length.
    unit("nm", "nanometer", "nanometers", true),
    unit("µm", "micrometer", "micrometers", true),
    unit("mm", "millimeter", "millimeters", true),
    unit("cm", "centimeter", "centimeters", true),
    unit("m", "meter", "meters", true),
    unit("km", "kilometer", "kilometers", true),
    unit("in", "inch", "inches", false),
    unit("ft", "foot", "feet", true),
    unit("yd", "yard", "yards", true),
    unit("mi", "mile", "miles", true),
    // Mass.
    unit("mg", "milligram", "milligrams", true),
    unit("g", "gram", "grams", true),
    unit("kg", "kilogram", "kilograms", true),
    unit("t", "tonne", "tonnes", false),
    unit("oz", "ounce", "ounces", true),
    unit("lb", "pound", "pounds", true),
    unit("lbs", "pound", "pounds", true),
    // Volume.
    unit("ml", "milliliter", "milliliters", true),
    unit("mL", "milliliter", "milliliters", true),
    unit("l", "liter", "liters", false),
    unit("L", "liter", "liters", true),
    unit("gal", "gallon", "gallons", true),
    // Speed.
    unit("mph", "mile per hour", "miles per hour", true),
    unit("km/h", "kilometer per hour", "kilometers per hour", true),
    unit("kph", "kilometer per hour", "kilometers per hour", true),
    unit("m/s", "meter per second", "meters per second", true),
    // Time.
    unit("ns", "nanosecond", "nanoseconds", true),
    unit("µs", "microsecond", "microseconds", true),
    unit("ms", "millisecond", "milliseconds", true),
    unit("s", "second", "seconds", true),
    unit("sec", "second", "seconds", true),
    unit("secs", "second", "seconds", true),
    unit("min", "minute", "minutes", true),
    unit("mins", "minute", "minutes", true),
    unit("h", "hour", "hours", true),
    unit("hr", "hour", "hours", true),
    unit("hrs", "hour", "hours", true),
    unit("yr", "year", "years", true),
    unit("yrs", "year", "years", true),
    // Data and rates.
    unit("B", "byte", "bytes", false),
    unit("KB", "kilobyte", "kilobytes", true),
    unit("kB", "kilobyte", "kilobytes", true),
    unit("MB", "megabyte", "megabytes", true),
    unit("GB", "gigabyte", "gigabytes", true),
    unit("TB", "terabyte", "terabytes", true),
    unit("KiB", "kibibyte", "kibibytes", true),
    unit("MiB", "mebibyte", "mebibytes", true),
    unit("GiB", "gibibyte", "gibibytes", true),
    unit("TiB", "tebibyte", "tebibytes", true),
    unit("kbps", "kilobit per second", "kilobits per second", true),
    unit("Mbps", "megabit per second", "megabits per second", true),
    unit("Gbps", "gigabit per second", "gigabits per second", true),
    // Frequency, power, sound, screens.
    unit("Hz", "hertz", "hertz", true),
    unit("kHz", "kilohertz", "kilohertz", true),
    unit("MHz", "megahertz", "megahertz", true),
    unit("GHz", "gigahertz", "gigahertz", true),
    unit("W", "watt", "watts", true),
    unit("kW", "kilowatt", "kilowatts", true),
    unit("kWh", "kilowatt hour", "kilowatt hours", true),
    unit("V", "volt", "volts", true),
    unit("mAh", "milliamp hour", "milliamp hours", true),
    unit("dB", "decibel", "decibels", true),
    unit("px", "pixel", "pixels", true),
    unit("fps", "frame per second", "frames per second", true),
    unit(
        "rpm",
        "revolution per minute",
        "revolutions per minute",
        true,
    ),
    unit("bpm", "beat per minute", "beats per minute", true),
    // Temperature and angles.
    unit("°C", "degree Celsius", "degrees Celsius", true),
    unit("°F", "degree Fahrenheit", "degrees Fahrenheit", true),
    unit("℃", "degree Celsius", "degrees Celsius", true),
    unit("℉", "degree Fahrenheit", "degrees Fahrenheit", true),
    unit("°", "degree", "degrees", true),
    // Multipliers ("2x faster").
    unit("x", "times", "times", false),
    unit("×", "times", "times", false),
];

/// The unit written with this symbol; `spaced` when it stands as a word of its own.
pub(super) fn unit_for(symbol: &str, spaced: bool) -> Option<&'static Unit> {
    UNITS
        .iter()
        .find(|u| u.symbol == symbol && (u.spaced || !spaced))
}

/// The unit's name after a number: singular only for exactly one ("1 kg", "minus 1 °C").
pub(super) fn unit_name(unit: &Unit, singular: bool) -> &'static str {
    if singular { unit.one } else { unit.many }
}
