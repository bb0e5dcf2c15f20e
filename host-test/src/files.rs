//! The files the host reads and writes: every input file (config, args, limits, tenants,
//! cassettes, components, job lines) opened here, without blocking and only when it is a
//! regular file, and read with a size cap (architecture.md, "Input files"), so that a hostile
//! or mistaken path (`/dev/zero`, a FIFO, a directory, a log file) ends at once with one line
//! naming the file rather than with a hung host or its memory; every write to a temporary
//! file beside the target, renamed over it, so that a reader never sees half a file. It knows
//! nothing of what the files hold.

use anyhow::{Context as _, Result, bail};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Configuration, arguments, limits and tenants: kilobytes each (a tenants file is many
/// configs); 16 MiB leaves room for many mappers.
pub const CONFIG_BYTES: u64 = 16 << 20;
/// A cassette: 100,000 recorded interactions fit; beyond it is not a fixture.
pub const CASSETTE_BYTES: u64 = 256 << 20;
/// A component: this one is under 450 KB; 64 MiB fits any plausible build.
pub const COMPONENT_BYTES: u64 = 64 << 20;

/// `O_NONBLOCK`, so that opening a FIFO returns at once instead of waiting for a writer.
#[cfg(unix)]
const NONBLOCKING: i32 = libc::O_NONBLOCK;

/// Open the input file at `path` for reading. Anything but a regular file (a FIFO, a device
/// such as `/dev/zero`, a directory, a socket) is refused with one line naming the file and
/// what it is: the path is checked before it is opened (so a device is never opened), and
/// what was opened is checked again (a path can change in between). The open itself never
/// waits on a FIFO. `what` names the file in messages ("config file").
pub fn open(path: &Path, what: &str) -> Result<File> {
    open_with(path, what, OpenOptions::new().read(true), Links::Follow)
}

/// A results file for reading and appending, created when missing: refused, like an input,
/// unless it is a regular file (a FIFO would hold the run up), and never through a symbolic
/// link (`O_NOFOLLOW`): cutting a torn last line must change only the file named.
pub fn open_output(path: &Path) -> Result<File> {
    open_with(
        path,
        "the output file",
        OpenOptions::new().read(true).append(true).create(true),
        Links::Refuse,
    )
}

/// Whether a symbolic link at the path is followed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Links {
    Follow,
    Refuse,
}

/// Whether two paths name one file (the same device and inode: a hard link or a symbolic
/// link to it counts); false when either cannot be read.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn open_with(path: &Path, what: &str, options: &mut OpenOptions, links: Links) -> Result<File> {
    let cannot = || format!("cannot read {what} {}", path.display());
    let looked = match links {
        Links::Follow => std::fs::metadata(path),
        Links::Refuse => std::fs::symlink_metadata(path),
    };
    match looked {
        Ok(before) => refuse_unless_regular(&before, path, what)?,
        // An output may not exist yet; an input that does not exist fails at the open.
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).with_context(cannot),
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        options,
        match links {
            Links::Follow => NONBLOCKING,
            Links::Refuse => NONBLOCKING | libc::O_NOFOLLOW,
        },
    );
    let file = options.open(path).with_context(cannot)?;
    let opened = file.metadata().with_context(cannot)?;
    refuse_unless_regular(&opened, path, what)?;
    Ok(file)
}

fn refuse_unless_regular(metadata: &std::fs::Metadata, path: &Path, what: &str) -> Result<()> {
    if metadata.is_file() {
        return Ok(());
    }
    bail!(
        "cannot read {what} {}: it is {}, not a regular file",
        path.display(),
        kind_of(&metadata.file_type())
    )
}

/// What a file that is not a regular file is, for a message.
fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        return "a directory";
    }
    if file_type.is_symlink() {
        return "a symbolic link";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    "a special file"
}

/// The bytes of the regular file `path` (as [`open`] opens it), or an error when it holds
/// more than `cap` bytes: at most `cap + 1` bytes are ever read. `what` names the file in
/// messages ("config file").
pub fn read_capped(path: &Path, cap: u64, what: &str) -> Result<Vec<u8>> {
    let file = open(path, what)?;
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

/// What [`read_line_capped`] read of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRead {
    /// The bytes the line had, its `\n` included: 0 at the end of the input; more than were
    /// kept when the line was longer than the cap.
    pub length: u64,
    /// Whether every byte dropped past the cap was ASCII whitespace (true when none was).
    pub dropped_blank: bool,
}

