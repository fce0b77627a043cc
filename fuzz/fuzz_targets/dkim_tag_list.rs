//! The DKIM-Signature tag-list parser (RFC 6376 §3.2, §3.5): any bytes, no panic; a
//! signature that parses re-serialises to the same signature.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sendwell_dkim::tag_list::TagList;
use sendwell_dkim::{ParseOptions, Signature};

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = TagList::parse(data) {
        for tag in &list.tags {
            assert!(tag.value_start <= tag.value_end && tag.value_end <= data.len());
        }
        for allow_drafts in [false, true] {
            if let Ok(sig) = Signature::from_tag_list(&list, ParseOptions { allow_drafts }) {
                let again = Signature::parse_with(
                    sig.to_string().as_bytes(),
                    ParseOptions { allow_drafts },
                )
                .expect("a written signature parses");
                assert_eq!(again, sig);
            }
        }
    }
});
