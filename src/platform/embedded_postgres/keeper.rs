//! Spawning the server so that it cannot outlive the gateway.
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits,
//! not the process: spawned from a Tokio worker or a test thread, the server
//! would be shut down at random. One thread that lives as long as the process
//! does every spawn.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Mutex, OnceLock};

type Request = (Command, Sender<io::Result<Child>>);

pub fn spawn(mut command: Command) -> io::Result<Child> {
    static KEEPER: OnceLock<Mutex<Sender<Request>>> = OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (requests, inbox) = channel::<Request>();
        std::thread::Builder::new()
            .name("postgres-keeper".to_owned())
            .spawn(move || {
                for (mut command, reply) in inbox {
                    let _ = reply.send(command.spawn());
                }
                // The sender lives in a static, so this loop never ends.
            })
            .expect("cannot start the postgres keeper thread");
        Mutex::new(requests)
    });
    // SAFETY: prctl is async-signal-safe and touches only the child's own state.
    unsafe {
        command.pre_exec(|| {
            // SIGINT is PostgreSQL's fast shutdown.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (reply, answer) = channel();
    keeper
        .lock()
        .expect("keeper lock")
        .send((command, reply))
        .map_err(|_| io::Error::other("keeper gone"))?;
    answer.recv().map_err(|_| io::Error::other("keeper gone"))?
}
