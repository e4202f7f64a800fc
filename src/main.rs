//! The almarel binary: hands the command line and environment to the library
//! and turns its answer into the process exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    let env = almarel::env::Env::from_process();
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => {
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("error: cannot read the current directory: {e}\n").as_bytes(),
            );
            return ExitCode::from(1);
        }
    };
    ExitCode::from(almarel::main_with(args, env, &cwd))
}
