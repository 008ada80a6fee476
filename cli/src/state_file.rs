//! The state file of `extwasm run --apply`: locked from the read to the
//! write, so that concurrent runs take turns, and replaced atomically, so
//! that a write that cannot complete leaves the old state whole.
//!
//! The lock is an advisory `flock` on the file. Replacing the file (a
//! rename) gives the path a new inode, so a run that waited for the lock may
//! hold it on the old, unlinked one: after locking, [`StateFile::lock`]
//! checks that the path still names the locked file, and locks again
//! otherwise.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use extwasm_engine::JsonState;

/// A state file, locked until dropped.
pub struct StateFile {
    /// The path as given, for messages.
    shown: PathBuf,
    /// The file the path names, symbolic links resolved: what the rename
    /// replaces (replacing a link would leave its target stale).
    target: PathBuf,
    /// The locked handle; the lock goes with it.
    file: File,
    /// The file's metadata when locked: its permissions and owner, which the
    /// new file gets.
    metadata: Metadata,
}

impl StateFile {
    /// Opens the state file at `path` and takes its lock, waiting for runs
    /// that hold it.
    pub fn lock(path: &Path) -> Result<StateFile, String> {
        let cannot = |what: &str, e: io::Error| format!("cannot {what} {}: {e}", path.display());
        loop {
            let target = fs::canonicalize(path).map_err(|e| cannot("read", e))?;
            // Writable, though only ever read: a state file its user may not
            // write is refused before anything runs, as an in-place write
            // would be (a rename would replace it regardless of its mode).
            let file = OpenOptions::new().read(true).write(true).open(&target).map_err(|e| cannot("open", e))?;
            file.lock().map_err(|e| cannot("lock", e))?;
            let metadata = file.metadata().map_err(|e| cannot("read", e))?;
            match fs::metadata(&target) {
                Ok(now) if same_file(&now, &metadata) => {
                    return Ok(StateFile { shown: path.to_owned(), target, file, metadata });
                }
                // Replaced (or removed) while we waited: lock what the path
                // names now.
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(cannot("read", e)),
            }
        }
    }

    /// The state, read from the locked handle.
    pub fn read(&self) -> Result<JsonState, extwasm_engine::Error> {
        Ok(JsonState::from_reader(&self.file, &self.shown)?)
    }

    /// Replaces the file with `text`: written to a temporary file next to it,
    /// flushed, given the old file's permissions, renamed over it, and the
    /// directory flushed. On error the temporary file is removed and the old
    /// file is left as it was.
    pub fn replace(&self, text: &str) -> Result<(), String> {
        let dir = match self.target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let failed = |e: io::Error| format!("cannot write {}: {e} (the file is unchanged)", self.shown.display());
        let (temp, mut file) = create_temp(dir, &self.target).map_err(failed)?;
        let written = (|| {
            file.write_all(text.as_bytes())?;
            copy_owner_and_mode(&file, &self.metadata)?;
            file.sync_all()?;
            fs::rename(&temp, &self.target)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(failed(e));
        }
        // The rename is durable once the directory is.
        sync_dir(dir).map_err(|e| {
            format!("wrote {} but cannot flush its directory {}: {e}", self.shown.display(), dir.display())
        })
    }
}

/// Creates `.<name>.extwasm-<pid>-<n>.tmp` in `dir`, a name no other file
/// has (`create_new`), readable by its owner only until it has its final
/// permissions.
fn create_temp(dir: &Path, target: &Path) -> io::Result<(PathBuf, File)> {
    // A prefix of the name: the whole of a long one, with ours around it,
    // could pass the file system's limit.
    let name: String = target.file_name().map_or("state".into(), |n| n.to_string_lossy().chars().take(64).collect());
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut n = 0;
    loop {
        let temp = dir.join(format!(".{name}.extwasm-{}-{n}.tmp", std::process::id()));
        match options.open(&temp) {
            Ok(file) => return Ok((temp, file)),
            // Left by an earlier run with our pid that was killed mid-write.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Gives the new file the old one's permissions and, where the user may
/// (root, or a group the user is in), its owner and group: an `--apply`
/// must not change who may read the state.
fn copy_owner_and_mode(file: &File, old: &Metadata) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, fchown};
        // Before the mode: changing the owner may clear set-id bits.
        if fchown(file, Some(old.uid()), Some(old.gid())).is_err() {
            let _ = fchown(file, None, Some(old.gid()));
        }
    }
    file.set_permissions(old.permissions())
}

#[cfg(unix)]
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

/// Elsewhere a file that is open cannot be renamed over, so the path still
/// names the locked file.
#[cfg(not(unix))]
fn same_file(_: &Metadata, _: &Metadata) -> bool {
    true
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir)?.sync_all() {
        // Some file systems cannot flush a directory; nothing more to do there.
        Err(e) if matches!(e.kind(), io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported) => Ok(()),
        other => other,
    }
}

#[cfg(not(unix))]
fn sync_dir(_: &Path) -> io::Result<()> {
    Ok(())
}
