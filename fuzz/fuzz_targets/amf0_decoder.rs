//! AMF0 decoding (commands, metadata), and encoding back what it decoded.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(values) = rml_amf0::deserialize(&mut std::io::Cursor::new(data)) {
        if let Ok(bytes) = rml_amf0::serialize(&values) {
            let _ = rml_amf0::deserialize(&mut std::io::Cursor::new(bytes));
        }
    }
});
