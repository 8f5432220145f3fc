//! What a job asks for: the request body, its checks (every problem a 4xx naming the field,
//! before anything is stored) and its chapters.

use audio::encode::ExportFormat;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Error, Result};
use crate::service::engines::EngineKind;
use crate::service::generation::{self, Bitrates};
use crate::state::AppState;

/// Most characters one job may carry (over all chapters).
pub const MAX_JOB_CHARS: usize = 2_000_000;
/// Most chapters one job may have.
pub const MAX_CHAPTERS: usize = 500;

/// How `text` is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// One chapter of plain text.
    #[default]
    Text,
    /// Markdown: each `#` or `##` heading starts a chapter titled by it.
    Markdown,
}

/// One chapter given explicitly.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChapterInput {
    /// Its title (names its output; spoken only if it is also in `text`).
    pub title: Option<String>,
    /// Its text.
    pub text: String,
}

/// The body of `POST /api/v1/jobs`. Give `text` (with `format`) or `chapters`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// The book's title: names the joined output (default "book").
    pub title: Option<String>,
    /// The whole text (plain, or Markdown with `format: "markdown"`).
    pub text: Option<String>,
    /// How `text` is read: `text` (one chapter) or `markdown` (chapters at headings).
    #[serde(default)]
    pub format: InputFormat,
    /// The chapters, each with a title and text (instead of `text`).
    pub chapters: Option<Vec<ChapterInput>>,
    /// A stored voice to clone (Chatterbox); absent: the built-in voice.
    pub reference_audio_filename: Option<String>,
    /// Chatterbox temperature, 0–2 (default 0.75).
    pub temperature: Option<f64>,
    /// Chatterbox exaggeration, 0–2 (default 0.5).
    pub exaggeration: Option<f64>,
    /// Chatterbox guidance, 0–2 (default 1.0).
    pub cfg_weight: Option<f64>,
    /// Chatterbox seed (absent or 0: one is chosen and kept, so a resumed job sounds the same).
    pub seed: Option<u64>,
    /// Tempo, 0.25–4.0 (default 1.0).
    pub speed_factor: Option<f64>,
    /// Formats of every output (default `["mp3"]`).
    pub export_formats: Option<Vec<String>>,
    /// Output folder under `outputs/` (default: `jobs/<title>`).
    pub project: Option<String>,
    /// Silence between chapters in the joined book, 0–10,000 ms (default 2000).
    pub chapter_pause_ms: Option<u32>,
    /// Read numbers, dates and symbols as words (default true).
    pub normalize_text: Option<bool>,
    /// Pronunciation lexicons to apply, by name.
    pub lexicons: Option<Vec<String>>,
    /// Store captions with every output (default true).
    pub captions: Option<bool>,
}

/// A chapter to speak.
#[derive(Debug, Clone, PartialEq)]
pub struct Chapter {
    /// Its title.
    pub title: String,
    /// Its text.
    pub text: String,
}

/// A request that passed its checks.
#[derive(Debug, Clone)]
pub struct CheckedJob {
    /// The chapters, in order.
    pub chapters: Vec<Chapter>,
    /// The engine.
    pub engine: EngineKind,
    /// Output formats.
    pub formats: Vec<ExportFormat>,
    /// Output folder.
    pub folder: Option<String>,
}

