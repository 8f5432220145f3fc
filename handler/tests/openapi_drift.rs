//! The committed `docs/openapi.json` must equal the document the code generates.
//! Regenerate it with `just openapi` (or `UPDATE_OPENAPI=1 cargo test -p handler --test openapi_drift`).

use std::path::Path;

#[test]
fn committed_openapi_document_matches_the_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    let generated = handler::openapi::document_json();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("write docs/openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is out of date with the code; run `just openapi` and commit the result"
    );
}
