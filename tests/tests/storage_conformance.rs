//! One conformance suite for every storage backend: memory, filesystem and a real S3
//! server on loopback. Each function is one behaviour the service relies on.

// Test helpers outside #[test] functions unwrap too: a failed step ends the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use futures::TryStreamExt;
use storage::{Error, Key, KeyPrefix, ListOptions, ObjectStore, Precondition};
use tests::stored_keys;
use tests::{Backend, for_each_backend};

fn key(s: &str) -> Key {
    Key::new(s).unwrap()
}

fn prefix(s: &str) -> KeyPrefix {
    KeyPrefix::new(s).unwrap()
}

async fn put_then_get_returns_the_same_bytes(b: Backend) {
    let store = b.store.as_ref();
    let before = chrono::Utc::now() - chrono::Duration::seconds(5);
    let meta = store
        .put(&key("voices/a.wav"), Bytes::from_static(b"hello world"))
        .await
        .unwrap();
    assert_eq!(meta.size, 11);
    assert_eq!(
        store.get(&key("voices/a.wav")).await.unwrap(),
        Bytes::from_static(b"hello world")
    );
    let head = store.head(&key("voices/a.wav")).await.unwrap();
    assert_eq!(head.size, 11);
    assert!(
        head.last_modified > before,
        "last_modified {} is not recent",
        head.last_modified
    );
}

async fn put_replaces_an_existing_object(b: Backend) {
    let store = b.store.as_ref();
    store
        .put(&key("outputs/x.wav"), Bytes::from_static(b"first version"))
        .await
        .unwrap();
    store
        .put(&key("outputs/x.wav"), Bytes::from_static(b"second"))
        .await
        .unwrap();
    assert_eq!(
        store.get(&key("outputs/x.wav")).await.unwrap(),
        Bytes::from_static(b"second")
    );
    assert_eq!(store.head(&key("outputs/x.wav")).await.unwrap().size, 6);
    assert_eq!(stored_keys(store, "outputs").await, ["outputs/x.wav"]);
}

async fn missing_objects_are_not_found(b: Backend) {
    let store = b.store.as_ref();
    let missing = key("voices/missing.wav");
    assert!(matches!(
        store.get(&missing).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.head(&missing).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.get_stream(&missing, None).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.copy(&missing, &key("voices/b.wav")).await,
        Err(Error::NotFound { .. })
    ));
    // A folder is not an object.
    store
        .put(&key("voices/dir/a.wav"), Bytes::from_static(b"x"))
        .await
        .unwrap();
    assert!(store.head(&key("voices/dir")).await.is_err());
}

async fn deletes_are_idempotent(b: Backend) {
    let store = b.store.as_ref();
    store
        .put(&key("voices/a.wav"), Bytes::from_static(b"a"))
        .await
        .unwrap();
    store.delete(&key("voices/a.wav")).await.unwrap();
    store.delete(&key("voices/a.wav")).await.unwrap();
    assert!(
        store
            .head(&key("voices/a.wav"))
            .await
            .unwrap_err()
            .is_not_found()
    );
}

async fn delete_many_removes_every_key_and_ignores_missing_ones(b: Backend) {
    let store = b.store.as_ref();
    for name in ["a", "b", "c", "d"] {
        store
            .put(
                &key(&format!("outputs/p/{name}.wav")),
                Bytes::from_static(b"x"),
            )
            .await
            .unwrap();
    }
    store
        .delete_many(&[
            key("outputs/p/a.wav"),
            key("outputs/p/c.wav"),
            key("outputs/p/never.wav"),
        ])
        .await
        .unwrap();
    assert_eq!(
        stored_keys(store, "outputs").await,
        ["outputs/p/b.wav", "outputs/p/d.wav"]
    );
    store.delete_many(&[]).await.unwrap();
}

async fn recursive_listing_is_sorted_and_stays_under_the_prefix(b: Backend) {
    let store = b.store.as_ref();
    for k in [
        "outputs/b.wav",
        "outputs/a/z.wav",
        "outputs/a.wav",
        "outputs2/x.wav",
        "voices/v.wav",
        "outputs/a/b/c.wav",
    ] {
        store.put(&key(k), Bytes::from_static(b"x")).await.unwrap();
    }
    assert_eq!(
        stored_keys(store, "outputs").await,
        [
            "outputs/a.wav",
            "outputs/a/b/c.wav",
            "outputs/a/z.wav",
            "outputs/b.wav"
        ]
    );
    assert_eq!(
        stored_keys(store, "outputs/a").await,
        ["outputs/a/b/c.wav", "outputs/a/z.wav"]
    );
    assert!(stored_keys(store, "nothing").await.is_empty());
    assert_eq!(stored_keys(store, "").await.len(), 6);
}

