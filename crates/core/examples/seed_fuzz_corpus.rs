//! Seeds the fuzz corpora in `fuzz/corpus/`: the known-bad messages
//! ([`livepush_core::rtmp::hostile`]) for the three byte-stream targets, and
//! every AMF0 payload (commands and data) found in the captured streams of
//! `corpus/chunk_decoder` for the AMF0 target. Its output is checked in:
//! `cargo run -p livepush-core --example seed_fuzz_corpus -- fuzz/corpus`.
//! The byte-stream targets read their first byte as the read size: the seeds
//! start with 0xff (256 bytes a read).

use rml_rtmp::chunk_io::ChunkDeserializer;
use rml_rtmp::messages::RtmpMessage;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/corpus".into());
    for (name, bytes) in livepush_core::rtmp::hostile::all() {
        let file = name.replace(' ', "-");
        for target in ["chunk_decoder", "receiver_session", "publish_session"] {
            let mut seed = vec![0xffu8];
            seed.extend_from_slice(&bytes);
            std::fs::write(format!("{dir}/{target}/hostile-{file}"), seed).unwrap();
        }
    }
    let mut n = 0;
    for entry in std::fs::read_dir(format!("{dir}/chunk_decoder")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("hostile") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let mut d = ChunkDeserializer::new();
        let mut input = &bytes[1..];
        while let Ok(Some(m)) = d.get_next_message(input) {
            input = &[];
            if let Ok(RtmpMessage::SetChunkSize { size }) = m.to_rtmp_message() {
                let _ = d.set_max_chunk_size(size as usize);
            }
            if matches!(m.type_id, 18 | 20) && n < 64 {
                n += 1;
                std::fs::write(format!("{dir}/amf0_decoder/{name}-{n}"), &m.data).unwrap();
            }
        }
    }
    println!("{n} AMF0 payloads");
}
