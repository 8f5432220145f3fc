//! Phoneme durations from a Piper voice, for word timings. A VITS graph rounds each
//! phoneme id's predicted length up to whole frames (its only `Ceil` node) and expands the
//! ids by those counts; exposing that tensor as a second output gives the number of frames
//! each id was given, which is exactly where each phoneme lies in the audio.
//!
//! piper-tts does this once with `piper.patch_voice_with_alignment` (the `onnx` Python
//! package adds the graph output and rewrites the file). We do the equivalent at load, on
//! the model's bytes in memory, so any stock voice file works and nothing is written: an
//! ONNX file is a protobuf `ModelProto`, and protobuf merges a repeated occurrence of an
//! embedded message field into the first, so appending one `graph` field holding one
//! `output` (a `ValueInfoProto` naming the tensor) adds that output to the graph. Only the
//! node list is read to find the tensor; initialisers (the weights) are skipped by length.

/// `ModelProto.graph`.
const MODEL_GRAPH: u64 = 7;
/// `GraphProto.node`.
const GRAPH_NODE: u64 = 1;
/// `GraphProto.output`.
const GRAPH_OUTPUT: u64 = 12;
/// `NodeProto.output`.
const NODE_OUTPUT: u64 = 2;
/// `NodeProto.op_type`.
const NODE_OP_TYPE: u64 = 4;
/// `ValueInfoProto.name`.
const VALUE_INFO_NAME: u64 = 1;

/// One field of a protobuf message: its number and, for length-delimited fields, the bytes.
struct Field<'a> {
    number: u64,
    bytes: Option<&'a [u8]>,
}

/// Reads a base-128 varint at `*at`.
fn varint(data: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *data.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The fields of a message, or `None` when the bytes are not a well-formed message.
fn fields(data: &[u8]) -> Option<Vec<Field<'_>>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let key = varint(data, &mut at)?;
        let number = key >> 3;
        let bytes = match key & 7 {
            0 => {
                varint(data, &mut at)?;
                None
            }
            1 => {
                at = at.checked_add(8).filter(|end| *end <= data.len())?;
                None
            }
            2 => {
                let len = usize::try_from(varint(data, &mut at)?).ok()?;
                let end = at.checked_add(len).filter(|end| *end <= data.len())?;
                let bytes = &data[at..end];
                at = end;
                Some(bytes)
            }
            5 => {
                at = at.checked_add(4).filter(|end| *end <= data.len())?;
                None
            }
            _ => return None,
        };
        out.push(Field { number, bytes });
    }
    Some(out)
}

/// The strings in field `number` of a message.
fn strings(message: &[u8], number: u64) -> Vec<String> {
    fields(message)
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f.number == number)
        .filter_map(|f| f.bytes.and_then(|b| std::str::from_utf8(b).ok()))
        .map(str::to_owned)
        .collect()
}

