//! The tag=value list (RFC 6376 §3.2), the syntax shared by the DKIM-Signature header
//! field (§3.5) and the DNS key record (§3.6.1).
//!
//! ```text
//! tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
//! tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
//! tag-name  =  ALPHA *ALNUMPUNC
//! tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
//! tval      =  1*VALCHAR
//! VALCHAR   =  %x21-3A / %x3C-7E
//! ```
//!
//! Design decision: the parser borrows the input and records, for each tag, where its
//! value sits in it. Verification needs that position: the signature is computed over the
//! DKIM-Signature field with the *value* of `b=` deleted (§3.7), whatever its folding.
//!
//! Real-world leniencies, each deliberate: an empty tag-spec (`a=1;;b=2`) is skipped
//! (and counted, so the record checker can warn); octets over 0x7F are accepted in a
//! value (UTF-8 in `n=` notes and `z=` copies is common); a bare CR or LF counts as
//! whitespace (DNS records pasted from files carry them).
//!
//! Hostile input: the work is linear in the input. Duplicates are found by sorting the
//! names once (not by comparing each tag with all before it), and a list of more than
//! [`MAX_TAGS`] tags is refused as soon as the limit is passed (RFC 6376 §8.9:
//! verifiers must be prepared for intentionally malformed fields).

/// The most tags a tag-list may hold. RFC 6376 defines 14 signature tags (§3.5) and 8
/// key record tags (§3.6.1); no real list comes near this, and a longer one is refused
/// rather than processed (RFC 6376 §8.9).
pub const MAX_TAGS: usize = 64;

/// One `tag=value` pair, borrowed from the parsed text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag<'a> {
    /// The tag name, case-sensitive (RFC 6376 §3.2: "Tags MUST be interpreted in a
    /// case-sensitive manner").
    pub name: &'a str,
    /// The value with surrounding whitespace removed; inner folding whitespace is kept.
    pub value: &'a [u8],
    /// Offset in the input of the first octet after `=`.
    pub value_start: usize,
    /// Offset in the input of the `;` that ends the tag-spec (or the input length).
    pub value_end: usize,
}

impl Tag<'_> {
    /// The value with every whitespace octet (SP, HTAB, CR, LF) removed, as the
    /// base64 tags `b=`, `bh=` and `p=` need (RFC 6376 §3.5: "Whitespace is ignored").
    pub fn value_without_whitespace(&self) -> Vec<u8> {
        self.value
            .iter()
            .copied()
            .filter(|b| !is_whitespace(*b))
            .collect()
    }

    /// The value as text (invalid UTF-8 replaced).
    pub fn value_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.value)
    }
}

/// A parsed tag-list, in input order, with no duplicate names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagList<'a> {
    /// The tags, in the order they appear.
    pub tags: Vec<Tag<'a>>,
    /// How many empty tag-specs (`;;` or `; ;`) were skipped: accepted, but not RFC syntax.
    pub empty_specs: usize,
}

/// Why a tag-list could not be parsed (RFC 6376 §3.2).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TagListError {
    /// A tag name does not start with a letter or holds something other than letters,
    /// digits and `_`.
    #[error("invalid tag name {name:?} at offset {offset}")]
    InvalidName {
        /// The text where the name should be.
        name: String,
        /// Its offset in the input.
        offset: usize,
    },
    /// A tag-spec has a name but no `=`.
    #[error("tag {name:?} has no \"=\"")]
    MissingEquals {
        /// The tag name.
        name: String,
    },
    /// A value holds an octet VALCHAR does not allow (a control character).
    #[error("tag {name:?}: octet {octet:#04x} is not allowed in a value")]
    InvalidValue {
        /// The tag name.
        name: String,
        /// The offending octet.
        octet: u8,
    },
    /// RFC 6376 §3.2: "if a tag name does occur more than once, the entire tag-list is invalid".
    #[error("tag {name:?} occurs more than once")]
    Duplicate {
        /// The repeated tag name.
        name: String,
    },
    /// More than [`MAX_TAGS`] tags: a processing limit, not an RFC syntax rule.
    #[error("more than {max} tags (a limit against hostile input, RFC 6376 §8.9)")]
    TooManyTags {
        /// The limit, [`MAX_TAGS`].
        max: usize,
    },
}

