//! Finding the PostgreSQL server binaries (`initdb` and `postgres`) installed
//! on this machine, in the places packagers put them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A folder holding both `initdb` and `postgres`.
#[derive(Clone, Debug)]
pub struct ServerBinaries {
    pub dir: PathBuf,
}

impl ServerBinaries {
    pub fn initdb(&self) -> PathBuf {
        self.dir.join("initdb")
    }

    pub fn postgres(&self) -> PathBuf {
        self.dir.join("postgres")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotFound {
    #[error(transparent)]
    Nowhere(#[from] NowhereFound),
    /// Set on purpose, so never passed over in silence.
    #[error("PG_BINDIR is {0}, which holds no initdb and postgres: point it at the folder that does, or unset it")]
    BadBinDir(String),
}

#[derive(Debug, thiserror::Error)]
#[error(
    "no PostgreSQL server binaries (initdb, postgres) found; looked in: {searched}.\n\
     Three ways out:\n  \
     1. install PostgreSQL (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql), \
     or set PG_BINDIR to the folder holding initdb and postgres;\n  \
     2. set DATABASE_URL to a PostgreSQL server you already run;\n  \
     3. run `docker compose up`, which starts PostgreSQL and the gateway together."
)]
pub struct NowhereFound {
    searched: String,
}

/// `PG_BINDIR` when set (and nowhere else); otherwise `pg_config --bindir`, `PATH`, Debian's
/// `/usr/lib/postgresql/*/bin` and the PGDG `/usr/pgsql-*/bin` (newest
/// version first), then Homebrew's prefixes.
pub fn locate() -> Result<ServerBinaries, NotFound> {
    if let Some(dir) = std::env::var_os("PG_BINDIR").filter(|dir| !dir.is_empty()) {
        let dir = PathBuf::from(dir);
        return if is_server_bin_dir(&dir) {
            Ok(ServerBinaries { dir })
        } else {
            Err(NotFound::BadBinDir(dir.display().to_string()))
        };
    }
    let candidates = candidates();
    candidates
        .iter()
        .find(|dir| is_server_bin_dir(dir))
        .map(|dir| ServerBinaries { dir: dir.clone() })
        .ok_or_else(|| NowhereFound {
            searched: if candidates.is_empty() {
                "nowhere (no candidate folder exists)".to_owned()
            } else {
                candidates
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        })
        .map_err(NotFound::from)
}

fn candidates() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
        && output.status.success()
    {
        dirs.push(PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.extend(versioned("/usr/lib/postgresql", "", "bin"));
    dirs.extend(versioned("/usr", "pgsql-", "bin"));
    dirs.extend(versioned("/opt/homebrew/opt", "postgresql", "bin"));
    dirs.extend(versioned("/usr/local/opt", "postgresql", "bin"));
    dirs.extend(["/opt/homebrew/bin", "/usr/local/bin", "/usr/local/pgsql/bin"].map(PathBuf::from));
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|dir| dir.is_dir() && seen.insert(dir.clone()));
    dirs
}

/// `parent/<prefix><version>/<leaf>` folders, highest version first.
fn versioned(parent: &str, prefix: &str, leaf: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut found: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name.strip_prefix(prefix)?.trim_start_matches('@');
            let numbers: Vec<u32> = version.split('.').map(str::parse).collect::<Result<_, _>>().ok()?;
            Some((numbers, entry.path().join(leaf)))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, path)| path).collect()
}

fn is_server_bin_dir(dir: &Path) -> bool {
    is_executable(&dir.join("initdb")) && is_executable(&dir.join("postgres"))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_numerically_not_alphabetically() {
        let root = std::env::temp_dir().join(format!("ivr-pg-versions-{}", std::process::id()));
        for version in ["9.6", "15", "16", "notaversion"] {
            std::fs::create_dir_all(root.join(version).join("bin")).unwrap();
        }
        let found = versioned(root.to_str().unwrap(), "", "bin");
        let names: Vec<_> = found
            .iter()
            .map(|p| p.parent().unwrap().file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["16", "15", "9.6"]);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn the_message_lists_the_three_ways_out() {
        let message = NowhereFound {
            searched: "/nowhere".to_owned(),
        }
        .to_string();
        for way in ["install PostgreSQL", "DATABASE_URL", "docker compose up", "/nowhere"] {
            assert!(message.contains(way), "{message}");
        }
    }
}