/// Appends a varint.
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a length-delimited field.
fn put_bytes(out: &mut Vec<u8>, number: u64, bytes: &[u8]) {
    put_varint(out, (number << 3) | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// The name of the tensor holding the per-id frame counts: the output of the graph's one
/// `Ceil` node. `None` when there is no such single node, or it is already a graph output.
pub fn duration_tensor(model: &[u8]) -> Option<String> {
    // Every occurrence of the graph field, as protobuf merges them into one graph.
    let mut graph_fields = Vec::new();
    for graph in fields(model)?
        .into_iter()
        .filter(|f| f.number == MODEL_GRAPH)
    {
        graph_fields.extend(fields(graph.bytes?)?);
    }
    let mut ceil_outputs = Vec::new();
    let mut graph_outputs = Vec::new();
    for field in &graph_fields {
        let Some(bytes) = field.bytes else { continue };
        match field.number {
            GRAPH_NODE if strings(bytes, NODE_OP_TYPE).iter().any(|op| op == "Ceil") => {
                ceil_outputs.extend(strings(bytes, NODE_OUTPUT));
            }
            GRAPH_OUTPUT => graph_outputs.extend(strings(bytes, VALUE_INFO_NAME)),
            _ => {}
        }
    }
    match ceil_outputs.as_slice() {
        [name] if !graph_outputs.contains(name) => Some(name.clone()),
        _ => None,
    }
}

/// The model with the duration tensor added as a graph output, and that tensor's name;
/// `None` when the graph has no single `Ceil` node to expose.
pub fn with_duration_output(model: &[u8]) -> Option<(Vec<u8>, String)> {
    let name = duration_tensor(model)?;
    let mut value_info = Vec::new();
    put_bytes(&mut value_info, VALUE_INFO_NAME, name.as_bytes());
    let mut graph = Vec::new();
    put_bytes(&mut graph, GRAPH_OUTPUT, &value_info);
    let mut patched = Vec::with_capacity(model.len() + graph.len() + 8);
    patched.extend_from_slice(model);
    put_bytes(&mut patched, MODEL_GRAPH, &graph);
    Some((patched, name))
}

/// A phoneme's place in one sentence's audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedPhoneme {
    /// The phoneme (one or more codepoints).
    pub phoneme: String,
    /// First sample.
    pub start: usize,
    /// One past the last sample (its trailing pad included).
    pub end: usize,
}

/// Splits per-id sample counts back into phonemes, walking the ids as
/// [`super::ids::phoneme_ids`] built them: `^`, `_`, then each known phoneme's ids and a
/// `_`, then `$`. The leading `^ _` and trailing `$` are left out (silence around speech).
pub fn timed_phonemes(
    phonemes: &[String],
    id_map: &std::collections::HashMap<String, Vec<i64>>,
    id_samples: &[usize],
) -> Vec<TimedPhoneme> {
    let count = |symbol: &str| id_map.get(symbol).map_or(0, Vec::len);
    let pad = count("_");
    let mut index = count("^") + pad;
    let mut position: usize = id_samples.iter().take(index).sum();
    let mut timed = Vec::with_capacity(phonemes.len());
    for phoneme in phonemes {
        let ids = match id_map.get(phoneme) {
            Some(ids) => ids.len() + pad,
            None => continue,
        };
        let samples: usize = id_samples.iter().skip(index).take(ids).sum();
        timed.push(TimedPhoneme {
            phoneme: phoneme.clone(),
            start: position,
            end: position + samples,
        });
        index += ids;
        position += samples;
    }
    timed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(fields: &[(u64, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (number, bytes) in fields {
            put_bytes(&mut out, *number, bytes);
        }
        out
    }

    fn node(op: &str, output: &str) -> Vec<u8> {
        message(&[
            (NODE_OUTPUT, output.as_bytes()),
            (NODE_OP_TYPE, op.as_bytes()),
        ])
    }

    fn model(nodes: &[Vec<u8>]) -> Vec<u8> {
        let mut graph = Vec::new();
        for n in nodes {
            put_bytes(&mut graph, GRAPH_NODE, n);
        }
        let output = message(&[(VALUE_INFO_NAME, b"output")]);
        put_bytes(&mut graph, GRAPH_OUTPUT, &output);
        let mut model = Vec::new();
        put_varint(&mut model, 1 << 3); // ir_version, a varint field before the graph
        put_varint(&mut model, 8);
        put_bytes(&mut model, MODEL_GRAPH, &graph);
        model
    }

    #[test]
    fn finds_the_single_ceil_and_appends_it_as_an_output() {
        let bytes = model(&[node("Exp", "w"), node("Ceil", "w_ceil"), node("Add", "y")]);
        assert_eq!(duration_tensor(&bytes).as_deref(), Some("w_ceil"));
        let (patched, name) = with_duration_output(&bytes).expect("patched");
        assert_eq!(name, "w_ceil");
        assert!(patched.starts_with(&bytes));
        // Read back as protobuf merges it: outputs of every graph field, in order.
        let outputs: Vec<String> = fields(&patched)
            .unwrap()
            .into_iter()
            .filter(|f| f.number == MODEL_GRAPH)
            .flat_map(|g| fields(g.bytes.unwrap()).unwrap())
            .filter(|f| f.number == GRAPH_OUTPUT)
            .flat_map(|f| strings(f.bytes.unwrap(), VALUE_INFO_NAME))
            .collect();
        assert_eq!(outputs, ["output", "w_ceil"]);
        // Already exposed: nothing to do.
        assert_eq!(duration_tensor(&patched), None);
    }

    #[test]
    fn refuses_ambiguous_or_broken_models() {
        assert_eq!(duration_tensor(&model(&[node("Exp", "w")])), None);
        let two = model(&[node("Ceil", "a"), node("Ceil", "b")]);
        assert_eq!(duration_tensor(&two), None);
        assert_eq!(duration_tensor(b"\xff\xff\xff"), None);
        assert_eq!(duration_tensor(&[]), None);
        let mut cut = model(&[node("Ceil", "w_ceil")]);
        cut.truncate(cut.len() - 3);
        assert_eq!(duration_tensor(&cut), None);
    }

    #[test]
    fn samples_are_split_back_into_phonemes() {
        let map: std::collections::HashMap<String, Vec<i64>> = [
            ("^", vec![1]),
            ("_", vec![0]),
            ("$", vec![2]),
            ("a", vec![5]),
            ("b", vec![6]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        // ids: ^ _ a _ (?) b _ $ — "?" is unknown and has no ids.
        let phonemes: Vec<String> = ["a", "?", "b"].iter().map(|s| (*s).to_owned()).collect();
        let samples = [100, 50, 256, 0, 512, 256, 30];
        let timed = timed_phonemes(&phonemes, &map, &samples);
        assert_eq!(
            timed,
            vec![
                TimedPhoneme {
                    phoneme: "a".into(),
                    start: 150,
                    end: 406
                },
                TimedPhoneme {
                    phoneme: "b".into(),
                    start: 406,
                    end: 1174
                },
            ]
        );
    }
}