/// WSP plus the CR and LF of folding (FWS).
pub(crate) fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// RFC 6376 §3.2 VALCHAR, plus octets over 0x7F (see the module documentation).
fn is_valchar(b: u8) -> bool {
    matches!(b, 0x21..=0x3A | 0x3C..=0x7E | 0x80..=0xFF)
}

impl<'a> TagList<'a> {
    /// Parse `input` as a tag-list.
    pub fn parse(input: &'a [u8]) -> Result<TagList<'a>, TagListError> {
        let mut list = TagList::default();
        let mut pos = 0;
        let len = input.len();
        while pos <= len {
            let spec_end = memchr::memchr(b';', &input[pos..]).map_or(len, |i| pos + i);
            let spec = &input[pos..spec_end];
            if spec.iter().all(|&b| is_whitespace(b)) {
                // RFC 6376 §3.2 allows one trailing ";" (an empty last spec); an empty spec
                // followed by another ";" is tolerated and counted.
                if spec_end < len {
                    list.empty_specs += 1;
                }
                pos = spec_end + 1;
                continue;
            }
            // RFC 6376 §8.9: stop at the limit, before parsing the rest.
            if list.tags.len() == MAX_TAGS {
                return Err(TagListError::TooManyTags { max: MAX_TAGS });
            }
            list.tags.push(parse_spec(input, pos, spec_end)?);
            pos = spec_end + 1;
        }
        // RFC 6376 §3.2: "if a tag name does occur more than once, the entire tag-list
        // is invalid". Found by sorting the names: O(n log n), whatever the input.
        let mut names: Vec<&str> = list.tags.iter().map(|t| t.name).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(TagListError::Duplicate {
                name: pair[0].to_string(),
            });
        }
        Ok(list)
    }

    /// The tag named `name`, if present.
    pub fn get(&self, name: &str) -> Option<&Tag<'a>> {
        self.tags.iter().find(|t| t.name == name)
    }
}

