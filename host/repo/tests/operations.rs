mod common;
use chrono::{TimeZone, Utc};
use common::*;
use vdr_model::testing::MemoryDatabase;
use vdr_repo::*;

fn read_all() -> CheckOptions {
    CheckOptions { read_data: ReadData::All }
}

#[test]
fn a_backup_killed_at_any_moment_leaves_a_consistent_repository() {
    let f = fixture(small_options());
    let mut db = db_with("docs", schema("docs", 64), dense_points(4000, 64, 1));
    let first = backup(&f.repo, &mut db);
    let mut changed = dense_points(4000, 64, 2);
    changed.truncate(3000);
    let mut ok_runs = 0;
    for n in [0, 1, 2, 3, 5, 8, 13, 21, 34, 55] {
        let mut db = db_with("docs", schema("docs", 64), changed.clone());
        f.store.fail_after(n);
        let r = f.repo.backup(
            &mut db,
            &[],
            &[],
            &source(),
            BackupOptions { index_batch_packs: 1, ..Default::default() },
        );
        f.store.heal();
        if r.is_ok() {
            ok_runs += 1;
        }
        // The killed process never released its lock.
        f.repo.unlock(true).unwrap();
        let report = f.repo.check(&read_all()).unwrap();
        assert!(report.ok(), "after a failure at write {n}: {:?}", report.problems);
        let mut target = MemoryDatabase::new();
        f.repo.restore(&first.snapshot.hex(), &mut target, RestoreOptions::default()).unwrap();
    }
    assert!(ok_runs < 10, "fault injection never hit");
    // The next backup succeeds and reuses what the interrupted ones stored.
    let mut db = db_with("docs", schema("docs", 64), changed.clone());
    let last = backup(&f.repo, &mut db);
    assert!(
        last.chunks_new < last.chunks_total / 2,
        "{} of {} chunks new",
        last.chunks_new,
        last.chunks_total
    );
    let mut target = MemoryDatabase::new();
    f.repo.restore("latest", &mut target, RestoreOptions::default()).unwrap();
    assert_eq!(target.points("docs"), normalized(changed));
}

#[test]
fn forget_keeps_what_each_policy_asks_for() {
    let at = |d: u32, h: u32| Utc.with_ymd_and_hms(2024, 1, d, h, 0, 0).unwrap();
    let times = [
        at(1, 1),
        at(1, 9),
        at(2, 3),
        at(2, 23),
        at(5, 12),
        at(8, 8),
        at(9, 1),
        at(9, 2),
        at(15, 6),
        at(31, 23),
    ];
    let snaps: Vec<SnapshotInfo> = times
        .iter()
        .enumerate()
        .map(|(i, t)| SnapshotInfo {
            id: Id([i as u8; 32]),
            time: *t,
            hostname: "h".into(),
            tags: if i % 2 == 0 { vec!["even".into()] } else { vec![] },
            parent: None,
            collections: vec![("docs".into(), 1)],
            stream_bytes: 1,
        })
        .collect();
    let kept = |policy: KeepPolicy| -> Vec<usize> {
        let r = plan_forget(&snaps, &policy, &Utc).unwrap();
        let mut k: Vec<usize> = r.keep.iter().map(|v| v.snapshot.id.0[0] as usize).collect();
        k.sort();
        k
    };
    assert_eq!(kept(KeepPolicy { last: Some(3), ..Default::default() }), vec![7, 8, 9]);
    // Newest of each day: 31, 15, 9 (02:00), 8, 5 -> indices 9, 8, 7, 5, 4.
    assert_eq!(kept(KeepPolicy { daily: Some(5), ..Default::default() }), vec![4, 5, 7, 8, 9]);
    // ISO weeks: Jan 1-7 (idx 0..4, newest 4), 8-14 (5..7, newest 7), 15-21 (8), 29- (9).
    assert_eq!(kept(KeepPolicy { weekly: Some(3), ..Default::default() }), vec![7, 8, 9]);
    assert_eq!(kept(KeepPolicy { weekly: Some(10), ..Default::default() }), vec![4, 7, 8, 9]);
    assert_eq!(
        kept(KeepPolicy { monthly: Some(2), yearly: Some(1), ..Default::default() }),
        vec![9]
    );
    assert_eq!(
        kept(KeepPolicy { hourly: Some(2), last: Some(1), ..Default::default() }),
        vec![8, 9]
    );
    assert_eq!(
        kept(KeepPolicy { within: Some(chrono::Duration::days(17)), ..Default::default() }),
        vec![8, 9]
    );
    // Only "even" snapshots are considered; the rest are neither kept nor removed.
    let r = plan_forget(
        &snaps,
        &KeepPolicy { last: Some(1), tags: vec!["even".into()], ..Default::default() },
        &Utc,
    )
    .unwrap();
    assert_eq!(r.keep.len() + r.remove.len(), 5);
    assert_eq!(r.keep[0].snapshot.id.0[0], 8);
    assert_eq!(r.keep[0].reasons, vec![Reason::Last]);
    assert!(
        plan_forget(&snaps, &KeepPolicy::default(), &Utc).is_err(),
        "an empty policy is refused"
    );
}

