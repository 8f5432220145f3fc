//! Settings of the OpenAI-compatible API and of access control (API keys), which applies
//! to both API dialects.

use std::path::PathBuf;

use clap::Args;

/// API keys and the OpenAI endpoint's voice mapping (flattened into [`super::Config`]).
#[derive(Debug, Clone, Args)]
pub struct AccessArgs {
    /// API keys accepted as `Authorization: Bearer <key>`, comma-separated. Unset (and no
    /// keys file): no authentication, the local default.
    #[arg(
        long,
        env = "SPEECH_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_keys: Vec<storage::Secret>,

    /// File of accepted keys stored as SHA-256 hex digests, one per line (`#` starts a
    /// comment), so the keys themselves never sit on disk; create a line with
    /// `printf %s "$KEY" | sha256sum`. After the digest a line may add `name=<name>`,
    /// `scopes=read,generate,admin` (default: all) and `rate=<N>/s|min|h`; anything else
    /// on the line is an error.
    #[arg(long, env = "SPEECH_API_KEYS_FILE")]
    pub api_keys_file: Option<PathBuf>,

    /// Request rate for keys that set none, as `<N>/s`, `<N>/min` or `<N>/h` (a token
    /// bucket of N requests per key, refilled over the period); unset: unlimited. Enforced
    /// by each process on its own traffic.
    #[arg(long, env = "SPEECH_KEY_RATE_LIMIT")]
    pub key_rate_limit: Option<String>,

    /// OpenAI voice names mapped to our voices, comma-separated `name=voice` pairs, e.g.
    /// `alloy=narrators/anna.wav,echo=en_US-joe-medium`. A target is a built-in voice id or a
    /// stored voice (path, file name or stem). Unmapped OpenAI names speak with the built-in voice.
    #[arg(long, env = "SPEECH_VOICE_ALIASES", value_delimiter = ',')]
    pub voice_aliases: Vec<String>,

    /// Voice used when a request names an unknown voice (the response then carries
    /// `x-speech-voice-fallback`); unset: unknown voices are 404.
    #[arg(long, env = "SPEECH_FALLBACK_VOICE")]
    pub fallback_voice: Option<String>,

    /// With API keys on, answer the OpenAI dialect's model and voice lists (`GET
    /// /v1/models`, `/v1/audio/models`, `/v1/audio/voices`, with or without `/v1`) without a
    /// key, for clients that fetch them keyless (Open WebUI). Anyone who can reach the
    /// service then sees the model ids and the stored voices' ids and names; speech and every
    /// other route still need a key.
    #[arg(long, env = "SPEECH_PUBLIC_LISTS", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub public_lists: bool,

    /// Serve the Wyoming protocol (Home Assistant's local speech services) on this TCP port,
    /// on the same address as HTTP; 10200 by convention. Off by default: the protocol has no
    /// authentication, so open it only on a trusted network.
    #[arg(long, env = "SPEECH_WYOMING_PORT")]
    pub wyoming_port: Option<u16>,

    /// Pronunciation lexicons (stored names, comma-separated, earlier ones win) applied to
    /// everything spoken over Wyoming, whose requests cannot name any: how a house's device
    /// and room names are said. A name that is not stored makes Wyoming synthesis answer an
    /// `error` event naming it.
    #[arg(long, env = "SPEECH_WYOMING_LEXICONS", value_delimiter = ',')]
    pub wyoming_lexicons: Vec<String>,
}

impl AccessArgs {
    /// The `name=voice` alias pairs, validated (an entry without `=` is an error).
    pub fn aliases(&self) -> Result<Vec<(String, String)>, String> {
        self.voice_aliases
            .iter()
            .map(|pair| pair.trim())
            .filter(|pair| !pair.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((name, voice)) if !name.trim().is_empty() && !voice.trim().is_empty() => {
                    Ok((name.trim().to_ascii_lowercase(), voice.trim().to_owned()))
                }
                _ => Err(format!(
                    "voice alias {pair:?} must look like name=voice (e.g. alloy=narrators/anna.wav)"
                )),
            })
            .collect()
    }
}
