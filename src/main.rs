//! `wharf`: the command at the end of the road, and the course's front door.

use clap::Parser;

fn main() {
    let cli = wharf::cli::Cli::parse();
    let result = wharf::cli::run(cli);
    wharf::cli::lesson::finish("wharf", result)
}
