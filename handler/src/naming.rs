//! Names that come from clients: upload file names, folder paths and the content
//! type a stored name implies. Nothing here touches storage.

use crate::error::Error;

/// Longest stored file name, in bytes (leaves room for the `.json` sidecar suffix).
const MAX_FILE_NAME_BYTES: usize = 200;

/// Makes a client-supplied file name safe to store, as the original did:
/// `<>:"/\|?*` become `_`, control characters are dropped, and leading or trailing
/// dots and spaces are stripped. A browser's full path (`C:\fakepath\x.wav`) keeps
/// only its last component.
pub fn sanitize_file_name(param: &str, raw: &str) -> Result<String, Error> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let replaced: String = last
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if "<>:\"/\\|?*".contains(c) { '_' } else { c })
        .collect();
    let trimmed = replaced.trim_matches(|c| c == '.' || c == ' ');
    if trimmed.is_empty() {
        return Err(Error::invalid(
            param,
            format!("File name {raw:?} is empty after removing unsafe characters"),
        ));
    }
    if trimmed.len() > MAX_FILE_NAME_BYTES {
        return Err(Error::invalid(
            param,
            format!("File name is longer than {MAX_FILE_NAME_BYTES} bytes"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// Validates a folder path such as `narrators/en` (no traversal, no absolute path,
/// no control characters). Empty, `/` and absent mean the root (`None`). Trailing
/// slashes are ignored.
pub fn folder_param(param: &str, raw: Option<&str>) -> Result<Option<String>, Error> {
    let Some(raw) = raw else { return Ok(None) };
    let trimmed = raw.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(None);
    }
    storage::KeyPrefix::new(format!("x/{trimmed}")).map_err(|e| Error::InvalidPath {
        param: param.to_owned(),
        reason: invalid_reason(&e),
    })?;
    Ok(Some(trimmed.to_owned()))
}

/// Validates a file path relative to an area root (`folder/name.wav` or `name.wav`).
pub fn relative_path_param(param: &str, raw: &str) -> Result<String, Error> {
    storage::Key::new(format!("x/{raw}")).map_err(|e| Error::InvalidPath {
        param: param.to_owned(),
        reason: invalid_reason(&e),
    })?;
    Ok(raw.to_owned())
}

fn invalid_reason(err: &storage::Error) -> String {
    match err {
        storage::Error::InvalidKey { reason, .. } => (*reason).to_owned(),
        other => other.to_string(),
    }
}

/// The lower-case extension of a file name, without the dot.
pub fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// The file name without its extension.
pub fn stem(name: &str) -> &str {
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => name,
    }
}

/// Extensions of audio the library lists: upload formats plus the export-only ones.
pub const LISTED_EXTENSIONS: [&str; 8] = ["wav", "mp3", "flac", "ogg", "m4a", "aac", "opus", "pcm"];

/// Whether a stored name is an audio object the library lists (sidecars and strays are not).
pub fn is_listed_audio(name: &str) -> bool {
    extension(name).is_some_and(|ext| LISTED_EXTENSIONS.contains(&ext.as_str()))
}

/// The `Content-Type` a stored name is served with.
pub fn content_type(name: &str) -> &'static str {
    match extension(name).as_deref() {
        Some("wav") => "audio/wav",
        Some("mp3") => "audio/mpeg",
        Some("flac") => "audio/flac",
        Some("ogg") => "audio/ogg",
        Some("opus") => "audio/ogg; codecs=opus",
        Some("m4a") => "audio/mp4",
        Some("aac") => "audio/aac",
        Some("pcm") => "audio/pcm",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_like_the_original() {
        assert_eq!(
            sanitize_file_name("f", "my voice.wav").unwrap(),
            "my voice.wav"
        );
        assert_eq!(
            sanitize_file_name("f", "a<b>c:d\"e|f?g*.wav").unwrap(),
            "a_b_c_d_e_f_g_.wav"
        );
        assert_eq!(
            sanitize_file_name("f", "C:\\fakepath\\x.wav").unwrap(),
            "x.wav"
        );
        assert_eq!(
            sanitize_file_name("f", "../../etc/passwd.wav").unwrap(),
            "passwd.wav"
        );
        assert_eq!(
            sanitize_file_name("f", " ..hidden.wav. ").unwrap(),
            "hidden.wav"
        );
        assert!(sanitize_file_name("f", "...").is_err());
        assert!(sanitize_file_name("f", &"x".repeat(300)).is_err());
    }

    #[test]
    fn folders_reject_traversal() {
        assert_eq!(
            folder_param("folder", Some("a/b/")).unwrap().as_deref(),
            Some("a/b")
        );
        assert_eq!(folder_param("folder", Some("")).unwrap(), None);
        assert_eq!(folder_param("folder", None).unwrap(), None);
        for bad in [
            "../x",
            "a/../../b",
            "/etc",
            "a//b",
            "a\\b",
            ".hidden",
            "a/\u{1}",
        ] {
            assert!(folder_param("folder", Some(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("a.MP3"), "audio/mpeg");
        assert_eq!(content_type("a.wav"), "audio/wav");
        assert_eq!(content_type("a.bin"), "application/octet-stream");
        assert!(is_listed_audio("x.flac"));
        assert!(!is_listed_audio("x.flac.json"));
        assert_eq!(stem("a.b.wav"), "a.b");
    }
}

/// The original's enhanced output name: `{kind}_{YYYY-MM-DD}_{HHMMSS}_{micros:06}_{params}.{ext}`,
/// with `default` when there are no parameters. Timestamps are UTC.
pub fn enhanced_filename(
    kind: &str,
    params: &[String],
    extension: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> String {
    let params = if params.is_empty() {
        "default".to_owned()
    } else {
        params.join("_")
    };
    format!(
        "{kind}_{}_{:06}_{params}.{extension}",
        at.format("%Y-%m-%d_%H%M%S"),
        at.timestamp_subsec_micros()
    )
}

/// Formats a float as Python's `repr` does for the values the API uses
/// (`0.75`, `1.0`, `1.25`), so names match the original's.
pub fn py_float(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e16 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

/// A client-chosen output name: a plain file name (no folders, no traversal), made safe,
/// with its extension replaced by `extension`.
pub fn custom_output_name(param: &str, raw: &str, extension: &str) -> Result<String, Error> {
    if raw.contains(['/', '\\']) || raw.split('.').all(str::is_empty) || raw.contains("..") {
        return Err(Error::InvalidPath {
            param: param.to_owned(),
            reason: "must be a plain file name without folders or '..' (use project to choose the folder)".into(),
        });
    }
    let safe = sanitize_file_name(param, raw)?;
    Ok(format!("{}.{extension}", stem(&safe)))
}

#[cfg(test)]
mod output_name_tests {
    use super::*;

    #[test]
    fn enhanced_names_follow_the_original_pattern() {
        let at = chrono::DateTime::parse_from_rfc3339("2025-06-22T14:30:22.456789Z")
            .unwrap()
            .to_utc();
        let params = vec!["3files".to_owned(), "sil2".to_owned(), "leveled".to_owned()];
        assert_eq!(
            enhanced_filename("concat", &params, "wav", at),
            "concat_2025-06-22_143022_456789_3files_sil2_leveled.wav"
        );
        assert_eq!(
            enhanced_filename("mixed", &[], "mp3", at),
            "mixed_2025-06-22_143022_456789_default.mp3"
        );
        assert_eq!(py_float(1.0), "1.0");
        assert_eq!(py_float(0.75), "0.75");
        assert_eq!(py_float(1.25), "1.25");
    }

    #[test]
    fn custom_names_are_plain_and_take_the_format_extension() {
        assert_eq!(
            custom_output_name("o", "chapter 1.wav", "mp3").unwrap(),
            "chapter 1.mp3"
        );
        assert_eq!(
            custom_output_name("o", "book", "flac").unwrap(),
            "book.flac"
        );
        assert_eq!(
            custom_output_name("o", "a:b?.wav", "wav").unwrap(),
            "a_b_.wav"
        );
        for bad in ["../x.wav", "a/b.wav", "..", "a\\b", "x..wav"] {
            assert!(custom_output_name("o", bad, "wav").is_err(), "{bad}");
        }
    }
}

/// Characters escaped in URL paths we hand out: everything but unreserved ones and `/`.
const URL_PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The download URL of an output, `/outputs/<path>`, percent-encoded so it is a valid
/// URL and a valid header value whatever the file is called.
pub fn output_url(relative: &str) -> String {
    format!(
        "/outputs/{}",
        percent_encoding::utf8_percent_encode(relative, URL_PATH)
    )
}

/// `Content-Disposition: attachment` with a quoted ASCII `filename` and, for names that
/// are not plain ASCII, the exact name as RFC 6266 `filename*`.
pub fn attachment_disposition(name: &str) -> http::HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut value = format!("attachment; filename=\"{ascii}\"");
    if ascii != name {
        value.push_str(&format!(
            "; filename*=UTF-8''{}",
            percent_encoding::utf8_percent_encode(name, URL_PATH)
        ));
    }
    http::HeaderValue::from_str(&value)
        .unwrap_or_else(|_| http::HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod header_tests {
    use super::*;

    #[test]
    fn urls_and_dispositions_are_valid_headers() {
        assert_eq!(output_url("book 1/a+b.wav"), "/outputs/book%201/a%2Bb.wav");
        assert_eq!(
            attachment_disposition("a b.wav").to_str().unwrap(),
            "attachment; filename=\"a b.wav\""
        );
        let unicode = attachment_disposition("声 \"x\".mp3");
        assert_eq!(
            unicode.to_str().unwrap(),
            "attachment; filename=\"_ _x_.mp3\"; filename*=UTF-8''%E5%A3%B0%20%22x%22.mp3"
        );
    }
}
