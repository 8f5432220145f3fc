//! The browser studio at `/ui`: static files compiled into the binary (from `handler/ui/`),
//! served gzip-compressed with validators, so the UI works offline, needs no CDN and
//! always matches the API it was built with. The pages only call the documented API; the
//! server does nothing for them beyond serving these files.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::state::AppState;

/// One embedded file.
struct Asset {
    /// Path under `/ui/`.
    path: &'static str,
    body: &'static [u8],
    content_type: &'static str,
}

macro_rules! asset {
    ($path:literal, $content_type:expr) => {
        Asset {
            path: $path,
            body: include_bytes!(concat!("../ui/", $path)),
            content_type: $content_type,
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the studio. A new file under `handler/ui/` must be listed here (the
/// `every_file_is_embedded` test fails otherwise).
const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("js/app.js", JS),
    asset!("js/api.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/media.js", JS),
    asset!("js/voice-picker.js", JS),
    asset!("js/pages/speak.js", JS),
    asset!("js/pages/clone.js", JS),
    asset!("js/pages/convert.js", JS),
    asset!("js/pages/library.js", JS),
    asset!("js/pages/concat.js", JS),
    asset!("js/pages/jobs.js", JS),
    asset!("js/pages/status.js", JS),
];

/// What the pages may load and contact: only this origin (and the blob URLs the players
/// make). No inline script or style, so an injected string cannot run.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// An asset prepared once per process: its gzip form and its entity tag.
struct Prepared {
    /// Shared, so answering clones a reference count, not the bytes.
    gzip: bytes::Bytes,
    etag: HeaderValue,
}

fn prepared() -> &'static [Prepared] {
    static PREPARED: OnceLock<Vec<Prepared>> = OnceLock::new();
    PREPARED.get_or_init(|| ASSETS.iter().map(prepare).collect())
}

fn prepare(asset: &Asset) -> Prepared {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail; an empty result falls back to the plain body below.
    let gzip = encoder
        .write_all(asset.body)
        .and_then(|()| encoder.finish())
        .map(bytes::Bytes::from)
        .unwrap_or_default();
    let digest = Sha256::digest(asset.body);
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    let etag = HeaderValue::from_str(&format!("\"{hex}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
    Prepared { gzip, etag }
}

/// The studio's routes: `/ui` (redirects to `/ui/`), `/ui/` and its files. Open without
/// an API key, like `/docs`: the pages hold no data, and every call they make carries the
/// key the user typed in.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(index))
        .route("/ui/{*path}", get(file))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

fn serve(path: &str, request: &HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|a| a.path == path) else {
        let path = format!("/ui/{path}");
        return crate::error::respond_for_path(
            &path,
            Error::RouteNotFound {
                method: "GET".into(),
                path: path.clone(),
            },
        );
    };
    let (asset, prepared) = (&ASSETS[index], &prepared()[index]);
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::ETAG, prepared.etag.clone());
    // Revalidate every time: a 304 costs one round trip, and an upgraded server is never
    // paired with yesterday's scripts.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if asset.content_type == HTML {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    let unchanged = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            let etag = prepared.etag.to_str().unwrap_or_default();
            tags.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag || t.trim() == "*")
        });
    if unchanged {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    if accepts_gzip(request) && !prepared.gzip.is_empty() {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return (headers, prepared.gzip.clone()).into_response();
    }
    (headers, asset.body).into_response()
}

/// Whether `Accept-Encoding` admits gzip (any `q` but 0).
fn accepts_gzip(request: &HeaderMap) -> bool {
    request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut on_disk = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("ui folder") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let relative = path.strip_prefix(&root).expect("under ui");
                    on_disk.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        on_disk.sort();
        let mut listed: Vec<String> = ASSETS.iter().map(|a| a.path.to_owned()).collect();
        listed.sort();
        assert_eq!(on_disk, listed);
    }

    #[test]
    fn gzip_is_accepted_unless_refused() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
            accepts_gzip(&headers)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, gzip;q=0.5"));
        assert!(with("*"));
        assert!(!with("gzip;q=0"));
        assert!(!with("br, deflate"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn assets_compress_and_have_distinct_tags() {
        let all = prepared();
        for (asset, prepared) in ASSETS.iter().zip(all) {
            assert!(!prepared.gzip.is_empty(), "{}", asset.path);
        }
        let mut tags: Vec<_> = all.iter().map(|p| p.etag.clone()).collect();
        tags.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        tags.dedup();
        assert_eq!(tags.len(), ASSETS.len());
    }
}