#[test]
fn forget_and_prune_free_space_and_keep_every_remaining_snapshot_whole() {
    let f = fixture(small_options());
    for seed in 1..=3 {
        let mut db = db_with("docs", schema("docs", 64), dense_points(2000, 64, seed));
        backup(&f.repo, &mut db);
    }
    let before = f.store.bytes_under("data/");
    let r = f.repo.forget(&KeepPolicy { last: Some(1), ..Default::default() }, false).unwrap();
    assert_eq!((r.keep.len(), r.remove.len()), (1, 2));
    let report = f.repo.prune().unwrap();
    assert!(report.packs_deleted > 0, "{report:?}");
    assert!(f.store.bytes_under("data/") < before / 2);
    assert!(f.repo.check(&read_all()).unwrap().ok());
    let mut target = MemoryDatabase::new();
    f.repo.restore("latest", &mut target, RestoreOptions::default()).unwrap();
    assert_eq!(target.points("docs"), normalized(dense_points(2000, 64, 3)));
}

#[test]
fn prune_never_deletes_what_a_concurrent_backup_needs() {
    let f = fixture(small_options());
    for round in 0..4u64 {
        let mut db = db_with("docs", schema("docs", 64), dense_points(2000, 64, 10 + round));
        backup(&f.repo, &mut db);
        // Forget everything but the newest, then prune while another backup
        // (re-using the forgotten data!) runs.
        f.repo.forget(&KeepPolicy { last: Some(1), ..Default::default() }, false).unwrap();
        let old = dense_points(2000, 64, 10 + round.saturating_sub(1));
        std::thread::scope(|s| {
            let repo = &f.repo;
            let backup_thread = s.spawn(move || {
                let mut db = db_with("docs", schema("docs", 64), old);
                backup(repo, &mut db)
            });
            repo.prune_with(&PruneOptions {
                unindexed_grace: std::time::Duration::ZERO,
                dry_run: false,
            })
            .unwrap();
            backup_thread.join().unwrap();
        });
        let report = f.repo.check(&read_all()).unwrap();
        assert!(report.ok(), "round {round}: {:?}", report.problems);
        for s in f.repo.snapshots().unwrap() {
            let mut target = MemoryDatabase::new();
            f.repo
                .restore(
                    &s.id.hex(),
                    &mut target,
                    RestoreOptions { dry_run: true, ..Default::default() },
                )
                .unwrap();
        }
    }
}

