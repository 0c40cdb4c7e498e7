//! Point ids as strings, for engines that key records by strings only
//! (Chroma ids, Milvus `vdr_id` fields): numeric ids carry a marker and
//! string ids that could be mistaken for one are escaped; decoding is exact
//! for every id vdr writes:
//!
//! | vdr id            | stored as    |
//! |-------------------|--------------|
//! | `Num(42)`         | `#n:42`      |
//! | `Str("abc")`      | `abc`        |
//! | `Str("#x")`       | `#s:#x`      |

use crate::PointId;

const NUM: &str = "#n:";
const ESCAPED: &str = "#s:";

pub fn encode(id: &PointId) -> String {
    match id {
        PointId::Num(n) => format!("{NUM}{n}"),
        PointId::Str(s) if s.starts_with('#') => format!("{ESCAPED}{s}"),
        PointId::Str(s) => s.clone(),
    }
}

/// Ids written by other clients decode as the strings they are.
pub fn decode(id: String) -> PointId {
    if let Some(n) = id.strip_prefix(NUM).and_then(|r| r.parse::<u64>().ok()) {
        return PointId::Num(n);
    }
    match id.strip_prefix(ESCAPED) {
        Some(rest) => PointId::Str(rest.to_string()),
        None => PointId::Str(id),
    }
}
