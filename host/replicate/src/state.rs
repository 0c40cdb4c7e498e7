//! What a follower remembers between rounds: when it last matched its
//! leader, whether it was promoted, and which digest pairs are known to be
//! the same record within the tolerance. One JSON file, replaced atomically.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use vdr_model::PointId;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub from: String,
    pub to: String,
    pub rounds: u64,
    /// Unix time of the promotion; no round runs after it.
    pub promoted_at: Option<f64>,
    pub collections: BTreeMap<String, CollectionState>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CollectionState {
    /// Unix time the follower was last known equal to the leader.
    pub last_matched: Option<f64>,
    /// Unix time replication of this collection started (lag before any match).
    pub first_round: f64,
    pub last_round: f64,
    pub leader_records: u64,
    pub follower_records: u64,
    /// Fraction of records that differed at the start of the last round.
    pub last_diff_ratio: f64,
    /// id (JSON) -> [leader digest, follower digest], hex: records the
    /// follower stores slightly differently (rounded vectors) but equal
    /// within the tolerance. Empty for exact engines.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub equivalents: BTreeMap<String, [String; 2]>,
}

impl CollectionState {
    pub(crate) fn equivalents_map(&self) -> HashMap<PointId, (u128, u128)> {
        self.equivalents
            .iter()
            .filter_map(|(id, [l, f])| {
                let id: PointId = serde_json::from_str(id).ok()?;
                let l = u128::from_str_radix(l, 16).ok()?;
                let f = u128::from_str_radix(f, 16).ok()?;
                Some((id, (l, f)))
            })
            .collect()
    }
    pub(crate) fn set_equivalents(&mut self, map: &HashMap<PointId, (u128, u128)>) {
        self.equivalents = map
            .iter()
            .map(|(id, (l, f))| {
                (serde_json::to_string(id).unwrap(), [format!("{l:x}"), format!("{f:x}")])
            })
            .collect();
    }
}

impl State {
    pub const FILE: &'static str = "state.json";

    /// The state in `dir`, or a fresh one for this pair of databases.
    pub fn load(dir: &Path, from: &str, to: &str) -> Result<State> {
        let path = dir.join(Self::FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Error::State { path, message: format!("unreadable: {e}") }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(State { from: from.into(), to: to.into(), ..State::default() })
            }
            Err(e) => Err(Error::State { path, message: e.to_string() }),
        }
    }

    /// Write to a temporary file and rename: a crash leaves the old state.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let err =
            |path: PathBuf| move |e: std::io::Error| Error::State { path, message: e.to_string() };
        std::fs::create_dir_all(dir).map_err(err(dir.to_path_buf()))?;
        let path = dir.join(Self::FILE);
        let tmp = dir.join(format!(".{}.{}", Self::FILE, std::process::id()));
        let bytes = serde_json::to_vec_pretty(self).expect("state serialises");
        std::fs::write(&tmp, bytes).map_err(err(tmp.clone()))?;
        std::fs::rename(&tmp, &path).map_err(err(path.clone()))
    }

    /// Refuse to replicate into a promoted follower.
    pub fn ensure_not_promoted(&self) -> Result<()> {
        match self.promoted_at {
            Some(t) => Err(Error::Promoted { at: format!("unix time {t:.0}") }),
            None => Ok(()),
        }
    }
}

pub fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
