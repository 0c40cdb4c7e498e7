//! Wrappers written once and put around every storage plugin: retries with
//! exponential backoff and full jitter for transient failures, and fault
//! injection for drills (`chaos: fail-storage`).

use crate::{
    ByteRange, Error, ErrorKind, ListPage, MultipartUpload, ObjectMeta, ObjectStore, Result,
    VersionPage,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How transient failures are retried.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 6, base: Duration::from_millis(50), cap: Duration::from_secs(5) }
    }
}

/// A small, lock-free pseudo-random source for jitter and fault choice.
struct Dice(AtomicU64);

impl Dice {
    fn new(seed: u64) -> Dice {
        Dice(AtomicU64::new(seed | 1))
    }
    /// Uniform in [0, 1).
    fn roll(&self) -> f64 {
        // xorshift64*, advanced atomically so threads draw different numbers.
        let mut x = self.0.load(Ordering::Relaxed);
        loop {
            let mut y = x;
            y ^= y >> 12;
            y ^= y << 25;
            y ^= y >> 27;
            match self.0.compare_exchange_weak(x, y, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => {
                    return (y.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64
                        / (1u64 << 53) as f64;
                }
                Err(now) => x = now,
            }
        }
    }
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    t.as_nanos() as u64 ^ (std::process::id() as u64).rotate_left(32)
}

/// Retries `Unavailable` errors (timeouts, resets, 429, 5xx as classified by
/// the plugin); every other error — a wrong secret above all — returns at once.
pub struct RetryingStore<S> {
    inner: S,
    policy: RetryPolicy,
    dice: Dice,
    retries: AtomicU64,
}

impl<S: ObjectStore> RetryingStore<S> {
    pub fn new(inner: S, policy: RetryPolicy) -> Self {
        RetryingStore { inner, policy, dice: Dice::new(seed()), retries: AtomicU64::new(0) }
    }

    /// Retries made so far (for reports and metrics).
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    fn retry<T>(&self, what: &str, mut f: impl FnMut() -> Result<T>) -> Result<T> {
        retry_with(&self.policy, &self.dice, &self.retries, what, &mut f)
    }
}

fn retry_with<T>(
    policy: &RetryPolicy,
    dice: &Dice,
    count: &AtomicU64,
    what: &str,
    f: &mut dyn FnMut() -> Result<T>,
) -> Result<T> {
    let mut attempt = 0;
    loop {
        match f() {
            Err(e) if e.is_retryable() && attempt + 1 < policy.attempts => {
                attempt += 1;
                count.fetch_add(1, Ordering::Relaxed);
                let ceiling = policy.base.saturating_mul(1 << attempt.min(16)).min(policy.cap);
                let pause = ceiling.mul_f64(dice.roll());
                tracing::debug!("{what}: {e}; retry {attempt} in {pause:?}");
                std::thread::sleep(pause);
            }
            Err(e) if e.is_retryable() => {
                return Err(Error {
                    message: format!("{} (gave up after {} attempts)", e.message, attempt + 1),
                    ..e
                });
            }
            other => return other,
        }
    }
}

impl<S: ObjectStore> ObjectStore for RetryingStore<S> {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn put(&self, key: &str, data: &[u8], if_absent: bool) -> Result<()> {
        self.retry("put", || self.inner.put(key, data, if_absent))
    }
    fn get(&self, key: &str, range: Option<ByteRange>, version: Option<&str>) -> Result<Vec<u8>> {
        self.retry("get", || self.inner.get(key, range, version))
    }
    fn stat(&self, key: &str) -> Result<ObjectMeta> {
        self.retry("stat", || self.inner.stat(key))
    }
    fn list(&self, prefix: &str, page_token: Option<String>, page_size: u32) -> Result<ListPage> {
        self.retry("list", || self.inner.list(prefix, page_token.clone(), page_size))
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.retry("delete", || self.inner.delete(key))
    }
    fn start_multipart<'a>(&'a self, key: &str) -> Result<Box<dyn MultipartUpload + 'a>> {
        let upload = self.retry("start-multipart", || self.inner.start_multipart(key))?;
        Ok(Box::new(RetryingUpload { inner: Some(upload), store: self }))
    }
    fn list_versions(
        &self,
        prefix: &str,
        page_token: Option<String>,
        page_size: u32,
    ) -> Result<VersionPage> {
        self.retry("list-versions", || {
            self.inner.list_versions(prefix, page_token.clone(), page_size)
        })
    }
}

