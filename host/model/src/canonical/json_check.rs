//! A fast test for payloads that are already canonical JSON, so that the
//! common case (a store that keeps canonical payloads) skips a parse and a
//! re-serialisation per record.
//!
//! Conservative by design: `true` only when the text is exactly what
//! `serde_json::Value::to_string` makes of it (no whitespace, object keys
//! strictly ascending byte-wise, numbers and string escapes as serde_json
//! writes them). Anything unusual (escaped keys, escapes serde_json would
//! not write, very deep nesting) answers `false` and takes the full path.

/// Nesting beyond this takes the full path (serde_json's own limit is 128).
const MAX_DEPTH: usize = 100;

pub fn is_canonical(text: &str) -> bool {
    let mut c = Checker { b: text.as_bytes(), pos: 0 };
    c.value(0) && c.pos == c.b.len()
}

struct Checker<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Checker<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.peek() == Some(byte);
        self.pos += usize::from(hit);
        hit
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let hit = self.b[self.pos..].starts_with(word);
        self.pos += if hit { word.len() } else { 0 };
        hit
    }

    fn value(&mut self, depth: usize) -> bool {
        match self.peek() {
            Some(b'{') if depth < MAX_DEPTH => self.object(depth + 1),
            Some(b'[') if depth < MAX_DEPTH => self.array(depth + 1),
            Some(b'"') => self.string().is_some(),
            Some(b'n') => self.literal(b"null"),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => false,
        }
    }

    fn object(&mut self, depth: usize) -> bool {
        self.pos += 1;
        if self.eat(b'}') {
            return true;
        }
        let mut previous: Option<&'a [u8]> = None;
        loop {
            let Some((key, escaped)) = self.string() else { return false };
            // Escaped keys sort by their decoded text: leave them to serde_json.
            if escaped || previous.is_some_and(|p| p >= key) {
                return false;
            }
            previous = Some(key);
            if !self.eat(b':') || !self.value(depth) {
                return false;
            }
            if self.eat(b'}') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
        }
    }

    fn array(&mut self, depth: usize) -> bool {
        self.pos += 1;
        if self.eat(b']') {
            return true;
        }
        loop {
            if !self.value(depth) {
                return false;
            }
            if self.eat(b']') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
        }
    }

    /// A string written as serde_json writes it: the raw bytes between the
    /// quotes and whether it holds escapes, or `None`.
    fn string(&mut self) -> Option<(&'a [u8], bool)> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.pos;
        let mut escaped = false;
        loop {
            match *self.b.get(self.pos)? {
                b'"' => {
                    self.pos += 1;
                    let b: &'a [u8] = self.b;
                    return Some((&b[start..self.pos - 1], escaped));
                }
                b'\\' => {
                    escaped = true;
                    let written = match *self.b.get(self.pos + 1)? {
                        b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                        b'u' => self.control_escape()?,
                        _ => return None,
                    };
                    self.pos += written;
                }
                0..=0x1f => return None,
                _ => self.pos += 1,
            }
        }
    }

    /// `\u00XX` as serde_json writes a control character without a short
    /// escape (lower-case hex); its length, or `None`.
    fn control_escape(&self) -> Option<usize> {
        let e = self.b.get(self.pos..self.pos + 6)?;
        let hex = |c: u8| matches!(c, b'0'..=b'9' | b'a'..=b'f');
        let ok = e[2..4] == *b"00"
            && matches!(e[4], b'0' | b'1')
            && hex(e[5])
            && !matches!((e[4], e[5]), (b'0', b'8' | b'9' | b'a' | b'c' | b'd'));
        ok.then_some(6)
    }

    /// Integers of up to 18 digits are written back as read; any other
    /// number is compared with serde_json's own rendering of it.
    fn number(&mut self) -> bool {
        let start = self.pos;
        let negative = self.eat(b'-');
        let digits = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let int = &self.b[digits..self.pos];
        let plain_integer = !matches!(self.peek(), Some(b'.' | b'e' | b'E'));
        if plain_integer {
            let no_leading_zero = int.len() == 1 || int.first() != Some(&b'0');
            // "-0" reads back as the float -0.0.
            let not_negative_zero = !(negative && int == b"0");
            return !int.is_empty() && int.len() <= 18 && no_leading_zero && not_negative_zero;
        }
        while matches!(self.peek(), Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')) {
            self.pos += 1;
        }
        let token = std::str::from_utf8(&self.b[start..self.pos]).expect("ASCII");
        serde_json::from_str::<serde_json::Number>(token)
            .is_ok_and(|n| serde_json::to_string(&n).is_ok_and(|written| written == token))
    }
}

