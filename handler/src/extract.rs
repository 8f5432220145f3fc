//! Extractors whose rejections use our error envelope instead of axum's plain text, and
//! the one rule for query parameters a route does not know:
//! - destructive routes ([`StrictQuery`]) refuse them with 422 naming every one, so a
//!   misspelt filter can never widen a delete;
//! - every other route ([`Query`]) ignores them, as the original did (its clients send
//!   documented-but-unbuilt parameters such as `sort_by`), and names them in the
//!   `X-Speech-Warnings` header.

use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::notices::Notices;

/// JSON body: syntax errors are 400, shape and type errors 422.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(Error))]
pub struct Json<T>(pub T);

/// Query string of a non-destructive route: anything that does not deserialise is 422
/// with serde's reason; parameters the route does not know are ignored and reported in
/// `X-Speech-Warnings`.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let unknown = unknown_parameters::<T>(parts.uri.query());
        if let Some(notices) = parts.extensions.get::<Notices>() {
            notices.mark_query_read();
            for name in unknown {
                notices.push(crate::notices::ignored_parameter(&name));
            }
        }
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// Query string of a destructive route (deletes, cleanup, restore): a parameter the
/// route does not know is a 422 that names every unknown one, and nothing is done.
#[derive(Debug)]
pub struct StrictQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for StrictQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let unknown = unknown_parameters::<T>(parts.uri.query());
        if let Some(notices) = parts.extensions.get::<Notices>() {
            notices.mark_query_read();
        }
        if let Some(first) = unknown.first() {
            let known = field_names::<T>();
            let accepted = if known.is_empty() {
                "this route takes no query parameters".to_owned()
            } else {
                format!("this route accepts {}", known.join(", "))
            };
            return Err(Error::invalid(
                first.clone(),
                format!(
                    "unknown query parameter{} {}; {accepted}. Nothing was changed",
                    if unknown.len() > 1 { "s" } else { "" },
                    unknown
                        .iter()
                        .map(|n| format!("{n:?}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            ));
        }
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// The query of a route that takes no parameters, for destructive routes that must refuse
/// any (other routes need no extractor: what they never read is reported as ignored).
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoParams {}

/// Names in `query` that are not fields of `T`, in order, each once.
fn unknown_parameters<T: DeserializeOwned>(query: Option<&str>) -> Vec<String> {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return Vec::new();
    };
    let known = field_names::<T>();
    let mut unknown: Vec<String> = Vec::new();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    for (name, _) in pairs {
        if !known.contains(&name.as_str()) && !unknown.contains(&name) {
            unknown.push(name);
        }
    }
    unknown
}

/// The field names a struct deserialises, read from serde itself (so the list can never
/// drift from the struct). Empty for anything that is not a plain struct.
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut names: &'static [&'static str] = &[];
    let _ = T::deserialize(introspect::FieldNames(&mut names));
    names
}

mod introspect {
    //! A deserializer that only records the field list serde hands to `deserialize_struct`.

    use serde::de::{self, Visitor};

    pub(super) struct FieldNames<'a>(pub &'a mut &'static [&'static str]);

    #[derive(Debug)]
    pub(super) struct Stop;

    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("field names recorded")
        }
    }

    impl std::error::Error for Stop {}

    impl de::Error for Stop {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            Stop
        }
    }

    impl<'de> de::Deserializer<'de> for FieldNames<'_> {
        type Error = Stop;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Stop> {
            *self.0 = fields;
            Err(Stop)
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
}

/// Path parameters: undecodable segments are 422.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct Path<T>(pub T);

/// Multipart body: a missing or broken boundary is 400.
#[derive(Debug)]
pub struct Multipart(pub axum::extract::Multipart);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Multipart {
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Multipart::from_request(request, state)
            .await
            .map(Multipart)
            .map_err(Error::from)
    }
}

impl From<JsonRejection> for Error {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => {
                let text = e.body_text();
                let (field, reason) = field_and_reason(
                    &text,
                    "Failed to deserialize the JSON body into the target type: ",
                );
                Error::invalid(field.unwrap_or("body"), reason)
            }
            JsonRejection::JsonSyntaxError(e) => {
                Error::BadRequest(format!("Invalid JSON: {}", e.body_text()))
            }
            JsonRejection::MissingJsonContentType(_) => {
                Error::BadRequest("Expected a JSON body with Content-Type: application/json".into())
            }
            JsonRejection::BytesRejection(e)
                if e.status() == http::StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Error::TooLarge("Request body is too large".into())
            }
            other => Error::BadRequest(other.body_text()),
        }
    }
}

impl From<QueryRejection> for Error {
    fn from(rejection: QueryRejection) -> Self {
        let text = rejection.body_text();
        let (field, reason) = field_and_reason(&text, "Failed to deserialize query string: ");
        Error::invalid(
            field.unwrap_or("query"),
            format!("Invalid query parameter: {reason}"),
        )
    }
}

/// Splits axum's deserialisation message (`<prefix><field path>: <reason>`) so the error
/// names the field: `speed_factor: invalid type: string "x", expected f64` gives
/// `(Some("speed_factor"), "speed_factor: invalid type: …")`. Messages about the whole body
/// (missing fields, a path of `.`) keep no field.
fn field_and_reason<'a>(text: &'a str, prefix: &str) -> (Option<&'a str>, &'a str) {
    let reason = text.strip_prefix(prefix).unwrap_or(text);
    let field = reason
        .split_once(": ")
        .map(|(path, _)| path)
        .filter(|path| {
            !path.is_empty()
                && *path != "."
                && path
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.[]-".contains(c))
        });
    (field, reason)
}

impl From<PathRejection> for Error {
    fn from(rejection: PathRejection) -> Self {
        Error::invalid("path", rejection.body_text())
    }
}

impl From<MultipartRejection> for Error {
    fn from(rejection: MultipartRejection) -> Self {
        Error::BadRequest(format!(
            "Expected a multipart/form-data body: {}",
            rejection.body_text()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Filters {
        confirm: Option<bool>,
        folder: Option<String>,
    }

    #[test]
    fn field_names_come_from_serde() {
        assert_eq!(field_names::<Filters>(), &["confirm", "folder"]);
        assert!(field_names::<NoParams>().is_empty());
    }

    #[test]
    fn unknown_parameters_are_named_once_in_order() {
        assert_eq!(
            unknown_parameters::<Filters>(Some("confirm=true&fodler=x&b=1&fodler=y")),
            vec!["fodler".to_owned(), "b".to_owned()]
        );
        assert!(unknown_parameters::<Filters>(Some("confirm=true&folder=a")).is_empty());
        assert!(unknown_parameters::<Filters>(None).is_empty());
    }
}