struct RetryingUpload<'a, S> {
    inner: Option<Box<dyn MultipartUpload + 'a>>,
    store: &'a RetryingStore<S>,
}

impl<S: ObjectStore> MultipartUpload for RetryingUpload<'_, S> {
    fn put_part(&mut self, number: u32, data: &[u8]) -> Result<()> {
        let up = self.inner.as_mut().ok_or_else(|| Error::internal("upload already finished"))?;
        let s = self.store;
        retry_with(&s.policy, &s.dice, &s.retries, "put-part", &mut || up.put_part(number, data))
    }
    fn complete(mut self: Box<Self>) -> Result<()> {
        self.inner.take().ok_or_else(|| Error::internal("upload already finished"))?.complete()
    }
    fn abort(mut self: Box<Self>) -> Result<()> {
        self.inner.take().ok_or_else(|| Error::internal("upload already finished"))?.abort()
    }
}

/// Fails a fraction of calls with `Unavailable` before they reach the store
/// (so a failed call has no effect), for drills and tests.
pub struct FaultyStore<S> {
    inner: S,
    fraction: f64,
    dice: Dice,
    injected: AtomicU64,
}

impl<S: ObjectStore> FaultyStore<S> {
    pub fn new(inner: S, fraction: f64) -> Self {
        FaultyStore {
            inner,
            fraction: fraction.clamp(0.0, 1.0),
            dice: Dice::new(seed()),
            injected: AtomicU64::new(0),
        }
    }
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }
    fn gate(&self, what: &str) -> Result<()> {
        if self.dice.roll() < self.fraction {
            self.injected.fetch_add(1, Ordering::Relaxed);
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!("{what}: injected storage fault"),
            ));
        }
        Ok(())
    }
}

impl<S: ObjectStore> ObjectStore for FaultyStore<S> {
    fn describe(&self) -> String {
        format!("{} (failing {:.0}% of calls)", self.inner.describe(), self.fraction * 100.0)
    }
    fn put(&self, key: &str, data: &[u8], if_absent: bool) -> Result<()> {
        self.gate("put")?;
        self.inner.put(key, data, if_absent)
    }
    fn get(&self, key: &str, range: Option<ByteRange>, version: Option<&str>) -> Result<Vec<u8>> {
        self.gate("get")?;
        self.inner.get(key, range, version)
    }
    fn stat(&self, key: &str) -> Result<ObjectMeta> {
        self.gate("stat")?;
        self.inner.stat(key)
    }
    fn list(&self, prefix: &str, page_token: Option<String>, page_size: u32) -> Result<ListPage> {
        self.gate("list")?;
        self.inner.list(prefix, page_token, page_size)
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.gate("delete")?;
        self.inner.delete(key)
    }
    fn start_multipart<'a>(&'a self, key: &str) -> Result<Box<dyn MultipartUpload + 'a>> {
        self.gate("start-multipart")?;
        self.inner.start_multipart(key)
    }
    fn list_versions(
        &self,
        prefix: &str,
        page_token: Option<String>,
        page_size: u32,
    ) -> Result<VersionPage> {
        self.gate("list-versions")?;
        self.inner.list_versions(prefix, page_token, page_size)
    }
}