async fn delimiter_listing_groups_folders(b: Backend) {
    let store = b.store.as_ref();
    for k in [
        "voices/a.wav",
        "voices/en/b.wav",
        "voices/en/deep/c.wav",
        "voices/fr/d.wav",
        "voices/z.wav",
    ] {
        store.put(&key(k), Bytes::from_static(b"x")).await.unwrap();
    }
    let listing = storage::list_all(store, &prefix("voices"), true)
        .await
        .unwrap();
    let objects: Vec<&str> = listing.objects.iter().map(|o| o.key.as_str()).collect();
    let folders: Vec<&str> = listing
        .common_prefixes
        .iter()
        .map(KeyPrefix::as_str)
        .collect();
    assert_eq!(objects, ["voices/a.wav", "voices/z.wav"]);
    assert_eq!(folders, ["voices/en/", "voices/fr/"]);
}

async fn pages_follow_continuation_tokens(b: Backend) {
    let store = b.store.as_ref();
    let names: Vec<String> = (0..7).map(|i| format!("outputs/f{i:02}.wav")).collect();
    for name in &names {
        store
            .put(&key(name), Bytes::from_static(b"x"))
            .await
            .unwrap();
    }
    store
        .put(&key("outputs/sub/one.wav"), Bytes::from_static(b"x"))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut continuation = None;
    loop {
        let page = store
            .list(
                &prefix("outputs"),
                ListOptions {
                    delimiter: true,
                    continuation,
                    max_keys: Some(3),
                },
            )
            .await
            .unwrap();
        pages += 1;
        assert!(page.objects.len() + page.common_prefixes.len() <= 3);
        seen.extend(page.objects.iter().map(|o| o.key.to_string()));
        seen.extend(page.common_prefixes.iter().map(|p| p.to_string()));
        match page.next_continuation {
            Some(token) => continuation = Some(token),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut expected = names.clone();
    expected.push("outputs/sub/".into());
    seen.sort();
    assert_eq!(seen, expected);
}

async fn ranged_reads_return_exactly_the_range(b: Backend) {
    let store = b.store.as_ref();
    let data: Vec<u8> = (0..=255u8).cycle().take(200_000).collect();
    store
        .put(&key("outputs/r.bin.wav"), Bytes::from(data.clone()))
        .await
        .unwrap();
    let stream = store
        .get_stream(&key("outputs/r.bin.wav"), Some(1000..151_000))
        .await
        .unwrap();
    assert_eq!(stream.range, 1000..151_000);
    assert_eq!(stream.meta.size, 200_000);
    let chunks: Vec<Bytes> = stream.body.try_collect().await.unwrap();
    let got: Vec<u8> = chunks.concat();
    assert_eq!(got, &data[1000..151_000]);
    let empty = store
        .get_stream(&key("outputs/r.bin.wav"), Some(5..5))
        .await
        .unwrap();
    assert!(
        empty
            .body
            .try_collect::<Vec<Bytes>>()
            .await
            .unwrap()
            .concat()
            .is_empty()
    );
    assert!(matches!(
        store
            .get_stream(&key("outputs/r.bin.wav"), Some(199_000..200_001))
            .await,
        Err(Error::InvalidRange { size: 200_000, .. })
    ));
}

async fn copy_and_rename_move_content(b: Backend) {
    let store = b.store.as_ref();
    store
        .put(&key("voices/a.wav"), Bytes::from_static(b"voice"))
        .await
        .unwrap();
    store
        .copy(&key("voices/a.wav"), &key("voices/copies/a.wav"))
        .await
        .unwrap();
    assert_eq!(
        store.get(&key("voices/copies/a.wav")).await.unwrap(),
        Bytes::from_static(b"voice")
    );
    store
        .rename(&key("voices/a.wav"), &key("voices/moved/deeper/b.wav"))
        .await
        .unwrap();
    assert!(
        store
            .head(&key("voices/a.wav"))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        store.get(&key("voices/moved/deeper/b.wav")).await.unwrap(),
        Bytes::from_static(b"voice")
    );
    assert_eq!(
        stored_keys(store, "voices").await,
        ["voices/copies/a.wav", "voices/moved/deeper/b.wav"]
    );
}

async fn large_objects_round_trip(b: Backend) {
    let store = b.store.as_ref();
    // Over the S3 backend's multipart threshold (16 MiB) and not a multiple of its part size.
    let data: Vec<u8> = (0..20 * 1024 * 1024 + 12_345)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    store
        .put(&key("outputs/big.wav"), Bytes::from(data.clone()))
        .await
        .unwrap();
    assert_eq!(
        store.head(&key("outputs/big.wav")).await.unwrap().size,
        data.len() as u64
    );
    assert!(
        store.get(&key("outputs/big.wav")).await.unwrap() == data,
        "large object content differs"
    );
}

async fn zero_byte_objects_are_listed_with_size_zero(b: Backend) {
    let store = b.store.as_ref();
    store
        .put(&key("outputs/empty.wav"), Bytes::new())
        .await
        .unwrap();
    assert_eq!(store.head(&key("outputs/empty.wav")).await.unwrap().size, 0);
    assert!(
        store
            .get(&key("outputs/empty.wav"))
            .await
            .unwrap()
            .is_empty()
    );
    let listing = storage::list_all(store, &prefix("outputs"), false)
        .await
        .unwrap();
    assert_eq!(listing.objects.len(), 1);
    assert_eq!(listing.objects[0].size, 0);
}

async fn keys_with_spaces_and_unicode_work(b: Backend) {
    let store = b.store.as_ref();
    let names = [
        "voices/Ünïcødé voice.wav",
        "voices/a+b=c&d.wav",
        "voices/100% (take 2).wav",
        "voices/日本語/声.wav",
    ];
    for name in names {
        store
            .put(&key(name), Bytes::from(name.as_bytes().to_vec()))
            .await
            .unwrap();
    }
    for name in names {
        assert_eq!(
            store.get(&key(name)).await.unwrap(),
            Bytes::from(name.as_bytes().to_vec()),
            "{name}"
        );
    }
    store
        .copy(&key(names[2]), &key("voices/copy of 100%.wav"))
        .await
        .unwrap();
    assert_eq!(
        store.get(&key("voices/copy of 100%.wav")).await.unwrap(),
        Bytes::from(names[2].as_bytes().to_vec())
    );
    let mut listed = stored_keys(store, "voices").await;
    listed.sort();
    assert_eq!(listed.len(), 5);
}

async fn folders_disappear_with_their_last_object(b: Backend) {
    let store = b.store.as_ref();
    store
        .put(&key("outputs/book/ch1/a.wav"), Bytes::from_static(b"x"))
        .await
        .unwrap();
    store
        .put(&key("outputs/keep.wav"), Bytes::from_static(b"x"))
        .await
        .unwrap();
    store.delete(&key("outputs/book/ch1/a.wav")).await.unwrap();
    let listing = storage::list_all(store, &prefix("outputs"), true)
        .await
        .unwrap();
    assert!(
        listing.common_prefixes.is_empty(),
        "{:?}",
        listing.common_prefixes
    );
    assert_eq!(listing.objects.len(), 1);
}

async fn concurrent_writes_never_tear(b: Backend) {
    let store = b.store.clone();
    let versions: Vec<Bytes> = (0..8u8).map(|i| Bytes::from(vec![i; 300_000])).collect();
    let mut tasks = Vec::new();
    for v in versions.clone() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.put(&key("outputs/race.wav"), v).await.unwrap()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let got = store.get(&key("outputs/race.wav")).await.unwrap();
    assert!(
        versions.contains(&got),
        "final object is not one of the written versions"
    );
}

async fn reclaiming_after_clean_writes_removes_nothing(b: Backend) {
    let store = b.store.as_ref();
    // Over the S3 backend's multipart threshold: a completed upload is not reclaimed.
    let big = Bytes::from(vec![3u8; 17 * 1024 * 1024]);
    store.put(&key("outputs/big.wav"), big).await.unwrap();
    store
        .put(&key("voices/a.wav"), Bytes::from_static(b"a"))
        .await
        .unwrap();
    let report = store
        .reclaim_incomplete_writes(std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(report, storage::ReclaimReport::default());
    assert_eq!(
        stored_keys(store, "").await,
        ["outputs/big.wav", "voices/a.wav"]
    );
}

/// S3 signs download links that work without credentials; the other backends have none
/// (the service serves their objects itself).
async fn presigned_downloads_where_the_backend_can_sign(b: Backend) {
    let store = b.store.as_ref();
    store
        .put(&key("outputs/p/a.wav"), Bytes::from_static(b"signed bytes"))
        .await
        .unwrap();
    let url = store
        .presigned_get(&key("outputs/p/a.wav"), std::time::Duration::from_secs(60))
        .await
        .unwrap();
    match (&b.s3, url) {
        (Some(_), Some(url)) => {
            let response = reqwest::get(&url).await.unwrap();
            assert_eq!(response.status(), 200, "{url}");
            assert_eq!(response.bytes().await.unwrap(), "signed bytes");
        }
        (None, None) => {}
        (s3, url) => panic!("s3: {}, url: {url:?}", s3.is_some()),
    }
}

async fn put_if_absent_creates_only_when_absent(b: Backend) {
    let store = b.store.as_ref();
    let k = key("voices/a.wav.json");
    let meta = store
        .put_if(&k, Bytes::from_static(b"first"), Precondition::Absent)
        .await
        .unwrap();
    assert_eq!((meta.key.as_str(), meta.size), ("voices/a.wav.json", 5));
    let err = store
        .put_if(&k, Bytes::from_static(b"second"), Precondition::Absent)
        .await
        .unwrap_err();
    assert!(err.is_precondition_failed(), "{err:?}");
    assert_eq!(store.get(&k).await.unwrap(), Bytes::from_static(b"first"));
    store.delete(&k).await.unwrap();
    store
        .put_if(&k, Bytes::from_static(b"third"), Precondition::Absent)
        .await
        .unwrap();
    assert_eq!(store.get(&k).await.unwrap(), Bytes::from_static(b"third"));
    assert_eq!(stored_keys(store, "voices").await, ["voices/a.wav.json"]);
}

async fn put_if_matches_only_the_current_version(b: Backend) {
    let store = b.store.as_ref();
    let k = key("voices/b.wav.json");
    assert!(store.get_versioned(&k).await.unwrap_err().is_not_found());
    store.put(&k, Bytes::from_static(b"v1")).await.unwrap();
    let (body, v1) = store.get_versioned(&k).await.unwrap();
    assert_eq!(body, Bytes::from_static(b"v1"));
    store
        .put_if(
            &k,
            Bytes::from_static(b"v2"),
            Precondition::Matches(v1.clone()),
        )
        .await
        .unwrap();
    let (body, v2) = store.get_versioned(&k).await.unwrap();
    assert_eq!(body, Bytes::from_static(b"v2"));
    assert_ne!(v1, v2, "a new content is a new version");
    let stale = store
        .put_if(&k, Bytes::from_static(b"v3"), Precondition::Matches(v1))
        .await
        .unwrap_err();
    assert!(stale.is_precondition_failed(), "{stale:?}");
    // Another writer's write makes the version read before it stale too.
    store.put(&k, Bytes::from_static(b"other")).await.unwrap();
    let lost = store
        .put_if(&k, Bytes::from_static(b"v3"), Precondition::Matches(v2))
        .await
        .unwrap_err();
    assert!(lost.is_precondition_failed(), "{lost:?}");
    assert_eq!(store.get(&k).await.unwrap(), Bytes::from_static(b"other"));
    // A deleted object has no current version to match.
    let (_, current) = store.get_versioned(&k).await.unwrap();
    store.delete(&k).await.unwrap();
    let gone = store
        .put_if(
            &k,
            Bytes::from_static(b"v4"),
            Precondition::Matches(current),
        )
        .await
        .unwrap_err();
    assert!(gone.is_precondition_failed(), "{gone:?}");
    assert!(store.get(&k).await.unwrap_err().is_not_found());
}

async fn concurrent_increments_lose_no_update(b: Backend) {
    let count =
        tests::count_concurrently(std::slice::from_ref(&b.store), "voices/v.wav.json", 8, 10).await;
    assert_eq!(count, 80);
}

for_each_backend!(
    presigned_downloads_where_the_backend_can_sign,
    put_if_absent_creates_only_when_absent,
    put_if_matches_only_the_current_version,
    concurrent_increments_lose_no_update,
    reclaiming_after_clean_writes_removes_nothing,
    put_then_get_returns_the_same_bytes,
    put_replaces_an_existing_object,
    missing_objects_are_not_found,
    deletes_are_idempotent,
    delete_many_removes_every_key_and_ignores_missing_ones,
    recursive_listing_is_sorted_and_stays_under_the_prefix,
    delimiter_listing_groups_folders,
    pages_follow_continuation_tokens,
    ranged_reads_return_exactly_the_range,
    copy_and_rename_move_content,
    large_objects_round_trip,
    zero_byte_objects_are_listed_with_size_zero,
    keys_with_spaces_and_unicode_work,
    folders_disappear_with_their_last_object,
    concurrent_writes_never_tear,
);

/// An S3 outage is reported as `Unavailable` (the handler answers 503), not as a missing object.
#[tokio::test]
async fn s3_outage_is_reported_as_unavailable() {
    let mut backend = Backend::s3().await;
    backend
        .store
        .put(&key("voices/a.wav"), Bytes::from_static(b"x"))
        .await
        .unwrap();
    backend.s3.as_mut().unwrap().kill();
    let err = backend.store.head(&key("voices/a.wav")).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
}

/// Wrong credentials are refused by the server (the test server checks SigV4).
#[tokio::test]
async fn s3_rejects_wrong_credentials() {
    let backend = Backend::s3().await;
    let mut settings = backend.s3_settings().unwrap();
    settings.secret_access_key = Some("wrong".into());
    let store = storage::S3Store::connect(tests::S3Server::BUCKET, &KeyPrefix::root(), &settings)
        .await
        .unwrap();
    let err = store
        .put(&key("voices/a.wav"), Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::S3 { .. }), "{err:?}");
}