impl JobRequest {
    /// The chapters, checked: no text, both `text` and `chapters`, too much text or too
    /// many chapters are 422s naming the field.
    pub fn chapters(&self) -> Result<Vec<Chapter>> {
        let chapters = match (&self.text, &self.chapters) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "chapters",
                    "give either text or chapters, not both",
                ));
            }
            (None, None) => {
                return Err(Error::invalid("text", "a job needs text or chapters"));
            }
            (Some(text), None) => match self.format {
                InputFormat::Text => vec![Chapter {
                    title: self.title.clone().unwrap_or_else(|| "Chapter 1".into()),
                    text: text.clone(),
                }],
                InputFormat::Markdown => markdown_chapters(text),
            },
            (None, Some(given)) => given
                .iter()
                .enumerate()
                .map(|(n, c)| Chapter {
                    title: c
                        .title
                        .clone()
                        .filter(|t| !t.trim().is_empty())
                        .unwrap_or_else(|| format!("Chapter {}", n + 1)),
                    text: c.text.clone(),
                })
                .collect(),
        };
        let chapters: Vec<Chapter> = chapters
            .into_iter()
            .filter(|c| models::text::is_speakable(&c.text))
            .collect();
        if chapters.is_empty() {
            return Err(Error::invalid("text", "the job has nothing to speak"));
        }
        if chapters.len() > MAX_CHAPTERS {
            return Err(Error::invalid(
                "chapters",
                format!("a job may have at most {MAX_CHAPTERS} chapters"),
            ));
        }
        let chars: usize = chapters.iter().map(|c| c.text.chars().count()).sum();
        if chars > MAX_JOB_CHARS {
            return Err(Error::invalid(
                "text",
                format!("a job may carry at most {MAX_JOB_CHARS} characters (got {chars})"),
            ));
        }
        Ok(chapters)
    }

    /// Checks every field and that the voice and lexicons exist.
    pub async fn check(&self, state: &AppState) -> Result<CheckedJob> {
        let chapters = self.chapters()?;
        for (name, value) in [
            ("temperature", self.temperature),
            ("exaggeration", self.exaggeration),
            ("cfg_weight", self.cfg_weight),
        ] {
            if let Some(v) = value
                && !(0.0..=2.0).contains(&v)
            {
                return Err(Error::invalid(
                    name,
                    format!("{name} must be between 0 and 2 (got {v})"),
                ));
            }
        }
        if let Some(speed) = self.speed_factor {
            audio::tempo::validate_speed(speed).map_err(|_| {
                Error::invalid(
                    "speed_factor",
                    format!("speed_factor must be between 0.25 and 4.0 (got {speed})"),
                )
            })?;
        }
        if let Some(pause) = self.chapter_pause_ms
            && pause > 10_000
        {
            return Err(Error::invalid(
                "chapter_pause_ms",
                "chapter_pause_ms must be at most 10000",
            ));
        }
        let formats = generation::export_formats(
            self.export_formats
                .as_deref()
                .unwrap_or(&["mp3".to_owned()]),
            Bitrates::default(),
        )?;
        let folder = self.folder()?;
        let store = state.store().as_ref();
        super::super::lexicons::load(
            store,
            "lexicons",
            self.lexicons.as_deref().unwrap_or_default(),
        )
        .await?;
        let engine = match &self.reference_audio_filename {
            Some(voice) => {
                crate::service::voice_use::find_voice(store, "reference_audio_filename", voice)
                    .await?;
                EngineKind::Chatterbox
            }
            None => EngineKind::Piper,
        };
        Ok(CheckedJob {
            chapters,
            engine,
            formats,
            folder,
        })
    }

    /// The output folder: `project`, or `jobs/<title>`.
    pub fn folder(&self) -> Result<Option<String>> {
        match &self.project {
            Some(project) => generation::output_folder(Some(project), None),
            None => {
                let title = slug(self.title.as_deref().unwrap_or("book"));
                generation::output_folder(Some(&format!("jobs/{title}")), None)
            }
        }
    }
}

/// A title as a file-name part: letters and digits kept (lower-cased), every other run of
/// characters one `-`, at most 48 characters; "book" when nothing is left.
pub fn slug(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_alphanumeric() {
            slug.extend(c.to_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.chars().count() >= 48 {
            break;
        }
    }
    let slug = slug.trim_matches('-').to_owned();
    if slug.is_empty() { "book".into() } else { slug }
}

/// Markdown split at `#`/`##` headings (text before the first heading is a chapter of its
/// own, titled "Introduction"); the heading lines become the titles, not spoken text.
fn markdown_chapters(text: &str) -> Vec<Chapter> {
    let mut chapters = Vec::new();
    let mut title = "Introduction".to_owned();
    let mut body = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let heading = trimmed
            .strip_prefix("## ")
            .or_else(|| trimmed.strip_prefix("# "));
        match heading {
            Some(heading) => {
                if models::text::is_speakable(&body) {
                    chapters.push(Chapter {
                        title: std::mem::take(&mut title),
                        text: std::mem::take(&mut body),
                    });
                }
                body.clear();
                title = heading.trim().to_owned();
            }
            None => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    if models::text::is_speakable(&body) {
        chapters.push(Chapter { title, text: body });
    }
    chapters
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: Option<&str>, format: InputFormat) -> JobRequest {
        serde_json::from_value(serde_json::json!({"text": text, "format": format})).unwrap()
    }

    #[test]
    fn markdown_headings_start_chapters() {
        let chapters = request(
            Some("A preface.\n# One\nFirst text.\n\n## Two\nSecond *text*.\n# Empty\n"),
            InputFormat::Markdown,
        )
        .chapters()
        .unwrap();
        let titles: Vec<&str> = chapters.iter().map(|c| c.title.as_str()).collect();
        assert_eq!(titles, ["Introduction", "One", "Two"]);
        assert_eq!(chapters[1].text.trim(), "First text.");
    }

    #[test]
    fn text_or_chapters_but_not_both_nor_neither() {
        assert!(request(None, InputFormat::Text).chapters().is_err());
        let both: JobRequest =
            serde_json::from_value(serde_json::json!({"text": "a", "chapters": [{"text": "b"}]}))
                .unwrap();
        assert!(both.chapters().is_err());
        let typo = serde_json::from_value::<JobRequest>(serde_json::json!({"txt": "a"}));
        assert!(typo.is_err());
        let plain = request(Some("Hello."), InputFormat::Text)
            .chapters()
            .unwrap();
        assert_eq!(plain.len(), 1);
    }
}
