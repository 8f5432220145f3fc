//! A crash at any instant leaves nothing that cleanup cannot repair: the filesystem
//! store's stranded temporary files and S3's unfinished multipart uploads are removed by
//! `reclaim_incomplete_writes` once old enough, and writes still in flight are not.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use storage::{CachingStore, DynStore, Key, KeyPrefix, S3Store, StorageUrl, StoreTimeouts};
use tests::{S3Server, stored_keys};

fn key(s: &str) -> Key {
    Key::new(s).unwrap()
}

/// Writes `path` with `len` bytes, last modified `age` ago.
fn temp_file(path: &Path, len: usize, age: Duration) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, vec![0u8; len]).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

/// The objects and the folders of `outputs/`, as listings show them.
async fn visible(store: &DynStore) -> (Vec<String>, Vec<String>) {
    let folders = storage::list_all(store.as_ref(), &KeyPrefix::new("outputs").unwrap(), true)
        .await
        .unwrap()
        .common_prefixes
        .iter()
        .map(ToString::to_string)
        .collect();
    (stored_keys(store.as_ref(), "").await, folders)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_removes_only_stale_temporary_files_and_the_folders_they_leave_empty() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let url: StorageUrl = format!("file://{}", root.display()).parse().unwrap();
    let opened = storage::open(
        &url,
        &storage::S3Settings::default(),
        &StoreTimeouts::default(),
    )
    .await
    .unwrap();
    // Through both wrappers the service puts around a store.
    let store: DynStore = Arc::new(CachingStore::new(
        opened,
        Duration::from_secs(60),
        Duration::from_secs(600),
    ));
    store
        .put(&key("outputs/book/a.wav"), Bytes::from_static(b"audio"))
        .await
        .unwrap();
    let hour = Duration::from_secs(3600);
    // Crashes long ago: one beside an object, one alone in a folder of its own.
    temp_file(&root.join("outputs/book/.tmp-stale"), 1000, hour);
    temp_file(&root.join("outputs/gone/deeper/.tmp-x"), 234, hour);
    // A write in flight in another process.
    temp_file(&root.join("outputs/book/.tmp-fresh"), 10, Duration::ZERO);
    // Not the store's: an old file that is not a temporary file, one in a hidden folder.
    temp_file(&root.join("outputs/book/.notes"), 5, hour);
    temp_file(&root.join(".trash/.tmp-old"), 5, hour);
    // A folder created for a write that crashed before its file, and one for a write
    // about to happen.
    std::fs::create_dir_all(root.join("outputs/abandoned")).unwrap();
    std::fs::File::open(root.join("outputs/abandoned"))
        .unwrap()
        .set_modified(SystemTime::now() - hour)
        .unwrap();
    std::fs::create_dir_all(root.join("outputs/new-folder")).unwrap();

    let expected = (
        vec!["outputs/book/a.wav".to_owned()],
        vec!["outputs/book/".to_owned()],
    );
    assert_eq!(
        visible(&store).await,
        expected,
        "temporary files are never listed"
    );

    let report = store
        .reclaim_incomplete_writes(Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        report.temporary_files_removed,
        ["outputs/book/.tmp-stale", "outputs/gone/deeper/.tmp-x"]
    );
    assert!(report.multipart_uploads_aborted.is_empty());
    assert_eq!(report.bytes_freed, 1234);
    assert!(!root.join("outputs/book/.tmp-stale").exists());
    assert!(root.join("outputs/book/.tmp-fresh").exists());
    assert!(root.join("outputs/book/.notes").exists());
    assert!(root.join(".trash/.tmp-old").exists());
    assert!(
        !root.join("outputs/gone").exists(),
        "emptied folders are pruned"
    );
    assert!(
        !root.join("outputs/abandoned").exists(),
        "stale empty folders too"
    );
    assert!(
        root.join("outputs/new-folder").exists(),
        "fresh ones are kept"
    );
    assert_eq!(visible(&store).await, expected);
    assert_eq!(
        store.get(&key("outputs/book/a.wav")).await.unwrap(),
        Bytes::from_static(b"audio")
    );

    // Nothing is left to do a second time.
    let again = store
        .reclaim_incomplete_writes(Duration::from_secs(60))
        .await
        .unwrap();
    assert!(again.temporary_files_removed.is_empty(), "{again:?}");
}

