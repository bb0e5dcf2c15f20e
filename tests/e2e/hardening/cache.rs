//! The compiled-component cache.

use super::*;

/// A copy of the component with a custom section of its own, so that it has a cache file
/// of its own (the cache is keyed by the component's hash) that this test may tamper with.
fn unique_component(dir: &Scratch) -> PathBuf {
    let mut wasm = std::fs::read(support::component()).expect("the component");
    let name = b"iam-hardening";
    let payload = format!("{}-{:?}", std::process::id(), Instant::now());
    let content_len = 1 + name.len() + payload.len();
    assert!(name.len() < 128 && content_len < 128);
    wasm.push(0); // custom section
    wasm.push(content_len as u8);
    wasm.push(name.len() as u8);
    wasm.extend_from_slice(name);
    wasm.extend_from_slice(payload.as_bytes());
    let path = dir.path("component.wasm");
    std::fs::write(&path, wasm).expect("write the component");
    path
}

/// The cache file of `component` (by the first 16 bytes of its BLAKE3 digest, as engine.rs
/// names it).
fn cache_file(component: &Path) -> PathBuf {
    let digest = blake3::hash(&std::fs::read(component).expect("read")).to_hex();
    let prefix = &digest[..32];
    let dir = artifact::default_cache_dir();
    std::fs::read_dir(&dir)
        .expect("the cache folder")
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with(prefix) && name.ends_with(".cwasm")
        })
        .unwrap_or_else(|| panic!("no cache file for {prefix} in {}", dir.display()))
}

#[test]
fn a_tampered_cache_file_is_compiled_afresh_and_a_full_stderr_is_no_panic() {
    let dir = Scratch::new("cache");
    let component = unique_component(&dir);
    let words = |stderr_words: &[&OsStr]| -> Vec<OsString> {
        let mut words: Vec<OsString> = vec![
            "run".into(),
            "iam-get-user".into(),
            "--config".into(),
            seed_case("config.json").into(),
            "--args".into(),
            seed_case("args.json").into(),
            "--cassette".into(),
            seed_case("cassette.json").into(),
            "--component".into(),
            component.clone().into(),
        ];
        words.extend(stderr_words.iter().map(OsString::from));
        words
    };
    let words = words(&[]);
    let words: Vec<&OsStr> = words.iter().map(OsString::as_os_str).collect();
    let first = iam_host(&words);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let cached = cache_file(&component);
    let written = std::fs::read(&cached).expect("the cache file");
    let tamper = || {
        let mut bytes = written.clone();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&cached, bytes).expect("tamper");
    };
    tamper();
    let second = iam_host(&words);
    assert_eq!(
        (second.code, &second.stdout),
        (0, &first.stdout),
        "{}",
        second.stderr
    );
    assert!(second.stderr.contains("recompiling"), "{}", second.stderr);
    assert_eq!(
        std::fs::read(&cached).expect("rewritten"),
        written,
        "the tampered file stayed"
    );
    // Its warning cannot be written: still the entry, no panic.
    tamper();
    let third = iam_host_with(&words, &[], Stderr::Full);
    assert_eq!((third.code, &third.stdout), (0, &first.stdout));
    let digest = cached.with_extension("cwasm.blake3");
    assert_eq!(
        std::fs::read_to_string(&digest).expect("the digest beside the cache file"),
        blake3::hash(&written).to_hex().as_str(),
        "the digest is not the written artifact's"
    );
    std::fs::remove_file(&cached).ok();
    std::fs::remove_file(&digest).ok();
}