#[test]
fn prune_removes_packs_left_by_interrupted_backups_after_the_grace_period() {
    let f = fixture(small_options());
    let mut db = db_with("docs", schema("docs", 64), dense_points(20000, 64, 1));
    f.store.fail_after(4);
    assert!(
        f.repo
            .backup(
                &mut db,
                &[],
                &[],
                &source(),
                BackupOptions { index_batch_packs: 100, ..Default::default() }
            )
            .is_err()
    );
    f.store.heal();
    f.repo.unlock(true).unwrap();
    assert!(f.store.bytes_under("data/") > 0);
    let kept = f.repo.prune().unwrap();
    assert_eq!(
        kept.unindexed_packs_deleted, 0,
        "young unindexed packs may belong to a running backup"
    );
    let r = f
        .repo
        .prune_with(&PruneOptions { unindexed_grace: std::time::Duration::ZERO, dry_run: false })
        .unwrap();
    assert!(r.unindexed_packs_deleted > 0);
    assert_eq!(f.store.bytes_under("data/"), 0);
    assert!(f.repo.check(&read_all()).unwrap().ok());
}

#[test]
fn a_lock_left_by_a_killed_backup_blocks_prune_clearly_until_stale_and_unlocked() {
    let f = fixture(small_options());
    let mut db = db_with("docs", schema("docs", 64), dense_points(3000, 64, 1));
    backup(&f.repo, &mut db);
    // Dies after writing its lock and a pack: the lock is never released.
    let mut changed = db_with("docs", schema("docs", 64), dense_points(3000, 64, 2));
    f.store.fail_after(2);
    assert!(f.repo.backup(&mut changed, &[], &[], &source(), BackupOptions::default()).is_err());
    f.store.heal();
    let mut repo = f.reopen().unwrap();
    repo.lock_options.wait = std::time::Duration::from_millis(300);
    let locks = repo.locks().unwrap();
    assert_eq!(locks.len(), 1);
    assert!(locks[0].stale.is_none(), "our own live pid within the refresh window is not stale");
    // Backups share; prune's commit needs the lock gone.
    backup(&repo, &mut db);
    f.repo.forget(&KeepPolicy { last: Some(1), ..Default::default() }, false).unwrap();
    let e = repo
        .prune_with(&PruneOptions { unindexed_grace: std::time::Duration::ZERO, dry_run: false })
        .unwrap_err();
    assert!(e.to_string().contains("vdr unlock"), "{e}");
    assert_eq!(
        repo.unlock(false).unwrap().len(),
        0,
        "a live lock is not removed without --remove-all"
    );
    repo.lock_options.stale_after = std::time::Duration::ZERO;
    let locks = repo.locks().unwrap();
    assert!(locks[0].stale.is_some());
    assert!(
        repo.check(&CheckOptions { read_data: ReadData::None })
            .unwrap()
            .notes
            .iter()
            .any(|n| n.contains("stale"))
    );
    assert_eq!(repo.unlock(false).unwrap().len(), 1);
    repo.prune_with(&PruneOptions { unindexed_grace: std::time::Duration::ZERO, dry_run: false })
        .unwrap();
    assert!(repo.locks().unwrap().is_empty());
    assert!(repo.check(&read_all()).unwrap().ok());
}

/// A store that counts the snapshot objects read from it, and reports as
/// modification time its own count of writes (divided by `coarse`: many
/// objects then share one time, as objects written in one second do in S3).
struct CountingStore {
    inner: std::sync::Arc<vdr_model::testing::MemoryStore>,
    snapshot_reads: std::sync::atomic::AtomicUsize,
    written: std::sync::Mutex<std::collections::HashMap<String, u64>>,
    coarse: u64,
}

impl CountingStore {
    fn new(inner: std::sync::Arc<vdr_model::testing::MemoryStore>, coarse: u64) -> Self {
        CountingStore {
            inner,
            snapshot_reads: Default::default(),
            written: Default::default(),
            coarse,
        }
    }
    fn reads(&self) -> usize {
        self.snapshot_reads.swap(0, std::sync::atomic::Ordering::SeqCst)
    }
}