/// Read one line of `reader` (through its `\n`, or to the end of the input) into `line`,
/// keeping at most `cap` bytes of it: the rest of a longer line is read and dropped as it
/// comes, never buffered, so a line of any length (or an input without a newline) costs at
/// most `cap` bytes of memory.
pub fn read_line_capped(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    cap: usize,
) -> io::Result<LineRead> {
    line.clear();
    let mut read = LineRead {
        length: 0,
        dropped_blank: true,
    };
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if chunk.is_empty() {
            return Ok(read);
        }
        let (piece, ends) = match chunk.iter().position(|&byte| byte == b'\n') {
            Some(at) => (&chunk[..=at], true),
            None => (chunk, false),
        };
        let kept = cap.saturating_sub(line.len()).min(piece.len());
        line.extend_from_slice(&piece[..kept]);
        if read.dropped_blank {
            read.dropped_blank = piece[kept..].iter().all(u8::is_ascii_whitespace);
        }
        let used = piece.len();
        read.length += used as u64;
        reader.consume(used);
        if ends {
            return Ok(read);
        }
    }
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
    fn a_file_past_its_cap_is_refused_with_one_line() {
        let dir = scratch("cap");
        let path = dir.join("f.json");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read_capped(&path, 5, "f").unwrap(), b"12345");
        assert!(read_capped(&path, 4, "f").is_err());
        // A sparse file: large on paper, and never read past its cap.
        let large = dir.join("large.json");
        File::create(&large).unwrap().set_len(1 << 40).unwrap();
        let err = read_capped(&large, 1 << 20, "config file").unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            format!(
                "config file {} is larger than the 1 MiB the host reads",
                large.display()
            )
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn anything_but_a_regular_file_is_refused_without_reading_or_waiting() {
        let err = read_capped(Path::new("/dev/zero"), 1 << 20, "config file").unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "cannot read config file /dev/zero: it is a character device, not a regular file"
        );
        let dir = scratch("special");
        let err = read_capped(&dir, 10, "limits file").unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            format!(
                "cannot read limits file {}: it is a directory, not a regular file",
                dir.display()
            )
        );
        #[cfg(unix)]
        {
            // A FIFO nobody writes to: a plain open would wait for a writer forever.
            let fifo = dir.join("fifo");
            let made = std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap();
            assert!(made.success());
            let err = read_capped(&fifo, 10, "tenants file").unwrap_err();
            assert_eq!(
                format!("{err:#}"),
                format!(
                    "cannot read tenants file {}: it is a FIFO, not a regular file",
                    fifo.display()
                )
            );
            // A socket.
            let socket = dir.join("socket");
            let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
            let err = open(&socket, "cassette").unwrap_err();
            assert!(
                format!("{err:#}").ends_with(": it is a socket, not a regular file"),
                "{err:#}"
            );
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    fn lines_capped(input: &[u8], cap: usize) -> Vec<(Vec<u8>, LineRead)> {
        let mut reader = io::BufReader::with_capacity(4, input);
        let mut lines = Vec::new();
        let mut line = Vec::new();
        loop {
            let read = read_line_capped(&mut reader, &mut line, cap).unwrap();
            if read.length == 0 {
                return lines;
            }
            lines.push((line.clone(), read));
        }
    }

    #[test]
    fn a_line_past_its_cap_is_read_through_and_dropped_not_kept() {
        let read = |length, dropped_blank| LineRead {
            length,
            dropped_blank,
        };
        assert_eq!(
            lines_capped(b"ab\nabcdefgh\nabcde  \t\n\nlast", 5),
            vec![
                (b"ab\n".to_vec(), read(3, true)),
                (b"abcde".to_vec(), read(9, false)),
                (b"abcde".to_vec(), read(9, true)),
                (b"\n".to_vec(), read(1, true)),
                (b"last".to_vec(), read(4, true)),
            ]
        );
        assert_eq!(lines_capped(b"", 5), vec![]);
        // An input that never ends a line keeps only the cap, however long it is.
        let endless = io::repeat(b'x').take(10 << 20);
        let mut reader = io::BufReader::new(endless);
        let mut line = Vec::new();
        let read = read_line_capped(&mut reader, &mut line, 1000).unwrap();
        assert_eq!((line.len(), read.length), (1000, 10 << 20));
        assert!(line.capacity() < 1 << 20, "{}", line.capacity());
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