/// Parse one tag-spec occupying `input[start..end]` (no `;` inside).
fn parse_spec(input: &[u8], start: usize, end: usize) -> Result<Tag<'_>, TagListError> {
    let mut i = start;
    while i < end && is_whitespace(input[i]) {
        i += 1;
    }
    let name_start = i;
    while i < end && (input[i].is_ascii_alphanumeric() || input[i] == b'_') {
        i += 1;
    }
    let name_bytes = &input[name_start..i];
    if name_bytes.is_empty() || !name_bytes[0].is_ascii_alphabetic() {
        let mut stop = name_start;
        while stop < end && input[stop] != b'=' && !is_whitespace(input[stop]) {
            stop += 1;
        }
        return Err(TagListError::InvalidName {
            name: String::from_utf8_lossy(&input[name_start..stop.max(name_start)]).into_owned(),
            offset: name_start,
        });
    }
    // The name is ASCII by construction.
    let name = std::str::from_utf8(name_bytes).unwrap_or_default();
    while i < end && is_whitespace(input[i]) {
        i += 1;
    }
    if i >= end || input[i] != b'=' {
        if i < end {
            // Something other than "=" follows the name: a name with a bad character.
            let mut stop = i;
            while stop < end && input[stop] != b'=' && !is_whitespace(input[stop]) {
                stop += 1;
            }
            return Err(TagListError::InvalidName {
                name: String::from_utf8_lossy(&input[name_start..stop]).into_owned(),
                offset: name_start,
            });
        }
        return Err(TagListError::MissingEquals {
            name: name.to_string(),
        });
    }
    let value_start = i + 1;
    let mut v_start = value_start;
    while v_start < end && is_whitespace(input[v_start]) {
        v_start += 1;
    }
    let mut v_end = end;
    while v_end > v_start && is_whitespace(input[v_end - 1]) {
        v_end -= 1;
    }
    let value = &input[v_start..v_end];
    if let Some(&octet) = value.iter().find(|&&b| !is_valchar(b) && !is_whitespace(b)) {
        return Err(TagListError::InvalidValue {
            name: name.to_string(),
            octet,
        });
    }
    Ok(Tag {
        name,
        value,
        value_start,
        value_end: end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(input: &str) -> Vec<(String, String)> {
        TagList::parse(input.as_bytes())
            .unwrap()
            .tags
            .iter()
            .map(|t| (t.name.to_string(), t.value_str().into_owned()))
            .collect()
    }

    #[test]
    fn parses_rfc_examples() {
        assert_eq!(
            names("v=1; a=rsa-sha256;\r\n\td=example.net; s=brisbane;"),
            vec![
                ("v".into(), "1".into()),
                ("a".into(), "rsa-sha256".into()),
                ("d".into(), "example.net".into()),
                ("s".into(), "brisbane".into())
            ]
        );
        assert_eq!(
            names(" x1 = extra ; t = y:n:extra; n=A 1024 bit key;"),
            vec![
                ("x1".into(), "extra".into()),
                ("t".into(), "y:n:extra".into()),
                ("n".into(), "A 1024 bit key".into())
            ]
        );
        assert_eq!(names("p="), vec![("p".into(), "".into())]);
        assert_eq!(names(""), vec![]);
    }

    #[test]
    fn records_value_positions() {
        let text = b"a=1; b= AB\r\n CD ;c=2";
        let list = TagList::parse(text).unwrap();
        let b = list.get("b").unwrap();
        assert_eq!(b.value, b"AB\r\n CD");
        assert_eq!(&text[b.value_start..b.value_end], b" AB\r\n CD ");
        assert_eq!(b.value_without_whitespace(), b"ABCD");
    }

    #[test]
    fn rejects_bad_syntax() {
        assert!(matches!(
            TagList::parse(b"k=rsa; t; p=abc"),
            Err(TagListError::MissingEquals { .. })
        ));
        assert!(matches!(
            TagList::parse(b"a=1; a=2"),
            Err(TagListError::Duplicate { .. })
        ));
        assert!(matches!(
            TagList::parse(b"1a=2"),
            Err(TagListError::InvalidName { .. })
        ));
        // ":" and "=" are VALCHARs: this parses, as one odd v= value.
        assert_eq!(
            TagList::parse(b"v=DKIM1: k=rsa").unwrap().tags[0].value,
            b"DKIM1: k=rsa"
        );
        assert!(matches!(
            TagList::parse(b"a=b\x01c"),
            Err(TagListError::InvalidValue { octet: 1, .. })
        ));
        assert!(matches!(
            TagList::parse(b"synerr"),
            Err(TagListError::MissingEquals { .. })
        ));
    }

    #[test]
    fn finds_duplicates_anywhere() {
        let many: String = (0..MAX_TAGS - 1).map(|i| format!("a{i}=1;")).collect();
        assert_eq!(
            TagList::parse(many.as_bytes()).unwrap().tags.len(),
            MAX_TAGS - 1
        );
        // The last tag repeats the first, the middle one, or itself at the top.
        for repeated in ["a0", "a31", "a62"] {
            let text = format!("{many} {repeated}=2");
            assert_eq!(
                TagList::parse(text.as_bytes()),
                Err(TagListError::Duplicate {
                    name: repeated.into()
                })
            );
        }
    }

    #[test]
    fn refuses_more_than_max_tags() {
        // The reviewer's input: 150,000 distinct tags (1.39 MB) took 19 s to parse when
        // each tag was compared with all before it. Now refused at tag MAX_TAGS + 1.
        let hostile: String = (0..150_000).map(|i| format!("a{i}=1;")).collect();
        assert_eq!(
            TagList::parse(hostile.as_bytes()),
            Err(TagListError::TooManyTags { max: MAX_TAGS })
        );
        let exactly: String = (0..MAX_TAGS).map(|i| format!("a{i}=1;")).collect();
        assert_eq!(
            TagList::parse(exactly.as_bytes()).unwrap().tags.len(),
            MAX_TAGS
        );
        let one_more = format!("{exactly}b=2");
        assert_eq!(
            TagList::parse(one_more.as_bytes()),
            Err(TagListError::TooManyTags { max: MAX_TAGS })
        );
    }

    #[test]
    fn tolerates_empty_specs() {
        let list = TagList::parse(b"a=1;; b=2; ;").unwrap();
        assert_eq!(list.tags.len(), 2);
        assert_eq!(list.empty_specs, 2);
        assert_eq!(TagList::parse(b"a=1;").unwrap().empty_specs, 0);
    }
}