impl vdr_model::ObjectStore for CountingStore {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn put(&self, key: &str, data: &[u8], if_absent: bool) -> vdr_model::Result<()> {
        self.inner.put(key, data, if_absent)?;
        let mut written = self.written.lock().unwrap();
        let tick = written.len() as u64 + 1;
        written.insert(key.to_string(), tick);
        Ok(())
    }
    fn get(
        &self,
        key: &str,
        range: Option<vdr_model::ByteRange>,
        version: Option<&str>,
    ) -> vdr_model::Result<Vec<u8>> {
        if key.starts_with("snapshots/") {
            self.snapshot_reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        self.inner.get(key, range, version)
    }
    fn stat(&self, key: &str) -> vdr_model::Result<vdr_model::ObjectMeta> {
        self.inner.stat(key)
    }
    fn list(
        &self,
        prefix: &str,
        token: Option<String>,
        size: u32,
    ) -> vdr_model::Result<vdr_model::ListPage> {
        let mut page = self.inner.list(prefix, token, size)?;
        let written = self.written.lock().unwrap();
        for o in &mut page.objects {
            o.modified_ms = 1 + written.get(&o.key).copied().unwrap_or(0) / self.coarse;
        }
        Ok(page)
    }
    fn delete(&self, key: &str) -> vdr_model::Result<()> {
        self.inner.delete(key)
    }
    fn start_multipart<'a>(
        &'a self,
        key: &str,
    ) -> vdr_model::Result<Box<dyn vdr_model::MultipartUpload + 'a>> {
        self.inner.start_multipart(key)
    }
    fn list_versions(
        &self,
        prefix: &str,
        token: Option<String>,
        size: u32,
    ) -> vdr_model::Result<vdr_model::VersionPage> {
        self.inner.list_versions(prefix, token, size)
    }
}

/// A repository over a `CountingStore`, with a collection backed up once
/// (its snapshot the oldest) and another backed up `NEWEST_BATCH + 3` times.
fn history(
    coarse: u64,
) -> (std::sync::Arc<CountingStore>, Repository, MemoryDatabase, MemoryDatabase, Id) {
    let f = fixture(small_options());
    let counting = std::sync::Arc::new(CountingStore::new(f.store.clone(), coarse));
    let repo = Repository::open(
        counting.clone(),
        &Credentials::from_identity_text(&f.identity, "id.txt").unwrap(),
    )
    .unwrap();
    let mut docs = db_with("docs", schema("docs", 16), dense_points(300, 16, 1));
    let mut notes = db_with("notes", schema("notes", 16), dense_points(200, 16, 2));
    let notes_snapshot = backup(&repo, &mut notes).snapshot;
    for _ in 0..NEWEST_BATCH + 3 {
        backup(&repo, &mut docs);
    }
    (counting, repo, docs, notes, notes_snapshot)
}

#[test]
fn a_backup_reads_the_newest_snapshots_it_needs_not_the_whole_history() {
    let (counting, repo, mut docs, mut notes, notes_snapshot) = history(1);

    // The parent is among the newest: one batch is read, not the history.
    let last_docs = repo.snapshots().unwrap().last().unwrap().id;
    counting.reads();
    let next = backup(&repo, &mut docs);
    assert_eq!(counting.reads(), NEWEST_BATCH);
    assert_eq!(next.collections[0].mode, "changes", "the newest entry is the feed's parent");
    assert_eq!(repo.snapshot(&next.snapshot.to_string(), None).unwrap().parent, Some(last_docs));

    // The parent is the oldest snapshot: every batch up to it is read, and
    // it is still the one chosen.
    counting.reads();
    let next = backup(&repo, &mut notes).snapshot;
    assert_eq!(counting.reads(), repo.snapshots().unwrap().len() - 1, "all but the new one");
    assert_eq!(repo.snapshot(&next.to_string(), None).unwrap().parent, Some(notes_snapshot));
}

#[test]
fn snapshots_sharing_the_store_time_of_the_last_read_are_read_too() {
    // Every write shares one store time.
    let (counting, repo, mut docs, _, _) = history(u64::MAX);
    let last_docs = repo.snapshots().unwrap().last().unwrap().id;
    counting.reads();
    let next = backup(&repo, &mut docs).snapshot;
    assert_eq!(counting.reads(), NEWEST_BATCH + 4, "every snapshot");
    assert_eq!(repo.snapshot(&next.to_string(), None).unwrap().parent, Some(last_docs));
}