#[cfg(test)]
mod tests {
    use super::is_canonical;
    use crate::canonical::canonical_json;

    /// The check may only say yes when the full path would give back the
    /// same text.
    fn agrees(text: &str) -> bool {
        let fast = is_canonical(text);
        if fast {
            assert_eq!(canonical_json(text).ok().as_deref(), Some(text), "{text}");
        }
        fast
    }

    #[test]
    fn canonical_texts_are_recognised() {
        for t in [
            r#"{"a":1,"b":[true,false,null],"c":{"d":"x"}}"#,
            r#"{"cluster":12,"doc":"caf\u00e9 ✓","score":0.5,"n":-3}"#,
            r#""line\nbreak\ttab \"quoted\" back\\slash \u0001""#,
            r#"[1.5e-7,1e21,-0.0,123456789012345678,3.0]"#,
            "{}",
            "[]",
            "0",
        ] {
            let canon = canonical_json(t).unwrap();
            assert!(agrees(&canon), "{canon} should be recognised");
        }
    }

    #[test]
    fn non_canonical_texts_take_the_full_path() {
        for t in [
            r#"{"b":1,"a":2}"#,
            r#"{"a":1,"a":2}"#,
            r#"{ "a":1}"#,
            r#"[1, 2]"#,
            r#"1.50"#,
            r#"1E5"#,
            r#"-0"#,
            r#"01"#,
            r#""\u00e9""#,
            r#""\/""#,
            r#""\u000A""#,
            r#"{"\u0061":1}"#,
            r#"{"a":1"#,
            r#"[1,]"#,
            r#"nul"#,
            "",
            "1 ",
        ] {
            assert!(!agrees(t), "{t} is not canonical");
        }
    }

    #[test]
    fn deep_nesting_takes_the_full_path() {
        let deep = format!("{}{}", "[".repeat(120), "]".repeat(120));
        assert!(!is_canonical(&deep));
    }

    /// Random documents, written canonically and then perturbed: the check
    /// never disagrees with serde_json and recognises every canonical one.
    #[test]
    fn agrees_with_serde_json_on_random_documents() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let value = random_value(&mut next, 0);
            let canon = value.to_string();
            // Without serde_json's float_roundtrip a float can read back one
            // ulp off, so not every written text is a fixed point.
            let fixed_point = canonical_json(&canon).is_ok_and(|again| again == canon);
            assert_eq!(agrees(&canon), fixed_point, "{canon}");
            let pretty = serde_json::to_string_pretty(&value).unwrap();
            agrees(&pretty);
            // Flip one byte to something JSON-ish and check again.
            let mut bytes = canon.clone().into_bytes();
            let i = (next() % bytes.len() as u64) as usize;
            bytes[i] = b"{}[],:\"\\ 0-.e9aZ"[(next() % 16) as usize];
            if let Ok(t) = String::from_utf8(bytes) {
                agrees(&t);
            }
        }
    }

    fn random_value(next: &mut impl FnMut() -> u64, depth: u32) -> serde_json::Value {
        use serde_json::Value;
        let pick = next() % if depth > 3 { 6 } else { 8 };
        match pick {
            0 => Value::Null,
            1 => Value::Bool(next().is_multiple_of(2)),
            2 => Value::from((next() as i64 >> (next() % 64)) % 1_000_000_000_000_000_000),
            3 => Value::from(f64::from_bits(next())),
            4 => Value::from((next() % 1000) as f64 / 8.0),
            5 => {
                let chars = ['a', 'Z', '"', '\\', '\n', '\u{1}', 'é', '✓', '/', ' '];
                let n = next() % 6;
                Value::String((0..n).map(|_| chars[(next() % 10) as usize]).collect())
            }
            6 => Value::Array((0..next() % 4).map(|_| random_value(next, depth + 1)).collect()),
            _ => {
                let keys = ["a", "b", "ab", "B", "é", "k1", "z"];
                Value::Object(
                    (0..next() % 5)
                        .map(|_| {
                            (keys[(next() % 7) as usize].to_string(), random_value(next, depth + 1))
                        })
                        .collect(),
                )
            }
        }
    }
}
