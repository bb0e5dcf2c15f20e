//! The files the host reads and writes: every read with a size cap (architecture.md, "Input
//! files"), so that a hostile or mistaken path (`/dev/zero`, a log file) ends with one line
//! naming the file and the cap rather than with the host's memory; every write to a
//! temporary file beside the target, renamed over it, so that a reader never sees half a
//! file. It knows nothing of what the files hold.

use anyhow::{Context as _, Result, bail};
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Configuration, arguments and limits: kilobytes each; 16 MiB leaves room for many mappers.
pub const CONFIG_BYTES: u64 = 16 << 20;
/// A cassette: 100,000 recorded interactions fit; beyond it is not a fixture.
pub const CASSETTE_BYTES: u64 = 256 << 20;
/// A component: this one is under 450 KB; 64 MiB fits any plausible build.
pub const COMPONENT_BYTES: u64 = 64 << 20;

/// The bytes of `path`, or an error when it holds more than `cap` bytes. `what` names the
/// file in messages ("config file").
pub fn read_capped(path: &Path, cap: u64, what: &str) -> Result<Vec<u8>> {
    let file =
        File::open(path).with_context(|| format!("cannot read {what} {}", path.display()))?;
    let expected = file.metadata().map_or(0, |m| m.len()).min(cap);
    let mut bytes = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    if bytes.len() as u64 > cap {
        bail!(
            "{what} {} is larger than the {} the host reads",
            path.display(),
            size_name(cap)
        );
    }
    Ok(bytes)
}

/// `read_capped` for a text file.
pub fn read_capped_text(path: &Path, cap: u64, what: &str) -> Result<String> {
    String::from_utf8(read_capped(path, cap, what)?)
        .map_err(|e| anyhow::anyhow!("{what} {} is not UTF-8 text ({e})", path.display()))
}

fn size_name(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// Write `bytes` to `path` through a temporary file in the same directory. With `replace`,
/// whatever is at `path` is replaced (a link itself, not what it points to); without it, the
/// write fails if anything appeared there meanwhile.
pub fn write_atomically(path: &Path, bytes: &[u8], replace: bool) -> Result<()> {
    let temporary = temporary_beside(path);
    let written = write_new(&temporary, bytes).and_then(|()| {
        if replace {
            std::fs::rename(&temporary, path)
        } else {
            put_new(&temporary, path)
        }
    });
    if let Err(error) = written {
        // Nothing is left behind; a temporary that was never created is no second error.
        std::fs::remove_file(&temporary).ok();
        return Err(error).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

/// A name for a temporary file beside `path`, unique in this process and among processes.
fn temporary_beside(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let unique = NEXT.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}-{unique}.tmp", std::process::id()))
}

fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Give `temporary` the name `path` only if nothing has it: a hard link fails when the name
/// is taken, where a rename would silently replace it.
fn put_new(temporary: &Path, path: &Path) -> std::io::Result<()> {
    match std::fs::hard_link(temporary, path) {
        Ok(()) => std::fs::remove_file(temporary),
        Err(error) if error.kind() == ErrorKind::AlreadyExists => Err(error),
        // A file system without hard links: the check and the rename are two steps there.
        Err(_) if std::fs::symlink_metadata(path).is_err() => std::fs::rename(temporary, path),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("iam-host-files-{}-{name}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn an_endless_file_is_cut_at_its_cap_with_one_line() {
        let err = read_capped(Path::new("/dev/zero"), 1 << 20, "config file").unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "config file /dev/zero is larger than the 1 MiB the host reads"
        );
        let dir = scratch("cap");
        let path = dir.join("f.json");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read_capped(&path, 5, "f").unwrap(), b"12345");
        assert!(read_capped(&path, 4, "f").is_err());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_missing_or_binary_file_names_the_file() {
        let err = read_capped(Path::new("/nonexistent/x.json"), 10, "args file").unwrap_err();
        assert!(format!("{err:#}").starts_with("cannot read args file /nonexistent/x.json: "));
        let dir = scratch("utf8");
        let path = dir.join("bin");
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        let err = read_capped_text(&path, 10, "cassette").unwrap_err();
        assert!(format!("{err:#}").contains("is not UTF-8 text"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn an_atomic_write_leaves_no_temporary_and_refuses_a_taken_name_unless_replacing() {
        let dir = scratch("atomic");
        let path = dir.join("out.json");
        write_atomically(&path, b"one", false).unwrap();
        assert!(write_atomically(&path, b"two", false).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        write_atomically(&path, b"three", true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"three");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("out.json")]);
        let err = write_atomically(&dir.join("gone/out.json"), b"x", true).unwrap_err();
        assert!(format!("{err:#}").contains("cannot write "), "{err:#}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