impl<T: ObjectStore + ?Sized> ObjectStore for std::sync::Arc<T> {
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn put(&self, key: &str, data: &[u8], if_absent: bool) -> Result<()> {
        (**self).put(key, data, if_absent)
    }
    fn get(&self, key: &str, range: Option<ByteRange>, version: Option<&str>) -> Result<Vec<u8>> {
        (**self).get(key, range, version)
    }
    fn stat(&self, key: &str) -> Result<ObjectMeta> {
        (**self).stat(key)
    }
    fn list(&self, prefix: &str, page_token: Option<String>, page_size: u32) -> Result<ListPage> {
        (**self).list(prefix, page_token, page_size)
    }
    fn delete(&self, key: &str) -> Result<()> {
        (**self).delete(key)
    }
    fn start_multipart<'a>(&'a self, key: &str) -> Result<Box<dyn MultipartUpload + 'a>> {
        (**self).start_multipart(key)
    }
    fn list_versions(
        &self,
        prefix: &str,
        page_token: Option<String>,
        page_size: u32,
    ) -> Result<VersionPage> {
        (**self).list_versions(prefix, page_token, page_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A store whose first `fail` calls return `kind`.
    struct Flaky {
        fail: Mutex<u32>,
        kind: ErrorKind,
        calls: AtomicU64,
    }

    impl ObjectStore for Flaky {
        fn describe(&self) -> String {
            "flaky".into()
        }
        fn put(&self, _: &str, _: &[u8], _: bool) -> Result<()> {
            unimplemented!()
        }
        fn get(&self, _: &str, _: Option<ByteRange>, _: Option<&str>) -> Result<Vec<u8>> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            let mut f = self.fail.lock().unwrap();
            if *f > 0 {
                *f -= 1;
                return Err(Error::new(self.kind, "boom"));
            }
            Ok(b"ok".to_vec())
        }
        fn stat(&self, _: &str) -> Result<ObjectMeta> {
            unimplemented!()
        }
        fn list(&self, _: &str, _: Option<String>, _: u32) -> Result<ListPage> {
            unimplemented!()
        }
        fn delete(&self, _: &str) -> Result<()> {
            unimplemented!()
        }
        fn start_multipart<'a>(&'a self, _: &str) -> Result<Box<dyn MultipartUpload + 'a>> {
            unimplemented!()
        }
        fn list_versions(&self, _: &str, _: Option<String>, _: u32) -> Result<VersionPage> {
            unimplemented!()
        }
    }

    fn flaky(fail: u32, kind: ErrorKind) -> Flaky {
        Flaky { fail: Mutex::new(fail), kind, calls: AtomicU64::new(0) }
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            attempts: 4,
            base: Duration::from_micros(10),
            cap: Duration::from_micros(100),
        }
    }

    #[test]
    fn transient_failures_are_retried_until_they_pass() {
        let s = RetryingStore::new(flaky(3, ErrorKind::Unavailable), fast());
        assert_eq!(s.get("k", None, None).unwrap(), b"ok");
        assert_eq!(s.retries(), 3);
    }

    #[test]
    fn retries_give_up_after_the_policy_and_say_so() {
        let s = RetryingStore::new(flaky(10, ErrorKind::Unavailable), fast());
        let e = s.get("k", None, None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(e.message.contains("gave up after 4 attempts"), "{e}");
    }

    #[test]
    fn a_wrong_secret_is_not_retried() {
        let s = RetryingStore::new(flaky(10, ErrorKind::Unauthorized), fast());
        assert_eq!(s.get("k", None, None).unwrap_err().kind, ErrorKind::Unauthorized);
        assert_eq!(s.inner.calls.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn injected_faults_hit_about_the_asked_fraction_and_retries_absorb_them() {
        let faulty = FaultyStore::new(flaky(0, ErrorKind::Unavailable), 0.3);
        let s = RetryingStore::new(faulty, RetryPolicy { attempts: 20, ..fast() });
        for _ in 0..1000 {
            assert_eq!(s.get("k", None, None).unwrap(), b"ok");
        }
        let injected = s.inner.injected() as f64;
        let calls = s.inner.inner.calls.load(Ordering::Relaxed) as f64 + injected;
        let rate = injected / calls;
        assert!((0.2..0.4).contains(&rate), "injected {rate}");
    }
}