/// Sets the modification time of the directory `dir` to `age` ago.
fn age_dir(dir: &Path, age: Duration) {
    std::fs::File::open(dir)
        .unwrap()
        .set_modified(SystemTime::now() - age)
        .unwrap();
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_cleanup_keeps_lock_files_and_prunes_folders_left_with_an_unheld_one() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = storage::FsStore::open(root).await.unwrap();
    let hour = Duration::from_secs(3600);
    // Every write locks its folder through a hidden lock file.
    storage::ObjectStore::put(&store, &key("outputs/kept/a.wav"), Bytes::from_static(b"a"))
        .await
        .unwrap();
    assert!(root.join("outputs/kept/.lock").is_file());
    // Folders holding nothing but a lock file and a stale temporary file: one whose lock
    // nobody holds, one whose lock another process holds (a write under way).
    for name in ["idle", "busy"] {
        std::fs::create_dir_all(root.join("outputs").join(name)).unwrap();
        std::fs::write(root.join("outputs").join(name).join(".lock"), b"").unwrap();
        temp_file(&root.join("outputs").join(name).join(".tmp-x"), 1, hour);
    }
    let held = std::fs::File::open(root.join("outputs/busy/.lock")).unwrap();
    held.lock().unwrap();
    // And a folder holding only an unheld lock file, long unchanged.
    std::fs::create_dir_all(root.join("outputs/old")).unwrap();
    std::fs::write(root.join("outputs/old/.lock"), b"").unwrap();
    age_dir(&root.join("outputs/old"), hour);

    let report = storage::ObjectStore::reclaim_incomplete_writes(&store, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        report.temporary_files_removed,
        ["outputs/busy/.tmp-x", "outputs/idle/.tmp-x"]
    );
    assert!(
        root.join("outputs/kept/.lock").is_file(),
        "lock files are never reclaimed"
    );
    assert!(
        !root.join("outputs/idle").exists(),
        "only an unheld lock file was left"
    );
    assert!(
        !root.join("outputs/old").exists(),
        "a stale folder with only its lock file"
    );
    assert!(
        root.join("outputs/busy/.lock").is_file(),
        "a held lock keeps its folder"
    );
    drop(held);
    // Deleting the last object prunes the folder, lock file and all.
    storage::ObjectStore::delete(&store, &key("outputs/kept/a.wav"))
        .await
        .unwrap();
    assert!(!root.join("outputs/kept").exists());
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_does_not_follow_symbolic_links() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    temp_file(
        &outside.path().join(".tmp-victim"),
        1,
        Duration::from_secs(3600),
    );
    let store = storage::FsStore::open(dir.path()).await.unwrap();
    std::fs::create_dir_all(dir.path().join("outputs")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("outputs/link")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join(".tmp-victim"),
        dir.path().join("outputs/.tmp-link"),
    )
    .unwrap();
    let report = storage::ObjectStore::reclaim_incomplete_writes(&store, Duration::ZERO)
        .await
        .unwrap();
    assert!(report.temporary_files_removed.is_empty(), "{report:?}");
    assert!(outside.path().join(".tmp-victim").exists());
}

