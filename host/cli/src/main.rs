use std::process::ExitCode;

fn main() -> ExitCode {
    vdr::run()
}
