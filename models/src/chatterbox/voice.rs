//! A cloned voice: the speech encoder's four outputs for one reference clip, plus a small
//! versioned byte format so the handler can cache it (hostile bytes are rejected, never
//! trusted for sizes).

use super::Family;
use crate::ModelError;

/// Magic bytes at the start of [`VoiceConditioning::to_bytes`].
const MAGIC: &[u8; 8] = b"CBXVOICE";
/// Byte-format version; bump when the layout changes.
const FORMAT_VERSION: u16 = 1;
/// magic + version (u16) + family (u8) + reserved (u8) + six u32 dims.
const HEADER_LEN: usize = 8 + 2 + 1 + 1 + 6 * 4;
/// Speech tokens are 0..6560; anything else cannot have come from the encoder.
const SPEECH_CODEBOOK: i64 = 6561;

/// The speech encoder's outputs for one voice (batch 1), with their shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceConditioning {
    pub(crate) family: Family,
    /// `audio_features` [1, cond_rows, hidden]: the T3 conditioning prefix.
    pub(crate) audio_features: Vec<f32>,
    pub(crate) cond_rows: usize,
    pub(crate) hidden: usize,
    /// `audio_tokens` [1, T]: the prompt speech tokens.
    pub(crate) audio_tokens: Vec<i64>,
    /// `speaker_embeddings` [1, E].
    pub(crate) speaker_embeddings: Vec<f32>,
    /// `speaker_features` [1, frames, mel_bins].
    pub(crate) speaker_features: Vec<f32>,
    pub(crate) frames: usize,
    pub(crate) mel_bins: usize,
}

impl VoiceConditioning {
    /// The family whose speech encoder produced this voice (only that family can use it).
    pub fn family(&self) -> Family {
        self.family
    }

    /// `audio_features` shape: [1, cond_rows, hidden].
    pub fn audio_features_shape(&self) -> [usize; 3] {
        [1, self.cond_rows, self.hidden]
    }

    /// The reference's speech tokens (`audio_tokens` row 0).
    pub fn audio_tokens(&self) -> &[i64] {
        &self.audio_tokens
    }

    /// `speaker_embeddings` shape: [1, E].
    pub fn speaker_embeddings_shape(&self) -> [usize; 2] {
        [1, self.speaker_embeddings.len()]
    }

    /// `speaker_features` shape: [1, frames, mel_bins].
    pub fn speaker_features_shape(&self) -> [usize; 3] {
        [1, self.frames, self.mel_bins]
    }

