//! The RFC 5322 From parser (sendwell-dmarc `address`, `message`): any bytes as a message
//! or as a From value, no panic; an address list that parses writes back to text that
//! parses to the same list. An Author Domain found also goes through the Public Suffix
//! List and the tree walk's name sequence.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sendwell_dmarc::address::parse_address_list;
use sendwell_dmarc::author_domain;
use sendwell_dmarc::tree_walk::{MAX_TREE_WALK_QUERIES, psl_organizational_domain, walk_names};

fuzz_target!(|data: &[u8]| {
    if let Ok(author) = author_domain(data) {
        let org = psl_organizational_domain(&author.domain);
        assert!(author.domain.ends_with(&org));
        let names = walk_names(&author.domain);
        assert!(names.len() <= MAX_TREE_WALK_QUERIES);
    }
    let value = String::from_utf8_lossy(data);
    if let Ok(list) = parse_address_list(&value) {
        let text: Vec<String> = list.iter().map(ToString::to_string).collect();
        let again = parse_address_list(&text.join(", ")).expect("written addresses parse");
        assert_eq!(again, list);
    }
});
