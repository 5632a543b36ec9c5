//! The dump parser on arbitrary input: errors are fine, panics are not. Whatever parses
//! must write back and re-parse to the same entries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mdbx_lite::dump::{DumpReader, DumpWriter};

fuzz_target!(|data: &[u8]| {
    for plain in [false, true] {
        let mut reader = if plain {
            DumpReader::new_plain(data)
        } else {
            DumpReader::new(data)
        };
        let mut sections = Vec::new();
        'outer: while let Ok(Some(header)) = reader.next_section() {
            let mut entries = Vec::new();
            loop {
                match reader.next_entry() {
                    Ok(Some(e)) => entries.push(e),
                    Ok(None) => break,
                    Err(_) => break 'outer,
                }
            }
            sections.push((header, entries));
            if plain {
                break;
            }
        }
        if plain {
            continue;
        }
        // Round trip what parsed.
        let mut out = Vec::new();
        {
            let mut w = DumpWriter::new(&mut out);
            for (h, entries) in &sections {
                if w.write_header(h).is_err() {
                    return;
                }
                for (k, v) in entries {
                    w.write_entry(k, v).expect("write to Vec");
                }
                w.end_section().expect("write to Vec");
            }
        }
        let mut again = DumpReader::new(&out[..]);
        for (_, entries) in &sections {
            again
                .next_section()
                .expect("re-parse header")
                .expect("section");
            for e in entries {
                assert_eq!(
                    &again.next_entry().expect("re-parse entry").expect("entry"),
                    e
                );
            }
            assert!(again.next_entry().expect("re-parse end").is_none());
        }
    }
});