    /// Serialises as magic, version, family, dims, then little-endian data.
    pub fn to_bytes(&self) -> Vec<u8> {
        let floats =
            self.audio_features.len() + self.speaker_embeddings.len() + self.speaker_features.len();
        let mut out = Vec::with_capacity(HEADER_LEN + 4 * floats + 8 * self.audio_tokens.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.push(match self.family {
            Family::Original => 0,
            Family::Turbo => 1,
        });
        out.push(0);
        for dim in [
            self.cond_rows,
            self.hidden,
            self.audio_tokens.len(),
            self.speaker_embeddings.len(),
            self.frames,
            self.mel_bins,
        ] {
            // Dims come from validated encoder outputs far below 4 G; saturate rather than
            // wrap so a corrupt value could never decode as a smaller valid one.
            out.extend_from_slice(&u32::try_from(dim).unwrap_or(u32::MAX).to_le_bytes());
        }
        for x in &self.audio_features {
            out.extend_from_slice(&x.to_le_bytes());
        }
        for token in &self.audio_tokens {
            out.extend_from_slice(&token.to_le_bytes());
        }
        for x in self.speaker_embeddings.iter().chain(&self.speaker_features) {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out
    }

    /// Parses [`Self::to_bytes`] output. Sizes are checked against the buffer before anything
    /// is allocated, so hostile input is rejected with `InvalidInput`, never a panic.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let invalid = |why: &str| ModelError::InvalidInput(format!("voice conditioning: {why}"));
        let mut reader = Reader { bytes };
        if reader.take(MAGIC.len())? != MAGIC {
            return Err(invalid("not a voice conditioning blob (bad magic)"));
        }
        let version = u16::from_le_bytes(reader.array()?);
        if version != FORMAT_VERSION {
            return Err(invalid(&format!("unsupported format version {version}")));
        }
        let family = match reader.array::<1>()?[0] {
            0 => Family::Original,
            1 => Family::Turbo,
            other => return Err(invalid(&format!("unknown family {other}"))),
        };
        reader.take(1)?;
        let mut dims = [0usize; 6];
        for dim in &mut dims {
            *dim = usize::try_from(u32::from_le_bytes(reader.array()?))
                .map_err(|_| invalid("dimension too large"))?;
        }
        let [cond_rows, hidden, tokens, embedding, frames, mel_bins] = dims;
        if dims.contains(&0) {
            return Err(invalid("a dimension is zero"));
        }
        let features = cond_rows
            .checked_mul(hidden)
            .ok_or_else(|| invalid("size overflow"))?;
        let speaker_features = frames
            .checked_mul(mel_bins)
            .ok_or_else(|| invalid("size overflow"))?;
        let expected = features
            .checked_add(embedding)
            .and_then(|floats| floats.checked_add(speaker_features))
            .and_then(|floats| floats.checked_mul(4))
            .and_then(|bytes| tokens.checked_mul(8).and_then(|t| bytes.checked_add(t)))
            .ok_or_else(|| invalid("size overflow"))?;
        if reader.bytes.len() != expected {
            return Err(invalid(&format!(
                "expected {expected} data bytes for the declared shapes, found {}",
                reader.bytes.len()
            )));
        }
        let audio_features = reader.floats(features)?;
        let audio_tokens: Vec<i64> = reader
            .take(tokens * 8)?
            .chunks_exact(8)
            .map(|chunk| {
                let mut raw = [0u8; 8];
                raw.copy_from_slice(chunk);
                i64::from_le_bytes(raw)
            })
            .collect();
        if audio_tokens
            .iter()
            .any(|t| !(0..SPEECH_CODEBOOK).contains(t))
        {
            return Err(invalid("speech token out of range"));
        }
        let speaker_embeddings = reader.floats(embedding)?;
        let speaker_features = reader.floats(speaker_features)?;
        Ok(Self {
            family,
            audio_features,
            cond_rows,
            hidden,
            audio_tokens,
            speaker_embeddings,
            speaker_features,
            frames,
            mel_bins,
        })
    }
}

/// A cursor over a byte slice that fails instead of panicking.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], ModelError> {
        if count > self.bytes.len() {
            return Err(ModelError::InvalidInput(
                "voice conditioning: truncated data".into(),
            ));
        }
        let (head, tail) = self.bytes.split_at(count);
        self.bytes = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ModelError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// `count` finite little-endian f32s (non-finite values only come from corruption).
    fn floats(&mut self, count: usize) -> Result<Vec<f32>, ModelError> {
        let bytes = self.take(count.checked_mul(4).ok_or_else(|| {
            ModelError::InvalidInput("voice conditioning: size overflow".into())
        })?)?;
        let values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
            .collect();
        if values.iter().any(|x| !x.is_finite()) {
            return Err(ModelError::InvalidInput(
                "voice conditioning: non-finite value".into(),
            ));
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> VoiceConditioning {
        VoiceConditioning {
            family: Family::Turbo,
            audio_features: (0..6).map(|i| i as f32 * 0.5).collect(),
            cond_rows: 2,
            hidden: 3,
            audio_tokens: vec![0, 6560, 17],
            speaker_embeddings: vec![0.25, -1.0],
            speaker_features: (0..12).map(|i| -(i as f32)).collect(),
            frames: 6,
            mel_bins: 2,
        }
    }

    #[test]
    fn round_trips() {
        let voice = sample();
        let bytes = voice.to_bytes();
        assert_eq!(VoiceConditioning::from_bytes(&bytes).unwrap(), voice);
    }

    #[test]
    fn rejects_every_truncation_and_extension() {
        let bytes = sample().to_bytes();
        for len in 0..bytes.len() {
            assert!(
                VoiceConditioning::from_bytes(&bytes[..len]).is_err(),
                "{len}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(VoiceConditioning::from_bytes(&longer).is_err());
    }

    #[test]
    fn rejects_hostile_headers_without_allocating() {
        let mut bytes = sample().to_bytes();
        // Claim 4 G × 4 G features with a tiny buffer: must fail on the size check.
        bytes[12..20].copy_from_slice(&[0xff; 8]);
        assert!(matches!(
            VoiceConditioning::from_bytes(&bytes),
            Err(ModelError::InvalidInput(_))
        ));
        let mut bad_magic = sample().to_bytes();
        bad_magic[0] = b'X';
        assert!(VoiceConditioning::from_bytes(&bad_magic).is_err());
        let mut bad_version = sample().to_bytes();
        bad_version[8] = 9;
        assert!(VoiceConditioning::from_bytes(&bad_version).is_err());
        let mut bad_family = sample().to_bytes();
        bad_family[10] = 7;
        assert!(VoiceConditioning::from_bytes(&bad_family).is_err());
    }

    #[test]
    fn rejects_bad_values_and_survives_noise() {
        let mut voice = sample();
        voice.audio_tokens[0] = 7000;
        assert!(VoiceConditioning::from_bytes(&voice.to_bytes()).is_err());
        let mut voice = sample();
        voice.speaker_embeddings[0] = f32::NAN;
        assert!(VoiceConditioning::from_bytes(&voice.to_bytes()).is_err());
        // Flip every byte in turn: any outcome but a panic is fine.
        let bytes = sample().to_bytes();
        for index in 0..bytes.len() {
            let mut noisy = bytes.clone();
            noisy[index] ^= 0xa5;
            let _ = VoiceConditioning::from_bytes(&noisy);
        }
    }
}
