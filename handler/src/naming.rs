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
