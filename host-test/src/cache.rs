//! The compiled-component cache: a component is compiled once and kept as a precompiled
//! `.cwasm`, keyed by the component's hash and the engine's compatibility hash, beside a
//! digest of the artifact. Loading a `.cwasm` is `unsafe` (it is native code), so only a file
//! whose digest matches the one the host wrote is ever loaded; anything else is compiled
//! afresh.

use anyhow::{Context as _, Result};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::files;

/// A cached artifact is a few times the size of its component (1.1 MB for this 370 KB one);
/// past this, the file is not one the host wrote.
const ARTIFACT_BYTES: u64 = 1 << 30;
/// A digest file holds 64 hex digits.
const DIGEST_FILE_BYTES: u64 = 256;

/// The cache file of a component for this engine.
fn cache_path(engine: &Engine, wasm: &[u8], cache_dir: &Path) -> PathBuf {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let engine_hash = hasher.finish();
    let digest = digest_hex(wasm);
    cache_dir.join(format!("{}-{engine_hash:016x}.cwasm", &digest[..32]))
}

/// The file beside a cached artifact that holds the artifact's BLAKE3 digest (hex), written
/// by this host with the artifact.
///
/// BLAKE3 rather than SHA-256 (which #13 first named): both are cryptographic, but the load
/// path hashes the component (the cache key) and the 1 MB artifact on every start, and
/// SHA-256 alone took 1.06 ms of the 1 ms that architecture.md allows for the whole load
/// (BLAKE3: about 0.2 ms, BENCHMARKS.md).
fn digest_path(cached: &Path) -> PathBuf {
    cached.with_extension("cwasm.blake3")
}

fn digest_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// The cached artifact's bytes when they are the ones this host wrote (their BLAKE3 digest is
/// the one recorded beside them); otherwise why they are not.
fn verified_artifact(cached: &Path) -> std::result::Result<Vec<u8>, String> {
    let recorded = files::read_capped_text(&digest_path(cached), DIGEST_FILE_BYTES, "digest")
        .map_err(|e| format!("{e:#}"))?;
    let bytes = files::read_capped(cached, ARTIFACT_BYTES, "cached component")
        .map_err(|e| format!("{e:#}"))?;
    if digest_hex(&bytes) != recorded.trim() {
        return Err(format!(
            "{} does not match the digest recorded beside it",
            cached.display()
        ));
    }
    Ok(bytes)
}

/// Keep a compiled artifact and its digest in the cache directory, created private to this
/// user (0700): another user who could write there could make this host run their code.
fn store_artifact(cache_dir: &Path, cached: &Path, bytes: &[u8]) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(cache_dir)
        .with_context(|| format!("cannot create cache directory {}", cache_dir.display()))?;
    files::write_atomically(cached, bytes, true)?;
    files::write_atomically(&digest_path(cached), digest_hex(bytes).as_bytes(), true)
}

/// Compile once; afterwards load the precompiled artifact this host wrote, checked against
/// its recorded digest first, so that a damaged or replaced file is compiled afresh and never
/// executed. What went wrong on the way (a damaged artifact, a cache that cannot be written)
/// is pushed onto `warnings`: it costs a compile, never the command.
pub fn load_cached(
    engine: &Engine,
    wasm_path: &Path,
    cache_dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<Component> {
    let wasm = files::read_capped(wasm_path, files::COMPONENT_BYTES, "component")?;
    let cached = cache_path(engine, &wasm, cache_dir);
    if cached.exists() {
        match verified_artifact(&cached) {
            // SAFETY: these bytes are those this host wrote with `precompile_component` for
            // the same component bytes and an engine with the same compatibility hash (both in
            // the file's name), as their digest shows; they were read into memory before the
            // check, so the file changing afterwards cannot change what is loaded.
            Ok(bytes) => match unsafe { Component::deserialize(engine, &bytes) } {
                Ok(component) => return Ok(component),
                // The artifact is sound; the component does not fit this engine's pool, and a
                // fresh compile would not fit either.
                Err(e) if format!("{e:#}").contains(crate::engine::POOL_MISFIT) => {
                    anyhow::bail!("{e:#}")
                }
                Err(e) => warnings.push(format!(
                    "recompiling; cached {} unusable: {e}",
                    cached.display()
                )),
            },
            Err(why) => warnings.push(format!("recompiling; {why}")),
        }
    }
    let bytes = engine
        .precompile_component(&wasm)
        .map_err(|e| anyhow::anyhow!("{} is not a valid component: {e}", wasm_path.display()))?;
    // A cache that cannot be written costs the next run a compile, not this one its command.
    if let Err(e) = store_artifact(cache_dir, &cached, &bytes) {
        warnings.push(format!(
            "warning: the compiled component is not cached: {e:#}"
        ));
    }
    // SAFETY: these bytes were just produced by `precompile_component` on this engine.
    unsafe { Component::deserialize(engine, &bytes) }
        .map_err(|e| anyhow::anyhow!("cannot load the compiled component: {e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("iam-host-engine-{}-{name}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn imports(engine: &Engine, component: &Component) -> usize {
        component.component_type().imports(engine).count()
    }

    #[test]
    fn a_cached_artifact_that_is_not_the_one_written_is_compiled_afresh_never_loaded() {
        // Regression: the cache file was executed as found. Here another component's valid
        // artifact is put in its place, which deserialises without complaint.
        let dir = scratch("tamper");
        let cache = dir.join("cache/nested");
        let engine = Engine::default();
        let plain = dir.join("plain.wat");
        let importing = dir.join("importing.wat");
        std::fs::write(&plain, "(component)").unwrap();
        std::fs::write(&importing, r#"(component (import "x" (func)))"#).unwrap();
        assert_eq!(
            imports(
                &engine,
                &load_cached(&engine, &plain, &cache, &mut Vec::new()).unwrap()
            ),
            0
        );
        assert_eq!(
            imports(
                &engine,
                &load_cached(&engine, &importing, &cache, &mut Vec::new()).unwrap()
            ),
            1
        );
        let plain_artifact = cache_path(&engine, &std::fs::read(&plain).unwrap(), &cache);
        let importing_artifact = cache_path(&engine, &std::fs::read(&importing).unwrap(), &cache);
        let written = std::fs::read(&plain_artifact).unwrap();
        assert_eq!(
            std::fs::read_to_string(digest_path(&plain_artifact)).unwrap(),
            digest_hex(&written)
        );
        std::fs::copy(&importing_artifact, &plain_artifact).unwrap();
        assert_eq!(
            imports(
                &engine,
                &load_cached(&engine, &plain, &cache, &mut Vec::new()).unwrap()
            ),
            0
        );
        // Compiled afresh and written back, with its digest.
        assert_eq!(std::fs::read(&plain_artifact).unwrap(), written);
        // A missing digest is no proof either.
        std::fs::remove_file(digest_path(&plain_artifact)).unwrap();
        std::fs::copy(&importing_artifact, &plain_artifact).unwrap();
        assert_eq!(
            imports(
                &engine,
                &load_cached(&engine, &plain, &cache, &mut Vec::new()).unwrap()
            ),
            0
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_cache_folder_is_created_private() {
        let dir = scratch("mode");
        let cache = dir.join("a/b");
        let wasm = dir.join("c.wat");
        std::fs::write(&wasm, "(component)").unwrap();
        load_cached(&Engine::default(), &wasm, &cache, &mut Vec::new()).unwrap();
        for created in [dir.join("a"), cache] {
            let mode = std::fs::metadata(&created).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", created.display());
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