/// The uploads in progress under `prefix`, as `(key, upload id)`.
async fn uploads(store: &S3Store, prefix: &str) -> Vec<(String, String)> {
    let page = store
        .client()
        .list_multipart_uploads()
        .bucket(S3Server::BUCKET)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    page.uploads()
        .iter()
        .map(|u| {
            (
                u.key().unwrap_or_default().to_owned(),
                u.upload_id().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Starts a multipart upload of `full_key` with one part of `part_len` bytes, as a
/// writer that then crashed would leave it.
async fn start_upload(store: &S3Store, full_key: &str, part_len: usize) -> String {
    let created = store
        .client()
        .create_multipart_upload()
        .bucket(S3Server::BUCKET)
        .key(full_key)
        .send()
        .await
        .unwrap();
    let upload_id = created.upload_id().unwrap().to_owned();
    store
        .client()
        .upload_part()
        .bucket(S3Server::BUCKET)
        .key(full_key)
        .upload_id(&upload_id)
        .part_number(1)
        .body(vec![1u8; part_len].into())
        .send()
        .await
        .unwrap();
    upload_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_aborts_stale_multipart_uploads_under_its_prefix() {
    let server = S3Server::start();
    let store = S3Store::connect(
        S3Server::BUCKET,
        &KeyPrefix::new("speech").unwrap(),
        &server.settings(),
    )
    .await
    .unwrap();
    let stale = start_upload(&store, "speech/outputs/big.wav", 1234).await;
    let foreign = start_upload(&store, "other/x.wav", 10).await;
    assert_eq!(
        uploads(&store, "speech/").await,
        [("speech/outputs/big.wav".to_owned(), stale)]
    );
    assert!(
        stored_keys(&store, "").await.is_empty(),
        "uploads are never listed"
    );

    let report = storage::ObjectStore::reclaim_incomplete_writes(&store, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(report.multipart_uploads_aborted, ["outputs/big.wav"]);
    assert!(report.temporary_files_removed.is_empty());
    assert_eq!(report.bytes_freed, 1234);
    assert!(uploads(&store, "speech/").await.is_empty());
    assert_eq!(
        uploads(&store, "").await,
        [("other/x.wav".to_owned(), foreign)],
        "uploads outside the store's prefix are not its own"
    );

    // A write in flight survives a cleanup that only takes what is an hour old.
    let fresh = start_upload(&store, "speech/outputs/now.wav", 10).await;
    let report = storage::ObjectStore::reclaim_incomplete_writes(&store, Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(report.multipart_uploads_aborted.is_empty(), "{report:?}");
    assert_eq!(
        uploads(&store, "speech/").await,
        [("speech/outputs/now.wav".to_owned(), fresh)]
    );
}

/// The test server's `ListMultipartUploads` pages by key, then upload id, like S3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_server_pages_multipart_uploads() {
    let server = S3Server::start();
    let store = S3Store::connect(S3Server::BUCKET, &KeyPrefix::root(), &server.settings())
        .await
        .unwrap();
    let mut expected = Vec::new();
    for name in ["b.wav", "a.wav", "b.wav"] {
        let id = start_upload(&store, &format!("pages/{name}"), 1).await;
        expected.push((format!("pages/{name}"), id));
    }
    expected.sort();
    let mut seen = Vec::new();
    let (mut key_marker, mut id_marker) = (None, None);
    for _ in 0..3 {
        let page = store
            .client()
            .list_multipart_uploads()
            .bucket(S3Server::BUCKET)
            .prefix("pages/")
            .max_uploads(2)
            .set_key_marker(key_marker.take())
            .set_upload_id_marker(id_marker.take())
            .send()
            .await
            .unwrap();
        seen.extend(page.uploads().iter().map(|u| {
            (
                u.key().unwrap().to_owned(),
                u.upload_id().unwrap().to_owned(),
            )
        }));
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        id_marker = page.next_upload_id_marker().map(str::to_owned);
    }
    assert_eq!(seen, expected);
    let page = store
        .client()
        .list_multipart_uploads()
        .bucket(S3Server::BUCKET)
        .prefix("pages/")
        .send()
        .await
        .unwrap();
    assert!(page.uploads().iter().all(|u| u.initiated().is_some()));
}
