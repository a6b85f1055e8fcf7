//! Which system account runs the server. PostgreSQL refuses to run as root,
//! so as root the cluster belongs to, and runs as, the `postgres` account.

use std::ffi::CString;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    pub gid: u32,
}

/// `None`: run as ourselves. `Some`: switch to this account for every
/// PostgreSQL process, and give it the data folder.
pub fn server_account() -> anyhow::Result<Option<Account>> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    lookup("postgres").map(Some).ok_or_else(|| {
        anyhow::anyhow!(
            "running as root, and PostgreSQL refuses to run as root, but there is no 'postgres' \
             account to run it as: create one (installing PostgreSQL from a package does), run as \
             another user, or set DATABASE_URL"
        )
    })
}

fn lookup(name: &str) -> Option<Account> {
    let name = CString::new(name).ok()?;
    // SAFETY: `name` is a valid C string; getpwnam returns null or a pointer to
    // a static record that we copy from at once, before any other call.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        return None;
    }
    // SAFETY: non-null, per above.
    let entry = unsafe { &*entry };
    Some(Account {
        uid: entry.pw_uid,
        gid: entry.pw_gid,
    })
}

/// Hands `path` (not recursively) to `account`.
pub fn give(path: &Path, account: Option<Account>) -> std::io::Result<()> {
    match account {
        Some(account) => std::os::unix::fs::chown(path, Some(account.uid), Some(account.gid)),
        None => Ok(()),
    }
}
