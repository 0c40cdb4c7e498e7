//! Golden tests: each `tests/manifests/NAME.toml` parses to `NAME.json` or
//! fails with the message in `NAME.err`. Regenerate with VDR_BLESS=1.

use std::path::Path;
use vdr_runtime::Manifest;

#[test]
fn manifests_match_their_golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests");
    let bless = std::env::var_os("VDR_BLESS").is_some();
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let (actual, golden) = match Manifest::parse(&text) {
            Ok(m) => {
                (serde_json::to_string_pretty(&m).unwrap() + "\n", path.with_extension("json"))
            }
            Err(e) => (e.to_string() + "\n", path.with_extension("err")),
        };
        if bless {
            std::fs::write(&golden, &actual).unwrap();
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_else(|_| {
            panic!("{} has no golden file {}", path.display(), golden.display())
        });
        assert_eq!(actual, expected, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} golden manifests found");
}
